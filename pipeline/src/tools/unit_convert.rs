//! The `unit_convert` kind: "convert 5 km to miles", "100 °F in celsius", "2 GiB in MB".
//!
//! The value and units come from the plan step (`Operation::Convert`, whose value expression
//! may refer to the previous step) or else from the text, read as `<number> <unit> to|in|into
//! <unit>` or `how many <unit> in <number> <unit>`. Units are looked up in [`super::units`];
//! the result is rounded to the spec's scale, trailing zeros trimmed, and carries the target
//! unit's canonical name ("mile").

use std::sync::LazyLock;

use regex::Regex;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::calculator::check_scale;
use super::number::{NUMBER, parse_number, present};
use super::units::{self, Quantity, Unit};
use super::{Tool, ToolContext, ToolError, ToolOutput, ToolSpecError};
use crate::calc::{self, CalcOptions, Rounding};
use crate::decompose::Operation;

/// `kind: unit_convert`.
///
/// ```yaml
/// tool:
///   kind: unit_convert
///   quantities: [length, mass, temperature]   # optional; all when absent
///   scale: 6                                  # decimal places of results
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnitConvertSpec {
    /// The quantities this tool converts (length, mass, volume, temperature, duration,
    /// data_size, speed); all of them when absent.
    pub quantities: Option<Vec<Quantity>>,
    /// Most decimal places in a result (default 6); trailing zeros are trimmed.
    pub scale: u32,
    /// How results are rounded to `scale`.
    pub rounding: Rounding,
}

impl Default for UnitConvertSpec {
    fn default() -> Self {
        UnitConvertSpec {
            quantities: None,
            scale: 6,
            rounding: Rounding::HalfEven,
        }
    }
}

/// A compiled `unit_convert` tool.
#[derive(Debug, Clone)]
pub struct UnitConverter {
    quantities: Option<Vec<Quantity>>,
    scale: u32,
    rounding: Rounding,
}

/// "<number> <unit> to|in|into|as <unit>", anywhere in the text.
static FORWARD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(?P<num>{NUMBER})\s*(?P<from>[^\d\s][^\d]*?)\s+(?:to|in|into|as)\s+(?P<to>[^\d]+?)(?:\s+please)?[\s.?!]*$"
    ))
    .expect("valid regex")
});

/// "how many <unit> are in <number> <unit>".
static HOW_MANY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)how\s+many\s+(?P<to>[^\d]+?)\s+(?:(?:are|is)\s+)?(?:there\s+)?(?:in\s+)?(?P<num>{NUMBER})\s*(?P<from>[^\d\s][^\d]*?)[\s.?!]*$"
    ))
    .expect("valid regex")
});

/// "<number> <unit>" with nothing to convert to.
static SOURCE_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(?P<num>{NUMBER})\s*(?P<from>[^\d\s][^\d]*?)[\s.?!]*$"
    ))
    .expect("valid regex")
});

/// A conversion as read from a step or the text.
struct Request<'t> {
    value: Decimal,
    from: &'t str,
    to: &'t str,
}

impl UnitConverter {
    pub fn new(spec: &UnitConvertSpec) -> Result<Self, ToolSpecError> {
        check_scale("unit_convert", spec.scale)?;
        if spec.quantities.as_ref().is_some_and(Vec::is_empty) {
            return Err(ToolSpecError::new(
                "unit_convert",
                "quantities",
                "is empty: list at least one quantity, or leave it out for all",
            ));
        }
        Ok(UnitConverter {
            quantities: spec.quantities.clone(),
            scale: spec.scale,
            rounding: spec.rounding,
        })
    }

    /// The unit a word names, if this tool converts its quantity.
    fn unit(&self, written: &str) -> Result<&'static Unit, ToolError> {
        let unit = units::find(written).ok_or_else(|| ToolError::UnknownUnit {
            unit: written.trim().to_string(),
        })?;
        match &self.quantities {
            Some(allowed) if !allowed.contains(&unit.quantity) => {
                Err(ToolError::QuantityNotAllowed {
                    unit: written.trim().to_string(),
                    quantity: unit.quantity.name(),
                })
            }
            _ => Ok(unit),
        }
    }

    /// Converts `value` from one written unit to another.
    pub fn convert(&self, value: Decimal, from: &str, to: &str) -> Result<ToolOutput, ToolError> {
        let source = self.unit(from)?;
        let target = self.unit(to)?;
        if source.quantity != target.quantity {
            return Err(ToolError::IncompatibleUnits {
                from: from.trim().to_string(),
                from_quantity: source.quantity.name(),
                to: to.trim().to_string(),
                to_quantity: target.quantity.name(),
            });
        }
        let result = present(source.convert(value, target)?, self.scale, self.rounding);
        Ok(ToolOutput {
            value: Some(result),
            unit: Some(target.name.to_string()),
            answer: format!("{value} {} = {result} {}", from.trim(), target.name),
            data: None,
        })
    }
}

impl Tool for UnitConverter {
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        if let Some(Operation::Convert {
            value,
            from_unit,
            to_unit,
        }) = ctx.step.map(|step| &step.operation)
        {
            let exact = CalcOptions {
                scale: Decimal::MAX_SCALE,
                rounding: self.rounding,
            };
            let value = calc::eval(value, &exact, &|_| ctx.input)?;
            let from = from_unit
                .as_deref()
                .or(ctx.input_unit)
                .ok_or(ToolError::MissingSourceUnit)?;
            return self.convert(value, from, to_unit);
        }
        let request = read(ctx.text)?;
        self.convert(request.value, request.from, request.to)
    }
}

/// Reads "<number> <unit> to <unit>" or "how many <unit> in <number> <unit>" from text.
fn read(text: &str) -> Result<Request<'_>, ToolError> {
    if text.trim().is_empty() {
        return Err(ToolError::Empty);
    }
    let captures = HOW_MANY.captures(text).or_else(|| FORWARD.captures(text));
    if let Some(found) = captures {
        return Ok(Request {
            value: parse_number(&found["num"])?,
            from: found.name("from").map_or("", |m| m.as_str()),
            to: found.name("to").map_or("", |m| m.as_str()),
        });
    }
    match SOURCE_ONLY.captures(text) {
        Some(found) => {
            // A known unit with nothing after it lacks its target; anything else is unknown.
            let from = &found["from"];
            match units::find(from) {
                Some(_) => Err(ToolError::MissingTarget {
                    what: "unit",
                    example: "convert 5 km to miles",
                }),
                None => Err(ToolError::UnknownUnit {
                    unit: from.trim().to_string(),
                }),
            }
        }
        None => Err(ToolError::NotUnderstood {
            tool: "unit_convert",
            expected: "\"<number> <unit> to <unit>\", e.g. \"convert 5 km to miles\"",
        }),
    }
}

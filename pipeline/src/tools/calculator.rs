//! The `calculator` kind: an adapter over the exact decimal calculator ([`crate::calc`]).
//!
//! A plan's arithmetic step is evaluated with its references bound to the previous step's
//! value; without a step, the request text is parsed as an expression ("what is 15% of 200").

use serde::{Deserialize, Serialize};

use super::{Tool, ToolContext, ToolError, ToolOutput, ToolSpecError};
use crate::calc::{self, CalcOptions, Rounding};
use crate::decompose::Operation;

/// `kind: calculator`; both parameters default to the calculator's own defaults.
///
/// ```yaml
/// tool:
///   kind: calculator
///   scale: 4
///   rounding: half_up
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalculatorSpec {
    /// Most decimal places in a result (0 to 28).
    pub scale: u32,
    /// How results are rounded to `scale`.
    pub rounding: Rounding,
}

impl Default for CalculatorSpec {
    fn default() -> Self {
        let calc = CalcOptions::default();
        CalculatorSpec {
            scale: calc.scale,
            rounding: calc.rounding,
        }
    }
}

/// A compiled `calculator` tool.
#[derive(Debug, Clone)]
pub struct Calculator {
    options: CalcOptions,
}

impl Calculator {
    pub fn new(spec: &CalculatorSpec) -> Result<Self, ToolSpecError> {
        check_scale("calculator", spec.scale)?;
        Ok(Calculator {
            options: CalcOptions {
                scale: spec.scale,
                rounding: spec.rounding,
            },
        })
    }
}

/// Decimal places are 0 to 28: the most a `Decimal` holds.
pub(crate) fn check_scale(tool: &'static str, scale: u32) -> Result<(), ToolSpecError> {
    if scale > rust_decimal::Decimal::MAX_SCALE {
        return Err(ToolSpecError::new(
            tool,
            "scale",
            format!(
                "must be from 0 to {} decimal places, not {scale}",
                rust_decimal::Decimal::MAX_SCALE
            ),
        ));
    }
    Ok(())
}

impl Tool for Calculator {
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let parsed;
        let expr = match ctx.step.map(|step| &step.operation) {
            Some(Operation::Calculate(expr)) => expr,
            _ => {
                parsed = calc::parse(ctx.text)?;
                &parsed
            }
        };
        let value = calc::eval(expr, &self.options, &|_| ctx.input)?;
        Ok(ToolOutput {
            value: Some(value),
            unit: None,
            answer: value.to_string(),
            data: None,
        })
    }
}

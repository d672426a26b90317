//! Numbers as tools read them from text and present them in answers.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::ToolError;
use crate::calc::Rounding;

/// A number as written in a request: `5`, `-2.5`, `1,250.75`, `1e6`.
pub(crate) const NUMBER: &str = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?";

/// Reads a number matched by [`NUMBER`] exactly; out-of-range numbers are errors.
pub(crate) fn parse_number(text: &str) -> Result<Decimal, ToolError> {
    let plain: String = text.chars().filter(|c| *c != ',' && *c != '+').collect();
    let parsed = if plain.contains(['e', 'E']) {
        Decimal::from_scientific(&plain)
    } else {
        Decimal::from_str_exact(&plain)
    };
    parsed.map_err(|_| ToolError::InvalidNumber {
        text: text.to_string(),
    })
}

/// `value` rounded to `scale` decimal places, without trailing zeros (`3.106856`, `5`).
pub(crate) fn present(value: Decimal, scale: u32, rounding: Rounding) -> Decimal {
    let rounded = value
        .round_dp_with_strategy(scale, rounding.strategy())
        .normalize();
    if rounded.is_zero() {
        Decimal::ZERO
    } else {
        rounded
    }
}

/// Checked arithmetic that names the operation when it overflows.
pub(crate) fn checked(
    result: Option<Decimal>,
    operation: &'static str,
) -> Result<Decimal, ToolError> {
    result.ok_or(ToolError::Overflow { operation })
}

/// Deserializes a map whose keys and values are text or plain numbers into text, so that a
/// definition may write `EUR: 0.92` as well as `EUR: "0.92"` (a YAML float keeps its
/// shortest decimal form, which is the one written).
pub(crate) fn scalar_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<Scalar, Scalar>::deserialize(deserializer)?;
    Ok(map
        .into_iter()
        .map(|(key, value)| (key.0, value.0))
        .collect())
}

/// A string, number or boolean, as text.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

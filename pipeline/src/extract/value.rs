//! Typed entity values and their Duckling-compatible JSON shapes.
//!
//! The extractor builds [`EntityValue`]s; serialization is hand-written so that every
//! dimension prints exactly the value object Duckling prints for it (plus the documented
//! differences listed in the parent module), and numbers print as JSON integers when integral.

use chrono::{DateTime, FixedOffset};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// How precise a time value or a duration unit is, with Duckling's grain names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Second => "second",
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    /// Length in seconds, as Duckling normalizes durations (a month is 30 days, a year 365).
    pub fn seconds(self) -> f64 {
        match self {
            Grain::Second => 1.0,
            Grain::Minute => 60.0,
            Grain::Hour => 3_600.0,
            Grain::Day => 86_400.0,
            Grain::Week => 604_800.0,
            Grain::Month => 2_592_000.0,
            Grain::Quarter => 7_776_000.0,
            Grain::Year => 31_536_000.0,
        }
    }

    /// The next finer grain, used for "in <duration>" (Duckling resolves "in 2 hours" to the
    /// minute).
    pub fn finer(self) -> Grain {
        match self {
            Grain::Second | Grain::Minute => Grain::Second,
            Grain::Hour => Grain::Minute,
            Grain::Day => Grain::Hour,
            Grain::Week | Grain::Month => Grain::Day,
            Grain::Quarter | Grain::Year => Grain::Month,
        }
    }
}

/// One resolved point in time with its grain.
#[derive(Debug, Clone, PartialEq)]
pub struct TimePoint {
    pub value: DateTime<FixedOffset>,
    pub grain: Grain,
}

/// The value of an entity; one variant per value shape.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityValue {
    /// `number` and `ordinal`: `{"type":"value","value":42}`.
    Numeric { value: f64 },
    /// Every `<number> <unit>` dimension: money (ISO code, or "cent"), distance, volume,
    /// temperature, quantity (with an optional product), percentage ("%") and data-size.
    Measure {
        value: f64,
        unit: &'static str,
        product: Option<String>,
    },
    /// `duration`: the amount in `unit`, plus the normalized number of seconds.
    Duration { value: f64, unit: Grain },
    /// A `time` instant.
    Instant(TimePoint),
    /// A `time` interval; either end may be open.
    Interval {
        from: Option<TimePoint>,
        to: Option<TimePoint>,
    },
    /// `email` and `phone-number`.
    Text { value: String },
    /// `url`, with its host (without a leading "www.").
    Url { value: String, domain: String },
}

/// A number that serializes as a JSON integer when integral, otherwise as a float.
pub(crate) struct JsonNumber(pub f64);

impl Serialize for JsonNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

/// Duckling's RFC 3339 rendering: milliseconds and a `+hh:mm` offset.
pub(crate) fn format_time(t: &DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// `{"value": "...", "grain": "..."}` as used inside intervals.
struct PointJson<'a>(&'a TimePoint);

impl Serialize for PointJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("value", &format_time(&self.0.value))?;
        m.serialize_entry("grain", self.0.grain.as_str())?;
        m.end()
    }
}

/// One element of Duckling's `values` list (we always resolve to a single candidate).
struct ValuesEntry<'a>(&'a EntityValue);

impl Serialize for ValuesEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.0 {
            EntityValue::Instant(p) => {
                m.serialize_entry("type", "value")?;
                m.serialize_entry("value", &format_time(&p.value))?;
                m.serialize_entry("grain", p.grain.as_str())?;
            }
            EntityValue::Interval { from, to } => write_interval(&mut m, from, to)?,
            _ => {}
        }
        m.end()
    }
}

fn write_interval<M: SerializeMap>(
    m: &mut M,
    from: &Option<TimePoint>,
    to: &Option<TimePoint>,
) -> Result<(), M::Error> {
    m.serialize_entry("type", "interval")?;
    if let Some(from) = from {
        m.serialize_entry("from", &PointJson(from))?;
    }
    if let Some(to) = to {
        m.serialize_entry("to", &PointJson(to))?;
    }
    Ok(())
}

impl Serialize for EntityValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            EntityValue::Numeric { value } => {
                m.serialize_entry("type", "value")?;
                m.serialize_entry("value", &JsonNumber(*value))?;
            }
            EntityValue::Measure {
                value,
                unit,
                product,
            } => {
                m.serialize_entry("type", "value")?;
                m.serialize_entry("value", &JsonNumber(*value))?;
                m.serialize_entry("unit", unit)?;
                if let Some(product) = product {
                    m.serialize_entry("product", product)?;
                }
            }
            EntityValue::Duration { value, unit } => {
                m.serialize_entry("type", "value")?;
                m.serialize_entry("value", &JsonNumber(*value))?;
                m.serialize_entry(unit.as_str(), &JsonNumber(*value))?;
                m.serialize_entry("unit", unit.as_str())?;
                m.serialize_entry("normalized", &Normalized(value * unit.seconds()))?;
            }
            EntityValue::Instant(p) => {
                m.serialize_entry("type", "value")?;
                m.serialize_entry("value", &format_time(&p.value))?;
                m.serialize_entry("grain", p.grain.as_str())?;
                m.serialize_entry("values", &[ValuesEntry(self)])?;
            }
            EntityValue::Interval { from, to } => {
                write_interval(&mut m, from, to)?;
                m.serialize_entry("values", &[ValuesEntry(self)])?;
            }
            EntityValue::Text { value } => {
                m.serialize_entry("type", "value")?;
                m.serialize_entry("value", value)?;
            }
            EntityValue::Url { value, domain } => {
                m.serialize_entry("type", "value")?;
                m.serialize_entry("value", value)?;
                m.serialize_entry("domain", domain)?;
            }
        }
        m.end()
    }
}

/// `{"unit":"second","value":7200}`.
struct Normalized(f64);

impl Serialize for Normalized {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("unit", "second")?;
        m.serialize_entry("value", &JsonNumber(self.0))?;
        m.end()
    }
}

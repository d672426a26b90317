//! Entity extraction: English entities with Facebook Duckling's dimension names and JSON value
//! shapes, in microseconds, with no IO.
//!
//! [`extract`] tokenizes the text once ([`lexer`]), finds numerals and ordinals ([`numeral`]),
//! builds the unit-bearing entities on them ([`measure`]), times ([`time`]) and emails, URLs
//! and phone numbers ([`contact`]); then it keeps, for each stretch of text, the longest
//! candidate ("5 km" is a distance, not also a number), as Duckling does. Values are
//! [`EntityValue`]s that serialize to Duckling's value objects ([`value`]); [`eval`] scores
//! extractions against a labelled set.
//!
//! Where we differ from Duckling, on purpose:
//! - money in "$" is reported as "USD" (Duckling says "$"); "£" is "GBP", "€" "EUR";
//! - `percentage` (`{"type":"value","value":15,"unit":"%"}`, the value in percent) and
//!   `data-size` (`{"type":"value","value":500,"unit":"megabyte"}`) are our own dimensions;
//! - an interval's `to` is the end as written ("from 9am to 5pm" ends at 17:00; Duckling
//!   reports 18:00), except for parts of the day, which end where Duckling's do;
//! - "by 25", "7 times 8", "10 km in 50 minutes" are not times, and "in" is never inches;
//! - a time's `values` holds the one resolved value, not Duckling's three future candidates;
//! - a time of day without am/pm after a named day reads 1–7 as afternoon ("tomorrow at 3");
//!   before the day it is the day's first such reading, as in Duckling ("at 7:15 tomorrow");
//! - speeds ("100 km/h", "60 miles per hour") are numbers, not distances; "one" as a pronoun
//!   ("which one", "one of them") and identifiers ("order 88231", "#4412", "worker-3",
//!   "python 3.12") are not numbers;
//! - "10 minus 4" is 10 and 4 (Duckling reads "minus 4" as -4); "minus 3" alone is -3;
//! - "a 12-inch pizza", "a 10-minute walk" are a distance and a duration (Duckling: numbers);
//! - a bare hour after "at" is a time ("call me at 10") unless a word after it says what the
//!   number counts ("at 10 km", "look at 10 examples"), which Duckling reads as 10:00 too;
//! - "221B Baker Street" holds no number; "the fifth Monday of December" is one that exists;
//! - status codes, versions and series numbers are identifiers, not numbers ("returns 502",
//!   "error 404", "iPhone 15", "upgrade node to 20.11", "build 77", "PR 1187");
//! - a rate is not a duration: "£8 a month", "10 terabytes a day", "twice a day" label only the
//!   amount; "in <amount of time>" after a measurement or a conversion question is a duration,
//!   not a time ("walk 8 km in an hour", "how many seconds are in 3 days");
//! - "pounds" of weight are a quantity ("lost 5 pounds", "convert 5 pounds to kg"), where
//!   Duckling reports money too; "the 5th column" is an ordinal, not a date;
//! - misspellings are read as spelt right ("fourty", "ninty", "next wendesday", "Feburary");
//! - a month without a year after "since" or in a sentence about the past is the last one
//!   ("errors since March", "what did we spend in September"; Duckling: the next);
//! - "the week after next" (also month, year) is one time; Duckling finds only "the week".
//!
//! Not yet understood: open intervals ("after 6pm", "by end of day"; "by Friday" is the day),
//! holidays beyond Christmas, New Year and Halloween, "end of the month", "next 3 days",
//! seven-digit local phone numbers ("555-1234"), and bare-hour ranges with no am/pm on either
//! end and no day named ("from 9 to 5" alone; "between 1 and 10" is how one counts).

mod contact;
pub mod eval;
mod lexer;
mod measure;
mod numeral;
mod time;
pub mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use value::{EntityValue, Grain, TimePoint};

/// What to extract, and the reference time relative expressions resolve against.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// "now" for "tomorrow", "in 2 hours", "next Monday".
    pub reference_time: DateTime<FixedOffset>,
    /// The zone times are resolved and printed in.
    pub tz: chrono_tz::Tz,
    /// Only these dimensions, or all of them when `None`.
    pub dims: Option<Vec<Dimension>>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            reference_time: Utc::now().fixed_offset(),
            tz: chrono_tz::UTC,
            dims: None,
        }
    }
}

impl ExtractOptions {
    fn wants(&self, dim: Dimension) -> bool {
        self.dims.as_ref().is_none_or(|d| d.contains(&dim))
    }
}

/// A kind of entity, named as in Duckling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Number,
    Ordinal,
    AmountOfMoney,
    Distance,
    Duration,
    Temperature,
    Quantity,
    Volume,
    Email,
    Url,
    PhoneNumber,
    Time,
    Percentage,
    DataSize,
}

impl Dimension {
    pub const ALL: [Dimension; 14] = [
        Dimension::Number,
        Dimension::Ordinal,
        Dimension::AmountOfMoney,
        Dimension::Distance,
        Dimension::Duration,
        Dimension::Temperature,
        Dimension::Quantity,
        Dimension::Volume,
        Dimension::Email,
        Dimension::Url,
        Dimension::PhoneNumber,
        Dimension::Time,
        Dimension::Percentage,
        Dimension::DataSize,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Number => "number",
            Dimension::Ordinal => "ordinal",
            Dimension::AmountOfMoney => "amount-of-money",
            Dimension::Distance => "distance",
            Dimension::Duration => "duration",
            Dimension::Temperature => "temperature",
            Dimension::Quantity => "quantity",
            Dimension::Volume => "volume",
            Dimension::Email => "email",
            Dimension::Url => "url",
            Dimension::PhoneNumber => "phone-number",
            Dimension::Time => "time",
            Dimension::Percentage => "percentage",
            Dimension::DataSize => "data-size",
        }
    }

    /// Which of two equally long overlapping candidates wins: the more specific one.
    fn specificity(self) -> u8 {
        match self {
            Dimension::Number => 0,
            Dimension::Ordinal => 1,
            Dimension::Duration => 2,
            Dimension::Time => 4,
            Dimension::Email | Dimension::Url | Dimension::PhoneNumber => 5,
            _ => 3,
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown dimension name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dimension {0:?}")]
pub struct UnknownDimension(pub String);

impl FromStr for Dimension {
    type Err = UnknownDimension;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dimension::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDimension(s.to_string()))
    }
}

impl Serialize for Dimension {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Dimension {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One extracted entity; `start` and `end` count characters (Unicode scalar values), `end`
/// exclusive, as Duckling's do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    pub dim: Dimension,
    pub start: usize,
    pub end: usize,
    pub body: String,
    pub value: EntityValue,
}

/// A possible entity over a byte span, before overlaps are resolved.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub dim: Dimension,
    pub start: usize,
    pub end: usize,
    pub value: EntityValue,
}

/// Extracts the entities of `text`, left to right, never overlapping.
pub fn extract(text: &str, opts: &ExtractOptions) -> Vec<Entity> {
    let lx = lexer::Lexed::new(text);
    let mut candidates = Vec::new();
    let numerals = numeral::scan_numerals(&lx);
    for n in &numerals {
        candidates.push(Candidate {
            dim: Dimension::Number,
            start: lx.start(n.start),
            end: lx.end_before(n.end),
            value: EntityValue::Numeric { value: n.value },
        });
    }
    if opts.wants(Dimension::Ordinal) {
        for o in numeral::scan_ordinals(&lx) {
            candidates.push(Candidate {
                dim: Dimension::Ordinal,
                start: lx.start(o.start),
                end: lx.end_before(o.end),
                value: EntityValue::Numeric { value: o.value },
            });
        }
    }
    measure::scan_measures(&lx, &numerals, &mut candidates);
    if opts.wants(Dimension::Time) {
        let now = opts.reference_time.with_timezone(&opts.tz);
        time::scan_times(&lx, now, &mut candidates);
    }
    contact::scan_contacts(&lx, &mut candidates);
    candidates.retain(|c| opts.wants(c.dim) && c.end > c.start);
    resolve_overlaps(text, candidates)
}

/// Keeps the longest (then most specific) candidate wherever candidates overlap, and turns
/// byte spans into character offsets.
fn resolve_overlaps(text: &str, mut candidates: Vec<Candidate>) -> Vec<Entity> {
    candidates.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(b.dim.specificity().cmp(&a.dim.specificity()))
            .then(a.start.cmp(&b.start))
    });
    let mut taken = vec![false; text.len()];
    let mut kept = Vec::new();
    for c in candidates {
        if taken[c.start..c.end].iter().any(|t| *t) {
            continue;
        }
        taken[c.start..c.end].iter_mut().for_each(|t| *t = true);
        kept.push(c);
    }
    kept.sort_by_key(|c| c.start);
    let mut offsets = CharOffsets::new(text);
    kept.into_iter()
        .map(|c| Entity {
            dim: c.dim,
            start: offsets.char_index(c.start),
            end: offsets.char_index(c.end),
            body: text[c.start..c.end].to_string(),
            value: c.value,
        })
        .collect()
}

/// Byte offset → character offset for increasing byte offsets, in one pass over the text.
struct CharOffsets<'t> {
    text: &'t str,
    ascii: bool,
    byte: usize,
    chars: usize,
}

impl<'t> CharOffsets<'t> {
    fn new(text: &'t str) -> Self {
        CharOffsets {
            text,
            ascii: text.is_ascii(),
            byte: 0,
            chars: 0,
        }
    }

    fn char_index(&mut self, byte: usize) -> usize {
        if self.ascii {
            return byte;
        }
        if byte < self.byte {
            return self.text[..byte].chars().count();
        }
        self.chars += self.text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

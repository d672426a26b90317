//! The `datetime` kind: date arithmetic, differences between dates, the time elsewhere.
//!
//! Understood requests (dates as `2026-12-25`, "December 25, 2026", "25 Dec 2026",
//! "today", "tomorrow", "yesterday"):
//! - "what date is 30 days after 2026-12-25", "2 weeks before tomorrow";
//! - "add 3 weeks to 2026-11-26", "subtract 1 month from 2026-03-31", "2026-11-26 + 10 days",
//!   "what is the date in 3 weeks";
//! - "days between 2026-01-01 and 2026-12-25", "how many weeks from today to 2027-01-01",
//!   "days until 2026-12-25";
//! - "what time is it in Tokyo" (a city, or an IANA zone such as `Asia/Tokyo`);
//! - "what day of the week is 2026-12-25".
//!
//! "Now" is the context's reference time; "today" is its date in the spec's `default_tz`.
//! Months and years are calendar months ("1 month after 2026-01-31" is 2026-02-28).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{Datelike, Days, Months, NaiveDate};
use chrono_tz::Tz;
use regex::{Captures, Regex};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::number::present;
use super::{Tool, ToolContext, ToolError, ToolOutput, ToolSpecError};
use crate::calc::Rounding;

/// `kind: datetime`.
///
/// ```yaml
/// tool:
///   kind: datetime
///   default_tz: Europe/Paris     # IANA zone of "today"; default UTC
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatetimeSpec {
    pub default_tz: String,
}

impl Default for DatetimeSpec {
    fn default() -> Self {
        DatetimeSpec {
            default_tz: "UTC".into(),
        }
    }
}

/// A compiled `datetime` tool.
#[derive(Debug, Clone)]
pub struct DateCalculator {
    tz: Tz,
}

const DATE: &str = r"\d{4}-\d{1,2}-\d{1,2}|today|tomorrow|yesterday|now|[a-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}(?:st|nd|rd|th)?\s+[a-z]{3,9}\.?,?\s+\d{4}";
const UNIT: &str = r"days?|weeks?|months?|years?";

fn regex(pattern: String) -> Regex {
    Regex::new(&format!("(?i){pattern}")).expect("valid regex")
}

/// "30 days after 2026-12-25".
static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    regex(format!(
        r"(?P<n>\d+)\s+(?P<unit>{UNIT})\s+(?P<dir>after|before|from)\s+(?P<date>{DATE})"
    ))
});
/// "add 3 weeks to 2026-11-26", "subtract 2 days from today".
static ADD: LazyLock<Regex> = LazyLock::new(|| {
    regex(format!(
        r"(?P<op>add|plus|subtract|minus|take)\s+(?P<n>\d+)\s+(?P<unit>{UNIT})\s+(?:to|from|off)\s+(?P<date>{DATE})"
    ))
});
/// "2026-11-26 + 10 days".
static INFIX: LazyLock<Regex> = LazyLock::new(|| {
    regex(format!(
        r"(?P<date>{DATE})\s*(?P<op>\+|-|plus|minus)\s*(?P<n>\d+)\s*(?P<unit>{UNIT})\b"
    ))
});
/// "days between 2026-01-01 and 2026-12-25", "weeks from today to 2027-01-01".
static BETWEEN: LazyLock<Regex> = LazyLock::new(|| {
    regex(format!(
        r"(?:(?P<unit>{UNIT})\s+(?:are\s+(?:there\s+)?)?)?(?:between|from)\s+(?P<a>{DATE})\s+(?:and|to|until|till)\s+(?P<b>{DATE})"
    ))
});
/// "days until 2026-12-25".
static UNTIL: LazyLock<Regex> = LazyLock::new(|| {
    regex(format!(
        r"(?:(?P<unit>{UNIT})\s+)?(?:until|till|to)\s+(?P<b>{DATE})"
    ))
});
/// "in 3 weeks".
static FROM_NOW: LazyLock<Regex> =
    LazyLock::new(|| regex(format!(r"\bin\s+(?P<n>\d+)\s+(?P<unit>{UNIT})\b")));
/// "what time is it in Tokyo".
static TIME_IN: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"\btime\s+(?:is\s+it\s+)?(?:now\s+)?in\s+(?P<place>[^?!.]+?)(?:\s+(?:now|right now))?[\s?!.]*$".into())
});
/// "what day of the week is 2026-12-25".
static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    regex(format!(
        r"\bday\s+(?:of\s+the\s+week\s+)?(?:is|was|will\s+be)\s+(?P<date>{DATE})"
    ))
});

/// City names (the last part of IANA zone names, and a few common aliases) → zone.
static CITIES: LazyLock<HashMap<String, Tz>> = LazyLock::new(|| {
    let mut cities = HashMap::new();
    for tz in chrono_tz::TZ_VARIANTS {
        if let Some((_, city)) = tz.name().rsplit_once('/') {
            cities
                .entry(city.replace('_', " ").to_lowercase())
                .or_insert(tz);
        }
    }
    let aliases = [
        ("nyc", chrono_tz::America::New_York),
        ("new york city", chrono_tz::America::New_York),
        ("washington", chrono_tz::America::New_York),
        ("boston", chrono_tz::America::New_York),
        ("san francisco", chrono_tz::America::Los_Angeles),
        ("seattle", chrono_tz::America::Los_Angeles),
        ("beijing", chrono_tz::Asia::Shanghai),
        ("mumbai", chrono_tz::Asia::Kolkata),
        ("delhi", chrono_tz::Asia::Kolkata),
        ("new delhi", chrono_tz::Asia::Kolkata),
        ("bangalore", chrono_tz::Asia::Kolkata),
        ("munich", chrono_tz::Europe::Berlin),
        ("frankfurt", chrono_tz::Europe::Berlin),
        ("utc", chrono_tz::UTC),
        ("gmt", chrono_tz::Etc::GMT),
    ];
    for (name, tz) in aliases {
        cities.insert(name.to_string(), tz);
    }
    cities
});

impl DateCalculator {
    pub fn new(spec: &DatetimeSpec) -> Result<Self, ToolSpecError> {
        let tz = Tz::from_str(spec.default_tz.trim()).map_err(|_| {
            ToolSpecError::new(
                "datetime",
                "default_tz",
                format!(
                    "'{}' is not an IANA time zone such as Europe/Paris",
                    spec.default_tz
                ),
            )
        })?;
        Ok(DateCalculator { tz })
    }

    fn today(&self, ctx: &ToolContext) -> NaiveDate {
        ctx.reference_time.with_timezone(&self.tz).date_naive()
    }

    /// A written date: ISO, "December 25, 2026", "25 Dec 2026", "today", "tomorrow".
    fn date(&self, ctx: &ToolContext, written: &str) -> Result<NaiveDate, ToolError> {
        let lower = written.trim().to_lowercase();
        let today = self.today(ctx);
        let invalid = |reason| ToolError::InvalidDate {
            text: written.to_string(),
            reason,
        };
        match lower.as_str() {
            "today" | "now" => return Ok(today),
            "tomorrow" => return today.succ_opt().ok_or(ToolError::DateOutOfRange),
            "yesterday" => return today.pred_opt().ok_or(ToolError::DateOutOfRange),
            _ => {}
        }
        if let Some((year, rest)) = lower.split_once('-') {
            let mut parts = rest.split('-');
            let (Some(month), Some(day)) = (parts.next(), parts.next()) else {
                return Err(invalid("expected YYYY-MM-DD"));
            };
            let number = |part: &str| {
                part.parse::<u32>()
                    .map_err(|_| invalid("expected YYYY-MM-DD"))
            };
            let year =
                i32::try_from(number(year)?).map_err(|_| invalid("the year is out of range"))?;
            return NaiveDate::from_ymd_opt(year, number(month)?, number(day)?)
                .ok_or_else(|| invalid("no such day in the calendar"));
        }
        let words: Vec<&str> = lower
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        let [first, second, year] = words[..] else {
            return Err(invalid("expected a date such as 2026-12-25"));
        };
        let (month, day) = match month_number(first) {
            Some(month) => (month, second),
            None => (
                month_number(second).ok_or_else(|| invalid("unknown month name"))?,
                first,
            ),
        };
        let day: u32 = day
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .map_err(|_| invalid("the day is not a number"))?;
        let year: i32 = year
            .parse()
            .map_err(|_| invalid("the year is not a number"))?;
        NaiveDate::from_ymd_opt(year, month, day)
            .ok_or_else(|| invalid("no such day in the calendar"))
    }

    /// `date` moved by `n` units forwards (`sign` 1) or backwards (-1).
    fn shift(
        &self,
        date: NaiveDate,
        n: &str,
        unit: &str,
        forwards: bool,
    ) -> Result<ToolOutput, ToolError> {
        let n: u32 = n.parse().map_err(|_| ToolError::InvalidNumber {
            text: n.to_string(),
        })?;
        let unit = unit.to_lowercase();
        let shifted = if unit.starts_with("day") || unit.starts_with("week") {
            let days = u64::from(n) * if unit.starts_with("week") { 7 } else { 1 };
            match forwards {
                true => date.checked_add_days(Days::new(days)),
                false => date.checked_sub_days(Days::new(days)),
            }
        } else {
            let months = if unit.starts_with("year") {
                n.checked_mul(12)
            } else {
                Some(n)
            };
            months.and_then(|months| match forwards {
                true => date.checked_add_months(Months::new(months)),
                false => date.checked_sub_months(Months::new(months)),
            })
        };
        let shifted = shifted.ok_or(ToolError::DateOutOfRange)?;
        Ok(date_output(shifted))
    }

    /// The difference from `a` to `b` in days (default), weeks, months or years.
    fn between(&self, a: NaiveDate, b: NaiveDate, unit: Option<&str>) -> ToolOutput {
        let days = (b - a).num_days();
        let unit = unit.map(str::to_lowercase).unwrap_or_else(|| "days".into());
        let (value, name) = if unit.starts_with("week") {
            (
                present(
                    Decimal::from(days) / Decimal::from(7),
                    2,
                    Rounding::HalfEven,
                ),
                "week",
            )
        } else if unit.starts_with("month") || unit.starts_with("year") {
            let months = whole_months(a, b);
            match unit.starts_with("year") {
                true => (Decimal::from(months / 12), "year"),
                false => (Decimal::from(months), "month"),
            }
        } else {
            (Decimal::from(days), "day")
        };
        let plural = if value.abs() == Decimal::ONE { "" } else { "s" };
        ToolOutput {
            value: Some(value),
            unit: Some(name.to_string()),
            answer: format!("{value} {name}{plural}"),
            data: Some(
                serde_json::json!({ "from": a.to_string(), "to": b.to_string(), "days": days }),
            ),
        }
    }

    /// The time now in a city or zone.
    fn time_in(&self, ctx: &ToolContext, place: &str) -> Result<ToolOutput, ToolError> {
        let place = place.trim();
        let lower = place.to_lowercase();
        let tz = Tz::from_str(place)
            .ok()
            .or_else(|| CITIES.get(&lower).copied())
            .ok_or_else(|| ToolError::UnknownTimeZone {
                name: place.to_string(),
            })?;
        let local = ctx.reference_time.with_timezone(&tz);
        Ok(ToolOutput {
            value: None,
            unit: None,
            answer: format!(
                "{} in {place} ({}), {}",
                local.format("%H:%M"),
                tz.name(),
                local.format("%A %Y-%m-%d")
            ),
            data: Some(serde_json::json!({ "time": local.to_rfc3339(), "tz": tz.name() })),
        })
    }
}

/// A date as an answer: "2027-01-24 (Sunday)".
fn date_output(date: NaiveDate) -> ToolOutput {
    ToolOutput {
        value: None,
        unit: None,
        answer: format!("{date} ({})", date.format("%A")),
        data: Some(
            serde_json::json!({ "date": date.to_string(), "weekday": date.format("%A").to_string() }),
        ),
    }
}

/// Whole calendar months from `a` to `b` (negative when `b` is earlier).
fn whole_months(a: NaiveDate, b: NaiveDate) -> i64 {
    let (start, end, sign) = if b >= a { (a, b, 1) } else { (b, a, -1) };
    let mut months = i64::from(end.year() - start.year()) * 12 + i64::from(end.month())
        - i64::from(start.month());
    if end.day() < start.day() {
        months -= 1;
    }
    sign * months
}

/// January is 1; names may be abbreviated ("dec", "sept.").
fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let word = word.trim_end_matches('.');
    if word.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|month| month.starts_with(word) || (word == "sept" && *month == "september"))
        .and_then(|index| u32::try_from(index + 1).ok())
}

fn group<'t>(captures: &Captures<'t>, name: &str) -> &'t str {
    captures.name(name).map_or("", |m| m.as_str())
}

impl Tool for DateCalculator {
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let text = ctx.text;
        if text.trim().is_empty() {
            return Err(ToolError::Empty);
        }
        if let Some(c) = TIME_IN.captures(text) {
            return self.time_in(ctx, group(&c, "place"));
        }
        if let Some(c) = BETWEEN.captures(text) {
            let a = self.date(ctx, group(&c, "a"))?;
            let b = self.date(ctx, group(&c, "b"))?;
            return Ok(self.between(a, b, c.name("unit").map(|m| m.as_str())));
        }
        // "subtract 1 year from <date>" before "<n> <unit> from <date>".
        if let Some(c) = ADD.captures(text).or_else(|| INFIX.captures(text)) {
            let date = self.date(ctx, group(&c, "date"))?;
            let op = group(&c, "op").to_lowercase();
            let forwards = matches!(op.as_str(), "add" | "plus" | "+");
            return self.shift(date, group(&c, "n"), group(&c, "unit"), forwards);
        }
        if let Some(c) = RELATIVE.captures(text) {
            let date = self.date(ctx, group(&c, "date"))?;
            let forwards = !group(&c, "dir").eq_ignore_ascii_case("before");
            return self.shift(date, group(&c, "n"), group(&c, "unit"), forwards);
        }
        if let Some(c) = WEEKDAY.captures(text) {
            return Ok(date_output(self.date(ctx, group(&c, "date"))?));
        }
        if let Some(c) = UNTIL.captures(text) {
            let b = self.date(ctx, group(&c, "b"))?;
            return Ok(self.between(self.today(ctx), b, c.name("unit").map(|m| m.as_str())));
        }
        if let Some(c) = FROM_NOW.captures(text) {
            return self.shift(self.today(ctx), group(&c, "n"), group(&c, "unit"), true);
        }
        Err(ToolError::NotUnderstood {
            tool: "datetime",
            expected: "e.g. \"30 days after 2026-12-25\", \"days between 2026-01-01 and \
                       2026-12-25\", \"add 3 weeks to 2026-11-26\" or \"what time is it in Tokyo\"",
        })
    }
}

//! The `time` dimension: instants with a grain and intervals, resolved against the reference
//! time in the request's time zone.
//!
//! Rules are plain functions over tokens, tried at each position without backtracking:
//! a day ("tomorrow", "next Monday", "2026-12-25", "December 25th", "the 15th of next month",
//! "the third Monday of December", "Q3 2026"), a time of day ("3pm", "15:30", "noon", "at 10",
//! "half past 5"), their combinations ("tomorrow at 3pm", "5pm on Friday", "Monday morning",
//! "7 tonight"), relative times ("in 2 hours", "3 days ago") and intervals ("from 9am to 5pm",
//! "tomorrow from 2 to 4pm", "tonight", "last weekend"). Open times resolve to the future, as
//! Duckling's do.

use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone,
    Timelike,
};
use chrono_tz::Tz;
use std::cell::OnceCell;

use super::lexer::{Lexed, TokenKind};
use super::measure::{duration_at, ends_measurement, is_unit_name, unit_follows};
use super::numeral::{Numeral, is_number_word, numeral_at, ordinal_at};
use super::value::{EntityValue, Grain, TimePoint};
use super::{Candidate, Dimension};

/// A local (time-zone-free) instant with its grain.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Moment {
    at: NaiveDateTime,
    grain: Grain,
}

#[derive(Debug, Clone, Copy)]
enum Expr {
    At(Moment),
    Span(Moment, Moment),
}

/// A parsed time expression over tokens `..end`.
#[derive(Debug, Clone, Copy)]
struct Parsed {
    expr: Expr,
    end: usize,
    /// The text named a day (so an interval's other end can borrow it).
    dated: bool,
    /// The expression is a bare time of day.
    time_of_day: bool,
}

/// A time of day as written: "3pm", "15:30", "noon".
#[derive(Debug, Clone, Copy)]
struct Clock {
    hour: u32,
    minute: u32,
    grain: Grain,
    /// No am/pm on a 12-hour reading ("at 9:30"): either half of the day may be meant.
    ambiguous: bool,
    end: usize,
}

impl Clock {
    /// The hour read in the morning (`pm` false) or the afternoon and evening.
    fn in_half(&self, pm: bool) -> u32 {
        match (pm, self.ambiguous || self.hour == 12) {
            (true, true) if self.hour < 12 => self.hour + 12,
            _ => self.hour,
        }
    }
}

/// Scans all time expressions in the text.
pub(crate) fn scan_times(lx: &Lexed, now: DateTime<Tz>, out: &mut Vec<Candidate>) {
    let tz = now.timezone();
    let cx = Cx {
        lx,
        now: now.naive_local(),
        past: OnceCell::new(),
    };
    let mut i = 0;
    while i < lx.len() {
        match cx.time_at(i) {
            Some(p) => {
                if let Some(value) = to_value(p.expr, tz) {
                    out.push(Candidate {
                        dim: Dimension::Time,
                        start: lx.start(i),
                        end: lx.end_before(p.end),
                        value,
                    });
                }
                i = p.end;
            }
            None => i += 1,
        }
    }
}

fn to_point(m: Moment, tz: Tz) -> Option<TimePoint> {
    let local = tz.from_local_datetime(&m.at).earliest().or_else(|| {
        tz.from_local_datetime(&(m.at + TimeDelta::hours(1)))
            .earliest()
    })?;
    Some(TimePoint {
        value: local.fixed_offset(),
        grain: m.grain,
    })
}

fn to_value(expr: Expr, tz: Tz) -> Option<EntityValue> {
    Some(match expr {
        Expr::At(m) => EntityValue::Instant(to_point(m, tz)?),
        Expr::Span(a, b) => EntityValue::Interval {
            from: Some(to_point(a, tz)?),
            to: Some(to_point(b, tz)?),
        },
    })
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

fn day_moment(d: NaiveDate) -> Moment {
    Moment {
        at: midnight(d),
        grain: Grain::Day,
    }
}

fn month_start(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn add_months(d: NaiveDate, months: i32) -> Option<NaiveDate> {
    if months >= 0 {
        d.checked_add_months(Months::new(months.unsigned_abs()))
    } else {
        d.checked_sub_months(Months::new(months.unsigned_abs()))
    }
}

fn add_days(d: NaiveDate, days: i64) -> Option<NaiveDate> {
    if days >= 0 {
        d.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        d.checked_sub_days(Days::new(days.unsigned_abs()))
    }
}

/// The start of the grain containing `at`.
fn truncate(at: NaiveDateTime, grain: Grain) -> NaiveDateTime {
    let d = at.date();
    match grain {
        Grain::Second => at.with_nanosecond(0).unwrap_or(at),
        Grain::Minute => d.and_hms_opt(at.hour(), at.minute(), 0).unwrap_or(at),
        Grain::Hour => d.and_hms_opt(at.hour(), 0, 0).unwrap_or(at),
        Grain::Day => midnight(d),
        Grain::Week => {
            midnight(add_days(d, -i64::from(d.weekday().num_days_from_monday())).unwrap_or(d))
        }
        Grain::Month => midnight(d.with_day(1).unwrap_or(d)),
        Grain::Quarter => {
            let m = (d.month() - 1) / 3 * 3 + 1;
            midnight(month_start(d.year(), m).unwrap_or(d))
        }
        Grain::Year => midnight(month_start(d.year(), 1).unwrap_or(d)),
    }
}

/// `at` moved by `n` units of `unit` (calendar months and years).
fn shift(at: NaiveDateTime, n: i64, unit: Grain) -> Option<NaiveDateTime> {
    let months = |k: i64| -> Option<NaiveDateTime> {
        let d = add_months(at.date(), i32::try_from(k).ok()?)?;
        Some(d.and_time(at.time()))
    };
    match unit {
        Grain::Month => months(n),
        Grain::Quarter => months(n.checked_mul(3)?),
        Grain::Year => months(n.checked_mul(12)?),
        _ => at.checked_add_signed(TimeDelta::try_seconds(
            n.checked_mul(unit.seconds() as i64)?,
        )?),
    }
}

fn month_name(w: &str) -> Option<(u32, bool)> {
    // (month, needs a day or year after it to count: abbreviations and verbs)
    Some(match w {
        "january" => (1, false),
        "february" => (2, false),
        "march" => (3, true),
        "april" => (4, false),
        "may" => (5, true),
        "june" => (6, false),
        "july" => (7, false),
        "august" => (8, false),
        "september" => (9, false),
        "october" => (10, false),
        "november" => (11, false),
        "december" => (12, false),
        "jan" => (1, true),
        "feb" => (2, true),
        "mar" => (3, true),
        "apr" => (4, true),
        "jun" => (6, true),
        "jul" => (7, true),
        "aug" => (8, true),
        "sep" | "sept" => (9, true),
        "oct" => (10, true),
        "nov" => (11, true),
        "dec" => (12, true),
        _ => return None,
    })
}

/// Monday is 0.
fn weekday_name(w: &str) -> Option<u32> {
    Some(match w {
        "monday" | "mon" => 0,
        "tuesday" | "tue" | "tues" => 1,
        "wednesday" | "wed" => 2,
        "thursday" | "thu" | "thur" | "thurs" => 3,
        "friday" | "fri" => 4,
        "saturday" => 5,
        "sunday" => 6,
        _ => return None,
    })
}

/// Duckling's parts of the day, as [start hour, end hour).
fn day_part(w: &str) -> Option<(u32, u32)> {
    match w {
        "morning" => Some((0, 12)),
        "afternoon" => Some((12, 19)),
        "evening" | "night" => Some((18, 24)),
        _ => None,
    }
}

/// "around 3pm", "at about noon": Duckling keeps the word in the time.
fn is_approximate(w: &str) -> bool {
    matches!(w, "around" | "about" | "approximately" | "approx")
}

/// Words that may follow a bare hour ("at 10 tomorrow", "at 10 and", "at 10 we start"):
/// closed-class words and time words, never a noun that the number would count.
fn may_follow_hour(w: &str) -> bool {
    weekday_name(w).is_some()
        || month_name(w).is_some()
        || day_part(w).is_some()
        || matches!(
            w,
            "on" | "in"
                | "at"
                | "to"
                | "for"
                | "with"
                | "by"
                | "from"
                | "until"
                | "till"
                | "before"
                | "after"
                | "about"
                | "and"
                | "or"
                | "but"
                | "so"
                | "then"
                | "if"
                | "when"
                | "because"
                | "as"
                | "please"
                | "pls"
                | "sharp"
                | "instead"
                | "again"
                | "too"
                | "ok"
                | "okay"
                | "exactly"
                | "latest"
                | "today"
                | "tomorrow"
                | "tmrw"
                | "tomorow"
                | "tommorow"
                | "tommorrow"
                | "tonight"
                | "yesterday"
                | "this"
                | "next"
                | "every"
                | "the"
                | "that"
                | "i"
                | "we"
                | "you"
                | "he"
                | "she"
                | "they"
                | "it"
                | "is"
                | "was"
                | "will"
                | "would"
                | "should"
                | "can"
                | "could"
                | "works"
                | "work"
        )
}

/// The `nth` weekday `wd` (Monday 0; any day for `None`) of the month starting on `first`,
/// or its last one for `nth` `None`; `None` when the month has no such day.
fn weekday_in_month(first: NaiveDate, wd: Option<u32>, nth: Option<u32>) -> Option<NaiveDate> {
    let next_month = add_months(first, 1)?;
    let last = add_days(next_month, -1)?;
    let day = match (wd, nth) {
        (None, Some(n)) => add_days(first, i64::from(n.checked_sub(1)?))?,
        (None, None) => last,
        (Some(wd), Some(n)) => {
            let ahead = (wd + 7 - first.weekday().num_days_from_monday()) % 7;
            add_days(first, i64::from(ahead + 7 * n.checked_sub(1)?))?
        }
        (Some(wd), None) => {
            let back = (last.weekday().num_days_from_monday() + 7 - wd) % 7;
            add_days(last, -i64::from(back))?
        }
    };
    (day < next_month).then_some(day)
}

/// Which tense an auxiliary verb puts a sentence in: `Some(true)` for the past ("did",
/// "was", "wasn't"), `Some(false)` for the present or the future ("is", "will", "we'll").
fn auxiliary_tense(w: &str) -> Option<bool> {
    let w = w
        .strip_suffix("n't")
        .or_else(|| w.strip_suffix("n’t"))
        .unwrap_or(w);
    match w {
        "did" | "was" | "were" | "had" => Some(true),
        "is" | "are" | "am" | "will" | "wo" | "shall" | "going" | "gonna" => Some(false),
        _ if w.ends_with("'ll") || w.ends_with("’ll") => Some(false),
        _ => None,
    }
}

fn is_year(n: u32, digits: usize) -> bool {
    digits == 4 && (1900..=2200).contains(&n)
}

/// The rules, over one request.
struct Cx<'a, 't> {
    lx: &'a Lexed<'t>,
    now: NaiveDateTime,
    /// Whether the sentence speaks of the past ("what did we spend …", "what was …"), found
    /// when first needed ([`Cx::in_past_sentence`]).
    past: OnceCell<bool>,
}

impl Cx<'_, '_> {
    fn today(&self) -> NaiveDate {
        self.now.date()
    }

    fn word(&self, i: usize) -> Option<&str> {
        self.lx.word(i)
    }

    /// The longest time expression starting at token `i`.
    fn time_at(&self, i: usize) -> Option<Parsed> {
        let separators: Option<&[&str]> = match self.word(i) {
            Some("from") => Some(&["to", "until", "till", "through", "-"]),
            Some("between") => Some(&["and"]),
            _ => None,
        };
        if let Some(sep) = separators
            && let Some(p) = self.interval_from(i + 1, sep)
        {
            return Some(p);
        }
        let a = self.point(i)?;
        if a.time_of_day
            && let Some(p) = self.interval_after(a, &["to", "until", "till", "-"])
        {
            return Some(p);
        }
        if let Some(p) = self.day_with_hours(a) {
            return Some(p);
        }
        Some(a)
    }

    /// "tomorrow from 9am to 5pm", "Friday between 2pm and 3pm": a day, then an interval of
    /// times of day that falls on it.
    fn day_with_hours(&self, day: Parsed) -> Option<Parsed> {
        let Expr::At(d) = day.expr else {
            return None;
        };
        let separators: &[&str] = match self.word(day.end)? {
            "from" => &["to", "until", "till", "-"],
            "between" => &["and"],
            _ => return None,
        };
        if d.grain != Grain::Day {
            return None;
        }
        let k = day.end + 1;
        let Some(hours) = self.interval_from(k, separators) else {
            // "Monday from 9 to 5".
            let (h, h2) = (self.range_hour(k)?, self.range_hour(k + 2)?);
            if !self.is_separator(k + 1, separators) {
                return None;
            }
            let (from, to) = self.bare_hours(d.at.date(), h, h2)?;
            return Some(Parsed {
                expr: Expr::Span(from, to),
                end: k + 3,
                dated: true,
                time_of_day: false,
            });
        };
        let Expr::Span(from, to) = hours.expr else {
            return None;
        };
        if hours.dated {
            return None;
        }
        let date = d.at.date();
        let from = Moment {
            at: date.and_time(from.at.time()),
            ..from
        };
        let mut to = Moment {
            at: date.and_time(to.at.time()),
            ..to
        };
        if to.at <= from.at {
            // "Friday from 8pm to midnight" ends the next day.
            to.at += TimeDelta::days(1);
        }
        (to.at > from.at).then_some(Parsed {
            expr: Expr::Span(from, to),
            end: hours.end,
            dated: true,
            time_of_day: false,
        })
    }

    /// "<time> (to|-) <time>" starting at `i`; or "from 2 to 4pm", where the bare first hour
    /// takes the half of the day that puts it before the second.
    fn interval_from(&self, i: usize, separators: &[&str]) -> Option<Parsed> {
        if let Some(a) = self.point(i) {
            return self.interval_after(a, separators);
        }
        let h = self.range_hour(i)?;
        if !self.is_separator(i + 1, separators) {
            return None;
        }
        let Some(b) = self.point(i + 2) else {
            return self.bare_hours_on_day(h, i + 2);
        };
        let Expr::At(to) = b.expr else {
            return None;
        };
        if !matches!(to.grain, Grain::Hour | Grain::Minute) {
            return None;
        }
        let date = to.at.date();
        let from = [h + 12, h]
            .into_iter()
            .filter(|h| *h < 24)
            .map(|h| self.on_day(date, h, 0, Grain::Hour))
            .find(|m| m.at < to.at)?;
        Some(Parsed {
            expr: Expr::Span(from, to),
            end: b.end,
            dated: b.dated,
            time_of_day: false,
        })
    }

    /// "(from) 9 to 5 on Monday", "2 to 4 tomorrow": two bare hours, read only when a day
    /// follows (without one, "from 5 to 10" counts). The first is its first reading that day
    /// except 1–7, which are afternoon hours as after a named day; the second is its first
    /// reading after the first ("9 to 5" is 09:00–17:00).
    fn bare_hours_on_day(&self, h: u32, k: usize) -> Option<Parsed> {
        let h2 = self.range_hour(k)?;
        let on = if self.lx.is_word(k + 1, "on") {
            k + 2
        } else {
            k + 1
        };
        let (day, end) = self.day(on).filter(|(d, _)| d.grain == Grain::Day)?;
        let (from, to) = self.bare_hours(day.at.date(), h, h2)?;
        Some(Parsed {
            expr: Expr::Span(from, to),
            end,
            dated: true,
            time_of_day: false,
        })
    }

    /// Two bare hours on `date`, read as in [`Cx::bare_hours_on_day`].
    fn bare_hours(&self, date: NaiveDate, h: u32, h2: u32) -> Option<(Moment, Moment)> {
        let h = if (1..=7).contains(&h) { h + 12 } else { h };
        let from = self.on_day(date, h, 0, Grain::Hour);
        let to = [h2, h2 + 12]
            .into_iter()
            .map(|h| self.on_day(date, h, 0, Grain::Hour))
            .find(|m| m.at > from.at)?;
        Some((from, to))
    }

    /// A bare hour at either end of an interval whose other end is a clock time.
    fn range_hour(&self, i: usize) -> Option<u32> {
        let (h, digits) = self.lx.plain_int(i)?;
        let glued_to_word = self.lx.glued(i) && i > 0 && self.word(i - 1).is_some();
        (digits <= 2 && (1..=12).contains(&h) && !glued_to_word && !unit_follows(self.lx, i + 1))
            .then_some(h)
    }

    fn is_separator(&self, k: usize, separators: &[&str]) -> bool {
        separators.iter().any(|s| {
            if *s == "-" {
                self.lx.is_punct(k, '-')
            } else {
                self.lx.is_word(k, s)
            }
        })
    }

    fn interval_after(&self, a: Parsed, separators: &[&str]) -> Option<Parsed> {
        if !self.is_separator(a.end, separators) {
            return None;
        }
        let Some(b) = self.point(a.end + 1) else {
            return self.to_bare_hour(a);
        };
        let (Expr::At(mut from), Expr::At(mut to)) = (a.expr, b.expr) else {
            return None;
        };
        // "from 9am to 5pm tomorrow": the undated end takes the other end's day.
        if b.dated && !a.dated && a.time_of_day {
            from.at = to.at.date().and_time(from.at.time());
        } else if a.dated && !b.dated && b.time_of_day {
            to.at = from.at.date().and_time(to.at.time());
        } else if a.time_of_day && b.time_of_day {
            (from, to) = self.same_day(from, to);
        }
        if let (Some(first), Some(last)) = (
            self.bare_weekday(a.end - 1),
            self.bare_weekday(a.end + 1).filter(|_| b.end == a.end + 2),
        ) {
            (from, to) = self.weekday_span(first, last)?;
        }
        (to.at > from.at).then_some(Parsed {
            expr: Expr::Span(from, to),
            end: b.end,
            dated: a.dated || b.dated,
            time_of_day: false,
        })
    }

    /// Two times of day on one day: today while the end is still ahead, else tomorrow ("from
    /// 9am to 5pm" at 10:00 is today's); an end before the start is on the next day.
    fn same_day(&self, from: Moment, to: Moment) -> (Moment, Moment) {
        let today = self.today();
        let end_today = today.and_time(to.at.time());
        let date = if end_today >= truncate(self.now, to.grain) {
            today
        } else {
            add_days(today, 1).unwrap_or(today)
        };
        let from = Moment {
            at: date.and_time(from.at.time()),
            ..from
        };
        let mut to = Moment {
            at: date.and_time(to.at.time()),
            ..to
        };
        if to.at <= from.at {
            to.at += TimeDelta::days(1);
        }
        (from, to)
    }

    /// The weekday named at `k` on its own ("Monday", not "next Monday").
    fn bare_weekday(&self, k: usize) -> Option<u32> {
        let modified = k > 0
            && matches!(
                self.word(k - 1),
                Some("next" | "last" | "this" | "coming" | "past")
            );
        (!modified).then(|| self.word(k).and_then(weekday_name))?
    }

    /// "from Monday to Friday": the span in this week, or next week's once this week's is over,
    /// as Duckling reads it.
    fn weekday_span(&self, first: u32, last: u32) -> Option<(Moment, Moment)> {
        let today = self.today();
        let monday = add_days(today, -i64::from(today.weekday().num_days_from_monday()))?;
        let mut from = add_days(monday, i64::from(first))?;
        let mut to = add_days(from, i64::from((last + 7 - first) % 7))?;
        if to < today {
            from = add_days(from, 7)?;
            to = add_days(to, 7)?;
        }
        Some((day_moment(from), day_moment(to)))
    }

    /// "from 9am to 5": the bare second hour is the first of its two readings after the first.
    fn to_bare_hour(&self, a: Parsed) -> Option<Parsed> {
        let Expr::At(from) = a.expr else {
            return None;
        };
        if !matches!(from.grain, Grain::Hour | Grain::Minute) {
            return None;
        }
        let h = self.range_hour(a.end + 1)?;
        let date = from.at.date();
        let to = [h, h + 12]
            .into_iter()
            .filter(|h| *h <= 24)
            .map(|h| self.on_day(date, h, 0, Grain::Hour))
            .find(|m| m.at > from.at)?;
        let (from, to) = if a.time_of_day {
            self.same_day(from, to)
        } else {
            (from, to)
        };
        Some(Parsed {
            expr: Expr::Span(from, to),
            end: a.end + 2,
            dated: a.dated,
            time_of_day: false,
        })
    }

    /// One instant (or a part of a day), with its leading preposition if any.
    fn point(&self, i: usize) -> Option<Parsed> {
        match self.word(i) {
            Some("at") => {
                let j = if self.word(i + 1).is_some_and(is_approximate) {
                    i + 2
                } else {
                    i + 1
                };
                self.core(j)
                    .or_else(|| Some(self.clock_with_day(self.bare_hour(j)?)))
            }
            Some(w) if is_approximate(w) => Some(self.clock_with_day(self.clock(i + 1)?)),
            Some("on") => self.core(i + 1),
            Some("in") => self.relative_in(i).or_else(|| self.in_month_or_year(i + 1)),
            _ => self.core(i),
        }
    }

    fn core(&self, i: usize) -> Option<Parsed> {
        if let Some(p) = self.ago(i).or_else(|| self.named_day_part(i)) {
            return Some(p);
        }
        if let Some((day, end)) = self.day(i) {
            return Some(self.with_time_of_day(day, end));
        }
        let clock = self.clock(i)?;
        Some(self.clock_with_day(clock))
    }

    /// A day, optionally followed by "at <time>" or a part of the day.
    fn with_time_of_day(&self, day: Moment, end: usize) -> Parsed {
        let dated = Parsed {
            expr: Expr::At(day),
            end,
            dated: true,
            time_of_day: false,
        };
        if day.grain != Grain::Day {
            return dated;
        }
        let date = day.at.date();
        let k = if self.lx.is_punct(end, ',') {
            end + 1
        } else {
            end
        };
        let at = self.lx.is_word(k, "at");
        let k = if at { k + 1 } else { k };
        let clock = self
            .clock(k)
            .or_else(|| at.then(|| self.bare_hour(k)).flatten());
        if let Some(c) = clock {
            let hour = if c.ambiguous && (1..=7).contains(&c.hour) {
                c.hour + 12
            } else {
                c.hour % 24
            };
            return Parsed {
                expr: Expr::At(self.on_day(date, hour, c.minute, c.grain)),
                end: c.end,
                dated: true,
                time_of_day: false,
            };
        }
        if let Some((from, to)) = self.word(end).and_then(day_part) {
            return Parsed {
                expr: self.part_of(date, from, to),
                end: end + 1,
                dated: true,
                time_of_day: false,
            };
        }
        dated
    }

    fn on_day(&self, date: NaiveDate, hour: u32, minute: u32, grain: Grain) -> Moment {
        let at = date
            .and_hms_opt(hour % 24, minute, 0)
            .unwrap_or(midnight(date));
        let at = if hour >= 24 {
            at + TimeDelta::days(1)
        } else {
            at
        };
        Moment { at, grain }
    }

    fn part_of(&self, date: NaiveDate, from: u32, to: u32) -> Expr {
        Expr::Span(
            self.on_day(date, from, 0, Grain::Hour),
            self.on_day(date, to, 0, Grain::Hour),
        )
    }

    /// A time of day, then optionally its day ("3pm tomorrow", "5pm on Friday", "8 tomorrow
    /// morning") or the half of the day it is in ("7 tonight", "10 in the morning").
    fn clock_with_day(&self, c: Clock) -> Parsed {
        let c = if self.lx.is_word(c.end, "sharp") {
            Clock {
                end: c.end + 1,
                ..c
            }
        } else {
            c
        };
        let k = if self.lx.is_word(c.end, "on") {
            c.end + 1
        } else {
            c.end
        };
        if let Some((day, end)) = self.day(k).filter(|(d, _)| d.grain == Grain::Day) {
            let (pm, end) = match self.word(end).and_then(day_part) {
                Some((from, _)) => (Some(from >= 12), end + 1),
                None => (None, end),
            };
            // "at 7:15 tomorrow" is the first 7:15 of that day, as in Duckling; "Friday at
            // midnight" is the midnight that starts Friday.
            let hour = match pm {
                Some(pm) => c.in_half(pm),
                None => c.hour % 24,
            };
            return Parsed {
                expr: Expr::At(self.on_day(day.at.date(), hour, c.minute, c.grain)),
                end,
                dated: true,
                time_of_day: false,
            };
        }
        if let Some((pm, today, end)) = self.half_of_day(c.end) {
            let hour = c.in_half(pm);
            let at = if today {
                self.on_day(self.today(), hour, c.minute, c.grain)
            } else {
                self.next_clock(Clock {
                    hour,
                    ambiguous: false,
                    ..c
                })
            };
            return Parsed {
                expr: Expr::At(at),
                end,
                dated: today,
                time_of_day: !today,
            };
        }
        Parsed {
            expr: Expr::At(self.next_clock(c)),
            end: c.end,
            dated: false,
            time_of_day: true,
        }
    }

    /// "tonight", "this evening", "in the morning", "at night" after a time of day: (the
    /// afternoon or evening, today's rather than the next, end).
    fn half_of_day(&self, k: usize) -> Option<(bool, bool, usize)> {
        let is_pm = |w: &str| day_part(w).map(|(from, _)| from >= 12);
        match self.word(k)? {
            "tonight" => Some((true, true, k + 1)),
            "this" => Some((is_pm(self.word(k + 1)?)?, true, k + 2)),
            "in" if self.lx.is_word(k + 1, "the") => {
                Some((is_pm(self.word(k + 2)?)?, false, k + 3))
            }
            "at" if self.lx.is_word(k + 1, "night") => Some((true, false, k + 2)),
            _ => None,
        }
    }

    /// The first future occurrence of a time of day (either half of the day if ambiguous).
    fn next_clock(&self, c: Clock) -> Moment {
        let today = self.today();
        let mut hours = vec![c.hour];
        if c.ambiguous && c.hour < 12 {
            hours.push(c.hour + 12);
        }
        let not_past = |m: &Moment| m.at >= truncate(self.now, m.grain);
        for day in [today, add_days(today, 1).unwrap_or(today)] {
            for &h in &hours {
                let m = self.on_day(day, h, c.minute, c.grain);
                if not_past(&m) {
                    return m;
                }
            }
        }
        self.on_day(today, c.hour, c.minute, c.grain)
    }

    /// "3pm", "3 pm", "3:30pm", "15:30", "3 o'clock", "noon", "midnight", "half past 5".
    fn clock(&self, i: usize) -> Option<Clock> {
        if let Some(c) = self.minutes_past(i) {
            return Some(c);
        }
        match self.word(i) {
            Some("noon" | "midday") => {
                return Some(Clock {
                    hour: 12,
                    minute: 0,
                    grain: Grain::Hour,
                    ambiguous: false,
                    end: i + 1,
                });
            }
            Some("midnight") => {
                return Some(Clock {
                    hour: 24,
                    minute: 0,
                    grain: Grain::Hour,
                    ambiguous: false,
                    end: i + 1,
                });
            }
            _ => {}
        }
        let (hour, digits) = self.lx.plain_int(i)?;
        if digits > 2 || (i > 0 && self.lx.glued(i) && self.lx.word(i - 1).is_some()) {
            return None;
        }
        let (minute, grain, k) =
            if self.lx.is_punct(i + 1, ':') && self.lx.glued(i + 1) && self.lx.glued(i + 2) {
                match self.lx.plain_int(i + 2) {
                    Some((m, 2)) if m < 60 => (m, Grain::Minute, i + 3),
                    _ => return None,
                }
            } else {
                (0, Grain::Hour, i + 1)
            };
        if let Some((pm, end)) = self.meridiem(k) {
            if !(1..=12).contains(&hour) {
                return None;
            }
            let hour = match (hour, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, true) => h + 12,
                (h, false) => h,
            };
            return Some(Clock {
                hour,
                minute,
                grain,
                ambiguous: false,
                end,
            });
        }
        let oclock = self.lx.is_word(k, "o'clock") || self.lx.is_word(k, "o’clock");
        if grain == Grain::Hour && !oclock {
            return None;
        }
        if hour > 23 {
            return None;
        }
        let end = if oclock { k + 1 } else { k };
        Some(Clock {
            hour,
            minute,
            grain,
            ambiguous: (1..12).contains(&hour),
            end,
        })
    }

    /// "half past 5", "a quarter to ten", "20 past 4", "10 minutes to 6". A bare number before
    /// "to" or "after" is arithmetic or a range ("5 to 10"), so those need "minutes".
    fn minutes_past(&self, i: usize) -> Option<Clock> {
        let lx = self.lx;
        // Cheap tests first: this runs at every token.
        let linking = |k: usize| {
            matches!(
                self.word(k),
                Some(
                    "past"
                        | "after"
                        | "to"
                        | "till"
                        | "before"
                        | "of"
                        | "minutes"
                        | "minute"
                        | "mins"
                        | "min"
                        | "quarter"
                )
            )
        };
        let starts = match lx.tokens.get(i)?.kind {
            TokenKind::Number { .. } => linking(i + 1),
            TokenKind::Word => {
                matches!(self.word(i), Some("half" | "quarter" | "a"))
                    || ((linking(i + 1) || linking(i + 2))
                        && self.word(i).is_some_and(is_number_word))
            }
            TokenKind::Punct(_) => false,
        };
        if !starts {
            return None;
        }
        let (minutes, k, spelled) = match self.word(i) {
            Some("half") => (30, i + 1, true),
            Some("quarter") => (15, i + 1, true),
            Some("a") if lx.is_word(i + 1, "quarter") => (15, i + 2, true),
            _ => {
                let n = numeral_at(lx, i)?;
                if n.value.fract() != 0.0 || !(1.0..60.0).contains(&n.value) {
                    return None;
                }
                let named = matches!(lx.word(n.end), Some("minutes" | "minute" | "mins" | "min"));
                (n.value as u32, if named { n.end + 1 } else { n.end }, named)
            }
        };
        let before = match self.word(k)? {
            "past" => false,
            "after" if spelled => false,
            "to" | "till" | "before" | "of" if spelled && minutes != 30 => true,
            _ => return None,
        };
        let h = numeral_at(lx, k + 1)?;
        if h.value.fract() != 0.0 || !(1.0..=12.0).contains(&h.value) || unit_follows(lx, h.end) {
            return None;
        }
        let hour = h.value as u32;
        let (hour, minute) = if before {
            ((hour + 11) % 12, 60 - minutes)
        } else {
            (hour % 12, minutes)
        };
        let end = if self.lx.is_word(h.end, "o'clock") {
            h.end + 1
        } else {
            h.end
        };
        Some(Clock {
            hour,
            minute,
            grain: Grain::Minute,
            ambiguous: true,
            end,
        })
    }

    /// A bare hour after "at" ("call me at 10"), which Duckling reads as the next 10:00 or
    /// 22:00. Only when nothing after it says what the number counts: "at 10 km", "at 10%",
    /// "look at 10 examples" are not times, so the next word must be a closed-class word
    /// (preposition, conjunction, pronoun, time word) or the text must end or pause there.
    fn bare_hour(&self, i: usize) -> Option<Clock> {
        let (hour, digits) = self.lx.plain_int(i)?;
        if digits > 2 || !(1..=23).contains(&hour) || unit_follows(self.lx, i + 1) {
            return None;
        }
        let next = i + 1;
        let free = match self.lx.tokens.get(next) {
            None => true,
            Some(t) => match t.kind {
                TokenKind::Punct(c) => {
                    matches!(c, ',' | '.' | '!' | '?' | ';' | ')' | '"' | '\'' | '’')
                        && !self
                            .lx
                            .number(next + 1)
                            .is_some_and(|_| self.lx.glued(next + 1))
                }
                TokenKind::Word => t.spaced && self.word(next).is_some_and(may_follow_hour),
                TokenKind::Number { .. } => false,
            },
        };
        free.then_some(Clock {
            hour,
            minute: 0,
            grain: Grain::Hour,
            ambiguous: (1..12).contains(&hour),
            end: next,
        })
    }

    /// "am", "pm", "a.m.", "p.m." at `k`: (is pm, end).
    fn meridiem(&self, k: usize) -> Option<(bool, usize)> {
        match self.word(k)? {
            "am" => Some((false, k + 1)),
            "pm" => Some((true, k + 1)),
            w @ ("a" | "p") if self.lx.is_punct(k + 1, '.') && self.lx.is_word(k + 2, "m") => {
                let end = if self.lx.is_punct(k + 3, '.') {
                    k + 4
                } else {
                    k + 3
                };
                Some((w == "p", end))
            }
            _ => None,
        }
    }

    /// "tonight", "this morning".
    fn named_day_part(&self, i: usize) -> Option<Parsed> {
        if matches!(self.word(i), Some("last" | "past"))
            && let Some(p) = self.last_n(i)
        {
            return Some(p);
        }
        let today = self.today();
        let (expr, end) = match self.word(i)? {
            "right" if self.lx.is_word(i + 1, "now") => {
                let at = truncate(self.now, Grain::Second);
                (
                    Expr::At(Moment {
                        at,
                        grain: Grain::Second,
                    }),
                    i + 2,
                )
            }
            "now" => {
                let at = truncate(self.now, Grain::Second);
                (
                    Expr::At(Moment {
                        at,
                        grain: Grain::Second,
                    }),
                    i + 1,
                )
            }
            "tonight" => (self.part_of(today, 18, 24), i + 1),
            "last" if self.lx.is_word(i + 1, "night") => {
                (self.part_of(add_days(today, -1)?, 18, 24), i + 2)
            }
            // Duckling's "next weekend" is the coming one, like "this weekend".
            "weekend" => (self.weekend(0)?, i + 1),
            "this" | "next" if self.lx.is_word(i + 1, "weekend") => (self.weekend(0)?, i + 2),
            "last" | "past" if self.lx.is_word(i + 1, "weekend") => (self.weekend(-1)?, i + 2),
            "this" if self.lx.is_word(i + 1, "past") && self.lx.is_word(i + 2, "weekend") => {
                (self.weekend(-1)?, i + 3)
            }
            "this" => {
                let (from, to) = self.word(i + 1).and_then(day_part)?;
                (self.part_of(today, from, to), i + 2)
            }
            _ => return None,
        };
        Some(Parsed {
            expr,
            end,
            dated: true,
            time_of_day: false,
        })
    }

    /// "last 24 hours", "past 3 days": the span from that many units back to the start of the
    /// current unit, as Duckling has it ("last 24 hours" at 10:00 is yesterday 10:00 to 10:00).
    fn last_n(&self, i: usize) -> Option<Parsed> {
        let (n, unit, end) = self.amounts(i + 1)?;
        if n <= 0 || matches!(self.word(end), Some("ago")) {
            return None;
        }
        let to = truncate(self.now, unit);
        let from = shift(to, -n, unit)?;
        Some(Parsed {
            expr: Expr::Span(
                Moment {
                    at: from,
                    grain: unit,
                },
                Moment {
                    at: to,
                    grain: unit,
                },
            ),
            end,
            dated: true,
            time_of_day: false,
        })
    }

    /// This week's weekend (`weeks` 0) or another week's, as Duckling has it: Friday 18:00 to
    /// Monday 00:00.
    fn weekend(&self, weeks: i64) -> Option<Expr> {
        let today = self.today();
        let monday = add_days(
            today,
            7 * weeks - i64::from(today.weekday().num_days_from_monday()),
        )?;
        Some(Expr::Span(
            self.on_day(add_days(monday, 4)?, 18, 0, Grain::Hour),
            self.on_day(add_days(monday, 7)?, 0, 0, Grain::Hour),
        ))
    }

    /// An amount of time in whole units ("1.5 hours" is 90 minutes).
    fn amount(&self, i: usize) -> Option<(i64, Grain, usize)> {
        let (mut value, mut unit, end) = duration_at(self.lx, i)?;
        while value.fract().abs() > 1e-9 && unit != Grain::Second {
            let finer = unit.finer();
            value *= unit.seconds() / finer.seconds();
            unit = finer;
        }
        if !(0.0..=1e6).contains(&value) || value.fract().abs() > 1e-6 {
            return None;
        }
        Some((value.round() as i64, unit, end))
    }

    /// "in 2 hours", but not how long a measured thing takes ("10 km in 50 minutes", "5 GB
    /// in 10 minutes", "24 hours in a day") nor a conversion ("how many seconds are in 3
    /// days"): there the amount is a duration.
    fn relative_in(&self, i: usize) -> Option<Parsed> {
        if i > 0 && (ends_measurement(self.lx, i - 1) || self.how_many_units_before(i)) {
            return None;
        }
        let (n, unit, end) = self.amounts(i + 1)?;
        self.relative(n, unit, end)
    }

    /// "how many seconds are in", "how many minutes in", "how many weeks are there in": a
    /// question that converts the amount after "in" (at `i`) to a unit.
    fn how_many_units_before(&self, i: usize) -> bool {
        let mut k = i;
        while k > 0 && matches!(self.word(k - 1), Some("are" | "is" | "there")) && i - k < 2 {
            k -= 1;
        }
        k >= 3
            && self
                .word(k - 1)
                .is_some_and(|w| is_unit_name(self.lx, k - 1, w))
            && self.lx.is_word(k - 2, "many")
            && self.lx.is_word(k - 3, "how")
    }

    /// An amount of time, joining smaller units: "1 hour and 30 minutes" is 90 minutes.
    fn amounts(&self, i: usize) -> Option<(i64, Grain, usize)> {
        let (mut n, mut unit, mut end) = self.amount(i)?;
        loop {
            let next = if self.lx.is_word(end, "and") || self.lx.is_punct(end, ',') {
                end + 1
            } else {
                end
            };
            match self.amount(next) {
                Some((m, u, e)) if u < unit => {
                    let per = (unit.seconds() / u.seconds()) as i64;
                    n = n.checked_mul(per)?.checked_add(m)?;
                    (unit, end) = (u, e);
                }
                _ => return Some((n, unit, end)),
            }
        }
    }

    /// "3 days ago", "2 weeks from now".
    fn ago(&self, i: usize) -> Option<Parsed> {
        let (n, unit, end) = self.amounts(i)?;
        match self.word(end)? {
            "ago" => self.relative(-n, unit, end + 1),
            "from" if self.lx.is_word(end + 1, "now") => self.relative(n, unit, end + 2),
            "after" | "from" => self.shifted(n, unit, end + 1),
            "before" => self.shifted(-n, unit, end + 1),
            _ => None,
        }
    }

    /// "45 days after 2027-01-10", "90 days from today", "2 days before Christmas": the named
    /// time moved by the amount, at the finer of its grain and the amount's unit.
    fn shifted(&self, n: i64, unit: Grain, k: usize) -> Option<Parsed> {
        let base = self.core(k)?;
        let Expr::At(m) = base.expr else {
            return None;
        };
        let grain = m.grain.min(unit);
        let at = truncate(shift(m.at, n, unit)?, grain);
        Some(Parsed {
            expr: Expr::At(Moment { at, grain }),
            end: base.end,
            dated: true,
            time_of_day: false,
        })
    }

    fn relative(&self, n: i64, unit: Grain, end: usize) -> Option<Parsed> {
        let grain = unit.finer();
        let at = truncate(shift(self.now, n, unit)?, grain);
        Some(Parsed {
            expr: Expr::At(Moment { at, grain }),
            end,
            dated: true,
            time_of_day: false,
        })
    }

    /// "in December", "in May 2027", "in 2027".
    fn in_month_or_year(&self, i: usize) -> Option<Parsed> {
        let (day, end) = if let Some((m, _)) = self.word(i).and_then(month_name) {
            self.month_maybe_year(m, i + 1)
        } else {
            let (y, digits) = self.lx.plain_int(i)?;
            if !is_year(y, digits) {
                return None;
            }
            (
                Moment {
                    at: midnight(month_start(y as i32, 1)?),
                    grain: Grain::Year,
                },
                i + 1,
            )
        };
        Some(Parsed {
            expr: Expr::At(day),
            end,
            dated: true,
            time_of_day: false,
        })
    }

    /// A past auxiliary and no present or future one: "what did we spend", "what was the
    /// weather"; not "I was told the launch is in March".
    fn in_past_sentence(&self) -> bool {
        *self.past.get_or_init(|| {
            let mut past = false;
            for i in 0..self.lx.len() {
                match self.word(i).and_then(auxiliary_tense) {
                    Some(true) => past = true,
                    Some(false) => return false,
                    None => {}
                }
            }
            past
        })
    }

    /// Whether a month or date without a year, whose first token is at `at`, is meant in the
    /// past: right after "since" ("errors since March"), or in a sentence about the past
    /// unless a preposition before it points ahead ("it was moved to March").
    fn past_at(&self, at: usize) -> bool {
        let mut k = at;
        while k > 0 && matches!(self.word(k - 1), Some("on" | "in" | "the" | "during")) {
            k -= 1;
        }
        let before = k.checked_sub(1).and_then(|k| self.word(k));
        before == Some("since")
            || (self.in_past_sentence()
                && !matches!(
                    before,
                    Some("to" | "until" | "till" | "by" | "for" | "before" | "through" | "next")
                ))
    }

    /// A month (at `month`), with an optional year at `j`; without one, the month in
    /// progress or the next (the last, in the past: see [`Cx::past_at`]).
    fn month_maybe_year(&self, month: u32, j: usize) -> (Moment, usize) {
        let today = self.today();
        if let Some(year) = self.year_at(j)
            && let Some(d) = month_start(year, month)
        {
            let at = midnight(d);
            return (
                Moment {
                    at,
                    grain: Grain::Month,
                },
                j + 1,
            );
        }
        let year = if self.past_at(j - 1) {
            if month <= today.month() {
                today.year()
            } else {
                today.year() - 1
            }
        } else if month >= today.month() {
            today.year()
        } else {
            today.year() + 1
        };
        let d = month_start(year, month).unwrap_or(today);
        (
            Moment {
                at: midnight(d),
                grain: Grain::Month,
            },
            j,
        )
    }

    fn year_at(&self, j: usize) -> Option<i32> {
        let (y, digits) = self.lx.plain_int(j)?;
        is_year(y, digits).then_some(y as i32)
    }

    /// A day, week, month, quarter or year named at `i`.
    fn day(&self, i: usize) -> Option<(Moment, usize)> {
        let today = self.today();
        let w = self.word(i);
        let simple = |offset: i64| Some((day_moment(add_days(today, offset)?), i + 1));
        // "(the) week after next".
        let unit_at = match w {
            Some("the") => Some(i + 1),
            Some("week" | "month" | "year") => Some(i),
            _ => None,
        };
        if let Some(d) = unit_at.and_then(|k| self.after_next(k)) {
            return Some(d);
        }
        match w {
            Some("today") => return simple(0),
            Some("tomorrow" | "tmrw" | "tomorow" | "tommorow" | "tommorrow") => return simple(1),
            Some("yesterday") => return simple(-1),
            Some("the") if self.lx.is_word(i + 1, "day") => return self.day_after_before(i + 2),
            Some("day") => return self.day_after_before(i + 1),
            Some("next" | "last" | "this" | "coming" | "past") => return self.relative_named(i),
            Some("q") => return self.quarter(i),
            Some("christmas" | "xmas" | "halloween" | "new") => return self.holiday(i),
            _ => {}
        }
        if let Some(wd) = w.and_then(weekday_name) {
            if let Some(date) = self.date_after_weekday(i + 1) {
                return Some(date);
            }
            let ahead = (wd + 7 - today.weekday().num_days_from_monday()) % 7;
            let ahead = if ahead == 0 { 7 } else { ahead };
            return simple(i64::from(ahead));
        }
        if let Some((m, needs_more)) = w.and_then(month_name) {
            return self.month_first(m, needs_more, i);
        }
        if w == Some("the") {
            let o = ordinal_at(self.lx, i + 1);
            return o
                .and_then(|o| self.nth_weekday(o))
                .or_else(|| o.and_then(|o| self.nth_quarter(o)))
                .or_else(|| self.ordinal_day(i + 1, false));
        }
        let ordinal = ordinal_at(self.lx, i);
        ordinal
            .and_then(|o| self.nth_weekday(o))
            .or_else(|| ordinal.and_then(|o| self.nth_quarter(o)))
            .or_else(|| self.numeric_date(i))
            .or_else(|| self.day_then_month(i, ordinal))
    }

    /// "Friday, Dec 4", "Monday Dec 7", "Friday the 4th", "Friday 4 December", "Friday
    /// 12/4": a date after a weekday names the same day, so the two are one time and the date
    /// gives its value. `k` is the token after the weekday.
    fn date_after_weekday(&self, k: usize) -> Option<(Moment, usize)> {
        let k = if self.lx.is_punct(k, ',') { k + 1 } else { k };
        let date = match self.word(k) {
            Some("the") => self.ordinal_day(k + 1, true),
            Some(w) => {
                let (m, needs_more) = month_name(w)?;
                self.month_first(m, needs_more, k)
            }
            None => {
                let ordinal = ordinal_at(self.lx, k);
                self.numeric_date(k)
                    .or_else(|| self.day_then_month(k, ordinal))
            }
        };
        date.filter(|(d, _)| d.grain == Grain::Day)
    }

    /// "(the) week after next", "the month after next", "the year after next": two weeks,
    /// months or years on, from the unit at `i`.
    fn after_next(&self, i: usize) -> Option<(Moment, usize)> {
        if !self.lx.is_word(i + 1, "after") || !self.lx.is_word(i + 2, "next") {
            return None;
        }
        let grain = match self.word(i)? {
            "week" => Grain::Week,
            "month" => Grain::Month,
            "year" => Grain::Year,
            _ => return None,
        };
        let at = truncate(shift(truncate(self.now, grain), 2, grain)?, grain);
        Some((Moment { at, grain }, i + 3))
    }

    /// "Christmas", "Christmas Eve", "New Year's Eve", "Halloween": the next one, today's
    /// included.
    fn holiday(&self, i: usize) -> Option<(Moment, usize)> {
        let lx = self.lx;
        let (month, day, end) = match self.word(i)? {
            "christmas" | "xmas" => match self.word(i + 1) {
                Some("eve") => (12, 24, i + 2),
                Some("day") => (12, 25, i + 2),
                _ => (12, 25, i + 1),
            },
            "halloween" => (10, 31, i + 1),
            "new" => {
                // "new year's eve", "new years day", "new year’s day".
                let k = match self.word(i + 1)? {
                    "years" => i + 2,
                    "year"
                        if (lx.is_punct(i + 2, '\'') || lx.is_punct(i + 2, '’'))
                            && lx.is_word(i + 3, "s") =>
                    {
                        i + 4
                    }
                    _ => return None,
                };
                match self.word(k)? {
                    "eve" => (12, 31, k + 1),
                    "day" => (1, 1, k + 1),
                    _ => return None,
                }
            }
            _ => return None,
        };
        let today = self.today();
        let date = (0..=1).find_map(|k| {
            NaiveDate::from_ymd_opt(today.year() + k, month, day).filter(|d| *d >= today)
        })?;
        Some((day_moment(date), end))
    }

    /// "the 4th quarter of 2025", "third quarter 2027": a quarter of a named year. Without a
    /// year ("the 3rd quarter") it stays an ordinal.
    fn nth_quarter(&self, o: Numeral) -> Option<(Moment, usize)> {
        let q = o.value as u32;
        if !(1..=4).contains(&q) || !self.lx.is_word(o.end, "quarter") {
            return None;
        }
        let k = if matches!(self.word(o.end + 1), Some("of" | "in")) {
            o.end + 2
        } else {
            o.end + 1
        };
        let year = self.year_at(k)?;
        let at = midnight(month_start(year, (q - 1) * 3 + 1)?);
        Some((
            Moment {
                at,
                grain: Grain::Quarter,
            },
            k + 1,
        ))
    }

    /// "(the) day after tomorrow" / "day before yesterday", from the word after "day".
    fn day_after_before(&self, i: usize) -> Option<(Moment, usize)> {
        let offset = match (self.word(i)?, self.word(i + 1)?) {
            ("after", "tomorrow") => 2,
            ("before", "yesterday") => -2,
            _ => return None,
        };
        Some((day_moment(add_days(self.today(), offset)?), i + 2))
    }

    /// "next Monday", "last week", "this month", "next quarter", "last year".
    fn relative_named(&self, i: usize) -> Option<(Moment, usize)> {
        let today = self.today();
        let step: i64 = match self.word(i)? {
            "next" => 1,
            "last" | "past" => -1,
            _ => 0,
        };
        let target = self.word(i + 1)?;
        if let Some(wd) = weekday_name(target) {
            let this_monday = add_days(today, -i64::from(today.weekday().num_days_from_monday()))?;
            let day = match step {
                // Duckling's "next Friday" is the Friday of next week.
                1 => add_days(this_monday, 7 + i64::from(wd))?,
                -1 => {
                    let back = (today.weekday().num_days_from_monday() + 7 - wd) % 7;
                    add_days(today, -i64::from(if back == 0 { 7 } else { back }))?
                }
                _ => {
                    let ahead = (wd + 7 - today.weekday().num_days_from_monday()) % 7;
                    add_days(today, i64::from(ahead))?
                }
            };
            if step == -1
                && self.lx.is_word(i, "last")
                && let Some(d) = self.weekday_of_month(Some(wd), None, i + 2)
            {
                return Some(d);
            }
            return Some((day_moment(day), i + 2));
        }
        if target == "day" && self.lx.is_word(i, "last") {
            return self.weekday_of_month(None, None, i + 2);
        }
        let grain = match target {
            "week" => Grain::Week,
            "month" => Grain::Month,
            "quarter" => Grain::Quarter,
            "year" => Grain::Year,
            _ => return None,
        };
        let at = truncate(shift(truncate(self.now, grain), step, grain)?, grain);
        Some((Moment { at, grain }, i + 2))
    }

    /// "the third Monday of December", "first Friday of next month", "third Monday in
    /// January 2027", "the first day of next month", from the ordinal `o`.
    fn nth_weekday(&self, o: Numeral) -> Option<(Moment, usize)> {
        let nth = o.value as u32;
        let wd = match self.word(o.end)? {
            "day" if (1..=31).contains(&nth) => None,
            w if (1..=5).contains(&nth) => Some(weekday_name(w)?),
            _ => return None,
        };
        self.weekday_of_month(wd, Some(nth), o.end + 1)
    }

    /// The `nth` (or, for `None`, the last) weekday `wd` (or day, for `None`) of the month
    /// named by "of|in <month>" at `k`. A month named without a year is the next one not
    /// before this month, as Duckling reads it, moving on a year while that month lacks a
    /// fifth such weekday.
    fn weekday_of_month(
        &self,
        wd: Option<u32>,
        nth: Option<u32>,
        k: usize,
    ) -> Option<(Moment, usize)> {
        if !matches!(self.word(k), Some("of" | "in")) {
            return None;
        }
        let today = self.today();
        let (first, end, open) = if let Some((m, _)) = self.word(k + 1).and_then(month_name) {
            match self.year_at(k + 2) {
                Some(y) => (month_start(y, m)?, k + 3, false),
                None => (self.month_maybe_year(m, k + 2).0.at.date(), k + 2, true),
            }
        } else if self.lx.is_word(k + 1, "the") && self.lx.is_word(k + 2, "month") {
            (month_start(today.year(), today.month())?, k + 3, false)
        } else {
            let (m, end) = self
                .relative_named(k + 1)
                .filter(|(m, _)| m.grain == Grain::Month)?;
            (m.at.date(), end, false)
        };
        let years = if open { 0..8 } else { 0..1 };
        let day = years
            .filter_map(|y| add_months(first, y * 12))
            .find_map(|first| weekday_in_month(first, wd, nth))?;
        Some((day_moment(day), end))
    }

    /// "Q3", "Q3 2026".
    fn quarter(&self, i: usize) -> Option<(Moment, usize)> {
        let (q, _) = self.lx.plain_int(i + 1).filter(|_| self.lx.glued(i + 1))?;
        if !(1..=4).contains(&q) {
            return None;
        }
        let month = (q - 1) * 3 + 1;
        let (year, end) = match self.year_at(i + 2) {
            Some(y) => (y, i + 3),
            // A bare quarter is this year's, past or not, as Duckling reads "the second
            // quarter" ("revenue grew in Q2" on 26 November is 2026's Q2).
            None => (self.today().year(), i + 2),
        };
        let at = midnight(month_start(year, month)?);
        Some((
            Moment {
                at,
                grain: Grain::Quarter,
            },
            end,
        ))
    }

    /// "December 25", "Dec 25th, 2026", "December 2026", "December".
    fn month_first(&self, month: u32, needs_more: bool, i: usize) -> Option<(Moment, usize)> {
        let day_num = ordinal_at(self.lx, i + 1)
            .map(|o| (o.value as u32, o.end))
            .or_else(|| {
                self.lx
                    .plain_int(i + 1)
                    .filter(|(d, n)| *n <= 2 && *d >= 1)
                    .map(|(d, _)| (d, i + 2))
            });
        if let Some((day, end)) = day_num {
            let (y, end) = self.optional_year(end);
            return Some((day_moment(self.month_day(month, day, y, i)?), end));
        }
        // "March" and "May" are verbs and names too, and "Jan" is a name: alone they need a
        // year or a preposition of time before them ("since March", "until May", "in Jan").
        let after_preposition = i > 0
            && matches!(
                self.word(i - 1),
                Some("since" | "until" | "till" | "during" | "before" | "after" | "through")
            );
        if self.year_at(i + 1).is_some() || !needs_more || after_preposition {
            return Some(self.month_maybe_year(month, i + 1));
        }
        None
    }

    /// ", 2026" or " 2026" after a date.
    fn optional_year(&self, end: usize) -> (Option<i32>, usize) {
        let k = if self.lx.is_punct(end, ',') {
            end + 1
        } else {
            end
        };
        match self.year_at(k) {
            Some(y) => (Some(y), k + 1),
            None => (None, end),
        }
    }

    /// A month and day; without a year, the next one not in the past, except that a day of
    /// the current month stays in it ("November 20th" on November 26 is six days ago), as
    /// Duckling resolves it. In the past (see [`Cx::past_at`], the date's first token at
    /// `at`) it is the last one not after today.
    fn month_day(&self, month: u32, day: u32, year: Option<i32>, at: usize) -> Option<NaiveDate> {
        if let Some(y) = year {
            return NaiveDate::from_ymd_opt(y, month, day);
        }
        let today = self.today();
        if self.past_at(at) {
            return (0..=4).find_map(|k| {
                NaiveDate::from_ymd_opt(today.year() - k, month, day).filter(|d| *d <= today)
            });
        }
        let this_month = month == today.month();
        (0..=4).find_map(|k| {
            NaiveDate::from_ymd_opt(today.year() + k, month, day)
                .filter(|d| *d >= today || (k == 0 && this_month))
        })
    }

    /// After "the": "the 15th", "the 3rd of March", "the 15th of next month". `anchored`:
    /// a weekday comes before it ("Friday the 4th"), which makes a bare day a date as a
    /// preposition does.
    fn ordinal_day(&self, i: usize, anchored: bool) -> Option<(Moment, usize)> {
        let o = ordinal_at(self.lx, i)?;
        let day = o.value as u32;
        if !(1..=31).contains(&day) {
            return None;
        }
        if self.lx.is_word(o.end, "of") {
            if let Some((m, _)) = self.word(o.end + 1).and_then(month_name) {
                let (y, end) = self.optional_year(o.end + 2);
                return Some((day_moment(self.month_day(m, day, y, i)?), end));
            }
            if let Some((month, end)) = self
                .relative_named(o.end + 1)
                .filter(|(m, _)| m.grain == Grain::Month)
            {
                let d = month.at.date().with_day(day)?;
                return Some((day_moment(d), end));
            }
        }
        if let Some((m, _)) = self.word(o.end).and_then(month_name) {
            let (y, end) = self.optional_year(o.end + 1);
            return Some((day_moment(self.month_day(m, day, y, i)?), end));
        }
        // "(on) the 15th": the next 15th of a month, this month's if not past. Without a
        // preposition before it, "the 21st item" is an ordinal; so is a rank of a noun after
        // one ("sort by the 5th column", "for the 3rd time"), while a time word, a
        // closed-class word or the end of the phrase may follow a date ("by the 5th",
        // "on the 3rd at 10am", "by the 5th and").
        let the = i - 1;
        let after_preposition = anchored
            || (the > 0
                && matches!(
                    self.word(the - 1),
                    Some("on" | "by" | "for" | "until" | "till" | "before" | "after" | "since")
                ));
        if !after_preposition || !self.ends_date_phrase(o.end) {
            return None;
        }
        let today = self.today();
        let first = month_start(today.year(), today.month())?;
        let d = (0..3).find_map(|k| add_months(first, k)?.with_day(day).filter(|d| *d >= today))?;
        Some((day_moment(d), o.end))
    }

    /// Whether the token at `k` may follow a day of the month named alone ("the 5th"): the end
    /// of the text, punctuation, a number, or a time or closed-class word, but not a noun the
    /// ordinal would rank ("the 5th column").
    fn ends_date_phrase(&self, k: usize) -> bool {
        match self.lx.tokens.get(k).map(|t| t.kind) {
            None | Some(TokenKind::Punct(_) | TokenKind::Number { .. }) => true,
            Some(TokenKind::Word) => self.word(k).is_some_and(may_follow_hour),
        }
    }

    /// "25 December 2026", "3rd March".
    #[inline(always)]
    fn day_then_month(&self, i: usize, ordinal: Option<Numeral>) -> Option<(Moment, usize)> {
        let (day, end) = match ordinal {
            Some(o) => (o.value as u32, o.end),
            None => self
                .lx
                .plain_int(i)
                .filter(|(_, n)| *n <= 2)
                .map(|(d, _)| (d, i + 1))?,
        };
        let end = if self.lx.is_word(end, "of") {
            end + 1
        } else {
            end
        };
        let (m, _) = self.word(end).and_then(month_name)?;
        let (y, end) = self.optional_year(end + 1);
        Some((day_moment(self.month_day(m, day, y, i)?), end))
    }

    /// "12/14" (US order, no year): the next December 14th. Fractions and scores are left
    /// alone: both parts must be a valid month and day, one of them written with two digits
    /// ("1/2", "3/4" are halves and quarters), and no unit or "of" may follow ("3/10 of").
    fn month_slash_day(&self, i: usize, month: u32, m_digits: usize) -> Option<(Moment, usize)> {
        let lx = self.lx;
        let (day, d_digits) = lx.plain_int(i + 2)?;
        let preceded_by_number = i > 0
            && lx.glued(i)
            && (lx.number(i - 1).is_some() || matches!(lx.tokens[i - 1].kind, TokenKind::Punct(_)));
        if m_digits > 2
            || d_digits > 2
            || (m_digits < 2 && d_digits < 2)
            || !(1..=12).contains(&month)
            || preceded_by_number
            || lx.is_word(i + 3, "of")
            || unit_follows(lx, i + 3)
            || (lx.is_punct(i + 3, '.') && lx.glued(i + 3) && lx.glued(i + 4))
        {
            return None;
        }
        Some((day_moment(self.month_day(month, day, None, i)?), i + 3))
    }

    /// "2026-12-25" and "12/25/2026" (US order; day first when the first part exceeds 12).
    #[inline(always)]
    fn numeric_date(&self, i: usize) -> Option<(Moment, usize)> {
        let lx = self.lx;
        let (a, a_digits) = lx.plain_int(i)?;
        let sep = if lx.is_punct(i + 1, '-') {
            '-'
        } else if lx.is_punct(i + 1, '/') {
            '/'
        } else {
            return None;
        };
        let glued = (i + 1..i + 5).all(|k| lx.glued(k));
        if sep == '/' && lx.glued(i + 1) && lx.glued(i + 2) && !lx.is_punct(i + 3, '/') {
            return self.month_slash_day(i, a, a_digits);
        }
        if !glued
            || !lx.is_punct(i + 3, sep)
            || (i > 0 && lx.glued(i) && lx.number(i - 1).is_some())
        {
            return None;
        }
        let (b, _) = lx.plain_int(i + 2)?;
        let (c, c_digits) = lx.plain_int(i + 4)?;
        let date = if sep == '-' && a_digits == 4 {
            NaiveDate::from_ymd_opt(a as i32, b, c)
        } else if sep == '/' && c_digits == 4 {
            let (month, day) = if a > 12 { (b, a) } else { (a, b) };
            NaiveDate::from_ymd_opt(c as i32, month, day)
        } else {
            None
        }?;
        Some((day_moment(date), i + 5))
    }
}

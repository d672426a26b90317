//! The `time` dimension: instants with a grain and intervals, resolved against the reference
//! time in the request's time zone.
//!
//! Rules are plain functions over tokens, tried at each position without backtracking:
//! a day ("tomorrow", "next Monday", "2026-12-25", "December 25th", "the 15th of next month",
//! "Q3 2026"), a time of day ("3pm", "15:30", "noon"), their combinations ("tomorrow at 3pm",
//! "5pm on Friday", "Monday morning"), relative times ("in 2 hours", "3 days ago") and
//! intervals ("from 9am to 5pm", "tonight"). Open times resolve to the future, as Duckling's do.

use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone,
    Timelike,
};
use chrono_tz::Tz;

use super::lexer::Lexed;
use super::measure::{duration_at, is_physical_unit};
use super::numeral::ordinal_at;
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

/// Scans all time expressions in the text.
pub(crate) fn scan_times(lx: &Lexed, now: DateTime<Tz>, out: &mut Vec<Candidate>) {
    let tz = now.timezone();
    let cx = Cx {
        lx,
        now: now.naive_local(),
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

fn is_year(n: u32, digits: usize) -> bool {
    digits == 4 && (1900..=2200).contains(&n)
}

/// The rules, over one request.
struct Cx<'a, 't> {
    lx: &'a Lexed<'t>,
    now: NaiveDateTime,
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
        Some(a)
    }

    /// "<time> (to|-) <time>" starting at `i`.
    fn interval_from(&self, i: usize, separators: &[&str]) -> Option<Parsed> {
        let a = self.point(i)?;
        self.interval_after(a, separators)
    }

    fn interval_after(&self, a: Parsed, separators: &[&str]) -> Option<Parsed> {
        let sep_ok = separators.iter().any(|s| {
            if *s == "-" {
                self.lx.is_punct(a.end, '-')
            } else {
                self.lx.is_word(a.end, s)
            }
        });
        if !sep_ok {
            return None;
        }
        let b = self.point(a.end + 1)?;
        let (Expr::At(mut from), Expr::At(mut to)) = (a.expr, b.expr) else {
            return None;
        };
        // "from 9am to 5pm tomorrow": the undated end takes the other end's day.
        if b.dated && !a.dated && a.time_of_day {
            from.at = to.at.date().and_time(from.at.time());
        } else if a.dated && !b.dated && b.time_of_day {
            to.at = from.at.date().and_time(to.at.time());
        }
        (to.at > from.at).then_some(Parsed {
            expr: Expr::Span(from, to),
            end: b.end,
            dated: a.dated || b.dated,
            time_of_day: false,
        })
    }

    /// One instant (or a part of a day), with its leading preposition if any.
    fn point(&self, i: usize) -> Option<Parsed> {
        match self.word(i) {
            Some("at" | "on") => self.core(i + 1),
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
        let k = if self.lx.is_word(k, "at") { k + 1 } else { k };
        if let Some(c) = self.clock(k) {
            let hour = if c.ambiguous && (1..=7).contains(&c.hour) {
                c.hour + 12
            } else {
                c.hour
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

    /// A time of day, then optionally its day ("3pm tomorrow", "5pm on Friday").
    fn clock_with_day(&self, c: Clock) -> Parsed {
        let k = if self.lx.is_word(c.end, "on") {
            c.end + 1
        } else {
            c.end
        };
        if let Some((day, end)) = self.day(k).filter(|(d, _)| d.grain == Grain::Day) {
            let hour = if c.ambiguous && (1..=7).contains(&c.hour) {
                c.hour + 12
            } else {
                c.hour
            };
            return Parsed {
                expr: Expr::At(self.on_day(day.at.date(), hour, c.minute, c.grain)),
                end,
                dated: true,
                time_of_day: false,
            };
        }
        Parsed {
            expr: Expr::At(self.next_clock(c)),
            end: c.end,
            dated: false,
            time_of_day: true,
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

    /// "3pm", "3 pm", "3:30pm", "15:30", "3 o'clock", "noon", "midnight".
    fn clock(&self, i: usize) -> Option<Clock> {
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
        let today = self.today();
        let (expr, end) = match self.word(i)? {
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
            "this" if self.lx.is_word(i + 1, "weekend") => (self.weekend(), i + 2),
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

    /// This week's weekend, as Duckling has it: Friday 18:00 to Monday 00:00.
    fn weekend(&self) -> Expr {
        let today = self.today();
        let monday =
            add_days(today, -i64::from(today.weekday().num_days_from_monday())).unwrap_or(today);
        let friday = add_days(monday, 4).unwrap_or(today);
        let next_monday = add_days(monday, 7).unwrap_or(today);
        Expr::Span(
            self.on_day(friday, 18, 0, Grain::Hour),
            self.on_day(next_monday, 0, 0, Grain::Hour),
        )
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

    /// "in 2 hours", but not a pace ("10 km in 50 minutes").
    fn relative_in(&self, i: usize) -> Option<Parsed> {
        if i > 0 && is_physical_unit(self.lx, i - 1) {
            return None;
        }
        let (n, unit, end) = self.amount(i + 1)?;
        self.relative(n, unit, end)
    }

    /// "3 days ago", "2 weeks from now".
    fn ago(&self, i: usize) -> Option<Parsed> {
        let (n, unit, end) = self.amount(i)?;
        match self.word(end)? {
            "ago" => self.relative(-n, unit, end + 1),
            "from" if self.lx.is_word(end + 1, "now") => self.relative(n, unit, end + 2),
            _ => None,
        }
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

    /// A month (at `month`), with an optional year at `j`.
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
        let year = if month >= today.month() {
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
        match w {
            Some("today") => return simple(0),
            Some("tomorrow" | "tmrw") => return simple(1),
            Some("yesterday") => return simple(-1),
            Some("the") if self.lx.is_word(i + 1, "day") => return self.day_after_before(i + 2),
            Some("day") => return self.day_after_before(i + 1),
            Some("next" | "last" | "this" | "coming" | "past") => return self.relative_named(i),
            Some("q") => return self.quarter(i),
            _ => {}
        }
        if let Some(wd) = w.and_then(weekday_name) {
            let ahead = (wd + 7 - today.weekday().num_days_from_monday()) % 7;
            let ahead = if ahead == 0 { 7 } else { ahead };
            return simple(i64::from(ahead));
        }
        if let Some((m, needs_more)) = w.and_then(month_name) {
            return self.month_first(m, needs_more, i);
        }
        if w == Some("the") {
            return self.ordinal_day(i + 1);
        }
        self.numeric_date(i).or_else(|| self.day_then_month(i))
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
            return Some((day_moment(day), i + 2));
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

    /// "Q3", "Q3 2026".
    fn quarter(&self, i: usize) -> Option<(Moment, usize)> {
        let (q, _) = self.lx.plain_int(i + 1).filter(|_| self.lx.glued(i + 1))?;
        if !(1..=4).contains(&q) {
            return None;
        }
        let month = (q - 1) * 3 + 1;
        let (year, end) = match self.year_at(i + 2) {
            Some(y) => (y, i + 3),
            None => {
                let today = self.today();
                let this_year = today.year();
                let current_q = (today.month() - 1) / 3 + 1;
                (
                    if q >= current_q {
                        this_year
                    } else {
                        this_year + 1
                    },
                    i + 2,
                )
            }
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
            return Some((day_moment(self.month_day(month, day, y)?), end));
        }
        if self.year_at(i + 1).is_some() || !needs_more {
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

    /// A month and day; without a year, the next one not in the past.
    fn month_day(&self, month: u32, day: u32, year: Option<i32>) -> Option<NaiveDate> {
        if let Some(y) = year {
            return NaiveDate::from_ymd_opt(y, month, day);
        }
        let today = self.today();
        (0..=4).find_map(|k| {
            NaiveDate::from_ymd_opt(today.year() + k, month, day).filter(|d| *d >= today)
        })
    }

    /// After "the": "the 15th", "the 3rd of March", "the 15th of next month".
    fn ordinal_day(&self, i: usize) -> Option<(Moment, usize)> {
        let o = ordinal_at(self.lx, i)?;
        let day = o.value as u32;
        if !(1..=31).contains(&day) {
            return None;
        }
        if self.lx.is_word(o.end, "of") {
            if let Some((m, _)) = self.word(o.end + 1).and_then(month_name) {
                let (y, end) = self.optional_year(o.end + 2);
                return Some((day_moment(self.month_day(m, day, y)?), end));
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
            return Some((day_moment(self.month_day(m, day, y)?), end));
        }
        // "(on) the 15th": the next 15th of a month, this month's if not past. Without a
        // preposition before it, "the 21st item" is an ordinal.
        let the = i - 1;
        let after_preposition = the > 0
            && matches!(
                self.word(the - 1),
                Some("on" | "by" | "until" | "till" | "before" | "after" | "since")
            );
        if !after_preposition {
            return None;
        }
        let today = self.today();
        let first = month_start(today.year(), today.month())?;
        let d = (0..3).find_map(|k| add_months(first, k)?.with_day(day).filter(|d| *d >= today))?;
        Some((day_moment(d), o.end))
    }

    /// "25 December 2026", "3rd March".
    fn day_then_month(&self, i: usize) -> Option<(Moment, usize)> {
        let (day, end) = match ordinal_at(self.lx, i) {
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
        Some((day_moment(self.month_day(m, day, y)?), end))
    }

    /// "2026-12-25" and "12/25/2026" (US order; day first when the first part exceeds 12).
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

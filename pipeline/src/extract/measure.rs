//! Numbers with a unit: money, distance, volume, quantity, temperature, percentage,
//! data-size and duration.
//!
//! Each numeral found by [`super::numeral`] is looked at once: a currency sign or code right
//! before it, or a unit word or sign right after it ("5 km", "500MB", "72°F", "20 euros",
//! "3 cups of sugar", "2 hours"). Unit names and money codes follow Duckling.

use super::lexer::Lexed;
use super::numeral::Numeral;
use super::value::{EntityValue, Grain};
use super::{Candidate, Dimension};

/// A unit word: its dimension, Duckling's unit name, and the factor to that unit
/// ("kg" is 1000 "gram", as Duckling reports it).
#[derive(Clone, Copy)]
struct Unit {
    dim: Dimension,
    name: &'static str,
    factor: f64,
}

const fn unit(dim: Dimension, name: &'static str, factor: f64) -> Option<Unit> {
    Some(Unit { dim, name, factor })
}

/// Unit words looked up in lowercase; `raw` is the word as written, for the few abbreviations
/// whose case matters ("B" is a byte, "b" is not; "m" is a metre, "M" a million).
fn unit_word(lower: &str, raw: &str) -> Option<Unit> {
    use Dimension::{DataSize, Distance, Quantity, Volume};
    match lower {
        "km" | "kms" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => {
            unit(Distance, "kilometre", 1.0)
        }
        "m" if raw == "m" => unit(Distance, "metre", 1.0),
        "meter" | "meters" | "metre" | "metres" => unit(Distance, "metre", 1.0),
        "cm" | "centimeter" | "centimeters" | "centimetre" | "centimetres" => {
            unit(Distance, "centimetre", 1.0)
        }
        "mm" | "millimeter" | "millimeters" | "millimetre" | "millimetres" => {
            unit(Distance, "millimetre", 1.0)
        }
        "mi" | "mile" | "miles" => unit(Distance, "mile", 1.0),
        "ft" | "foot" | "feet" => unit(Distance, "foot", 1.0),
        "inch" | "inches" => unit(Distance, "inch", 1.0),
        "yd" | "yds" | "yard" | "yards" => unit(Distance, "yard", 1.0),
        "l" | "liter" | "liters" | "litre" | "litres" => unit(Volume, "litre", 1.0),
        "ml" | "milliliter" | "milliliters" | "millilitre" | "millilitres" => {
            unit(Volume, "millilitre", 1.0)
        }
        "gal" | "gallon" | "gallons" => unit(Volume, "gallon", 1.0),
        "hl" | "hectoliter" | "hectoliters" | "hectolitre" | "hectolitres" => {
            unit(Volume, "hectolitre", 1.0)
        }
        "g" | "gr" | "gram" | "grams" | "gramme" | "grammes" => unit(Quantity, "gram", 1.0),
        "kg" | "kgs" | "kilogram" | "kilograms" | "kilo" | "kilos" => {
            unit(Quantity, "gram", 1000.0)
        }
        "mg" | "milligram" | "milligrams" => unit(Quantity, "gram", 0.001),
        "lb" | "lbs" => unit(Quantity, "pound", 1.0),
        "oz" | "ounce" | "ounces" => unit(Quantity, "ounce", 1.0),
        "cup" | "cups" => unit(Quantity, "cup", 1.0),
        "tbsp" | "tablespoon" | "tablespoons" => unit(Quantity, "tablespoon", 1.0),
        "tsp" | "teaspoon" | "teaspoons" => unit(Quantity, "teaspoon", 1.0),
        "pint" | "pints" => unit(Volume, "pint", 1.0),
        "quart" | "quarts" => unit(Quantity, "quart", 1.0),
        "bowl" | "bowls" => unit(Quantity, "bowl", 1.0),
        "b" if raw == "B" => unit(DataSize, "byte", 1.0),
        "byte" | "bytes" => unit(DataSize, "byte", 1.0),
        "kb" | "kilobyte" | "kilobytes" => unit(DataSize, "kilobyte", 1.0),
        "mb" | "megabyte" | "megabytes" => unit(DataSize, "megabyte", 1.0),
        "gb" | "gigabyte" | "gigabytes" => unit(DataSize, "gigabyte", 1.0),
        "tb" | "terabyte" | "terabytes" => unit(DataSize, "terabyte", 1.0),
        "pb" | "petabyte" | "petabytes" => unit(DataSize, "petabyte", 1.0),
        "kib" => unit(DataSize, "kibibyte", 1.0),
        "mib" => unit(DataSize, "mebibyte", 1.0),
        "gib" => unit(DataSize, "gibibyte", 1.0),
        "tib" => unit(DataSize, "tebibyte", 1.0),
        _ => None,
    }
}

/// Currency words and codes after a number, with the ISO code we report.
fn currency_word(w: &str) -> Option<&'static str> {
    Some(match w {
        "dollar" | "dollars" | "usd" | "buck" | "bucks" => "USD",
        "euro" | "euros" | "eur" => "EUR",
        "pound" | "pounds" | "gbp" | "quid" => "GBP",
        "yen" | "jpy" => "JPY",
        "cent" | "cents" => "cent",
        "chf" | "franc" | "francs" => "CHF",
        "cad" => "CAD",
        "aud" => "AUD",
        "inr" | "rupee" | "rupees" => "INR",
        "cny" | "yuan" | "rmb" => "CNY",
        _ => return None,
    })
}

/// Currency codes that may also come before a number ("USD 5").
fn currency_code_prefix(w: &str) -> Option<&'static str> {
    match w {
        "usd" | "eur" | "gbp" | "jpy" | "chf" | "cad" | "aud" | "inr" | "cny" => currency_word(w),
        _ => None,
    }
}

fn currency_sign(c: char) -> Option<&'static str> {
    match c {
        '$' => Some("USD"),
        '€' => Some("EUR"),
        '£' => Some("GBP"),
        '¥' => Some("JPY"),
        '₹' => Some("INR"),
        _ => None,
    }
}

/// Duration unit words, shared with the time rules ("in 2 hours", "3 days ago").
pub(crate) fn duration_unit(w: &str) -> Option<Grain> {
    Some(match w {
        "s" | "sec" | "secs" | "second" | "seconds" => Grain::Second,
        "min" | "mins" | "minute" | "minutes" => Grain::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Grain::Hour,
        "day" | "days" => Grain::Day,
        "wk" | "wks" | "week" | "weeks" => Grain::Week,
        "month" | "months" => Grain::Month,
        "yr" | "yrs" | "year" | "years" => Grain::Year,
        _ => return None,
    })
}

/// Whether token `i` ends a measurement, after which "in <amount of time>" says how long it
/// takes, not when ("10 km in 50 minutes", "5 GB in 10 minutes", "24 hours in a day"): a
/// unit of distance, volume, quantity or data, or a unit of time after a number or "a".
pub(crate) fn ends_measurement(lx: &Lexed, i: usize) -> bool {
    let Some(w) = lx.word(i) else {
        return false;
    };
    if let Some(u) = unit_word(w, lx.raw(i)) {
        // A data unit only after its number ("5 GB in 10 minutes", not "plan B in 2 weeks").
        return u.dim != Dimension::DataSize || (i > 0 && lx.number(i - 1).is_some());
    }
    duration_unit(w).is_some()
        && i > 0
        && (lx.number(i - 1).is_some()
            || lx
                .word(i - 1)
                .is_some_and(|p| matches!(p, "a" | "an") || super::numeral::is_number_word(p)))
}

/// Whether the word `w` at `i` names a unit of time or measure ("seconds", "km", "pounds").
pub(crate) fn is_unit_name(lx: &Lexed, i: usize, w: &str) -> bool {
    duration_unit(w).is_some()
        || unit_word(w, lx.raw(i)).is_some()
        || currency_word(w).is_some()
        || matches!(w, "degrees" | "celsius" | "fahrenheit")
}

/// A duration value, moved to a finer unit when fractional ("1.5 hours" is 90 minutes).
pub(crate) fn duration_value(mut value: f64, mut unit: Grain) -> EntityValue {
    while value.fract().abs() > 1e-9 && unit != Grain::Second {
        let finer = unit.finer();
        value = (value * unit.seconds() / finer.seconds() * 1e6).round() / 1e6;
        unit = finer;
    }
    EntityValue::Duration { value, unit }
}

/// Every measure built on the given numerals, and every duration.
pub(crate) fn scan_measures(lx: &Lexed, numerals: &[Numeral], out: &mut Vec<Candidate>) {
    for n in numerals {
        if let Some(c) = money_before(lx, n).or_else(|| unit_after(lx, n)) {
            out.push(c);
        }
    }
    scan_durations(lx, out);
}

/// The amount of time at `i` (computed once per request by the lexer).
pub(crate) fn duration_at(lx: &Lexed, i: usize) -> Option<(f64, Grain, usize)> {
    lx.duration(i)
}

/// An amount of time at `i`: "2 hours", "an hour", "half an hour", "1.5 days",
/// "an hour and a half". Returns (value in `unit`, unit, end token).
pub(crate) fn compute_duration_at(lx: &Lexed, i: usize) -> Option<(f64, Grain, usize)> {
    if matches!(lx.word(i), Some("a" | "one" | "quarter" | "three"))
        && let Some(d) = fraction_of_unit(lx, i)
    {
        return Some(d);
    }
    let (value, j, article) = match lx.word(i) {
        Some("a" | "an") => {
            // "twice a day", "per hour", "£8 a month", "10 terabytes a day" are rates, not
            // durations.
            let rate = i > 0
                && (matches!(
                    lx.word(i - 1),
                    Some("once" | "twice" | "thrice" | "times" | "per")
                ) || (ends_amount(lx, i - 1) && !shifts_time(lx.word(i + 2))));
            if rate {
                return None;
            }
            (1.0, i + 1, true)
        }
        Some("half") if matches!(lx.word(i + 1), Some("a" | "an")) => (0.5, i + 2, true),
        _ => {
            let n = super::numeral::numeral_at(lx, i)?;
            if n.value < 0.0 {
                return None;
            }
            // "two and a half hours".
            let and_a_half = lx.is_word(n.end, "and")
                && lx.is_word(n.end + 1, "a")
                && lx.is_word(n.end + 2, "half")
                && lx.word(n.end + 3).and_then(duration_unit).is_some();
            if and_a_half {
                (n.value + 0.5, n.end + 3, false)
            } else {
                (n.value, hyphenated_unit(lx, n.end), false)
            }
        }
    };
    let w = lx.word(j)?;
    // After "a", only the full word: "a min" is not "a minute".
    let spelled_out = matches!(
        w,
        "second" | "minute" | "hour" | "day" | "week" | "fortnight" | "month" | "year"
    );
    if article && !spelled_out {
        return None;
    }
    if matches!(w, "fortnight" | "fortnights") {
        // Two weeks, which Duckling reports in days.
        return Some((value * 14.0, Grain::Day, j + 1));
    }
    // "1h 30m": after hours, a glued "m" is minutes, not metres.
    let minutes_after_hours = w == "m"
        && lx.glued(j)
        && i > 0
        && lx.word(i - 1).and_then(duration_unit) == Some(Grain::Hour);
    let unit = if minutes_after_hours {
        Grain::Minute
    } else {
        duration_unit(w)?
    };
    let and_a_half =
        lx.is_word(j + 1, "and") && lx.is_word(j + 2, "a") && lx.is_word(j + 3, "half");
    if and_a_half {
        return Some((value + 0.5, unit, j + 4));
    }
    Some((value, unit, j + 1))
}

/// A word after an amount of time that makes it a shift in time, not a rate ("paid $20 a
/// week ago").
fn shifts_time(w: Option<&str>) -> bool {
    matches!(
        w,
        Some("ago" | "later" | "earlier" | "before" | "after" | "from" | "since")
    )
}

/// Whether token `k` ends an amount or a measure, so that "a day" after it is "per day":
/// digits ("£8 a month"), a number word ("five a day"), a "%" sign, or a unit, currency or
/// duration word right after a number ("10 terabytes a day", "20 euros an hour", "3 hours a
/// day"; not "it's a day", where "s" is no unit).
fn ends_amount(lx: &Lexed, k: usize) -> bool {
    use super::lexer::TokenKind;
    let numeric = |k: usize| match lx.tokens[k].kind {
        TokenKind::Number { .. } => true,
        TokenKind::Word => lx
            .word(k)
            .is_some_and(|w| super::numeral::is_number_word(w) || super::numeral::is_scale_word(w)),
        TokenKind::Punct(_) => false,
    };
    match lx.tokens[k].kind {
        TokenKind::Punct(c) => c == '%',
        TokenKind::Word if !numeric(k) => {
            k > 0
                && numeric(k - 1)
                && lx.word(k).is_some_and(|w| {
                    matches!(w, "percent" | "pct" | "k")
                        || currency_word(w).is_some()
                        || duration_unit(w).is_some()
                        || unit_word(w, lx.raw(k)).is_some()
                })
        }
        _ => numeric(k),
    }
}

/// "(a) quarter of an hour", "three quarters of an hour", "half of a day".
fn fraction_of_unit(lx: &Lexed, i: usize) -> Option<(f64, Grain, usize)> {
    let (fraction, j) = match (lx.word(i)?, lx.word(i + 1)) {
        ("a" | "one", Some("quarter")) => (0.25, i + 2),
        ("quarter", _) => (0.25, i + 1),
        ("three", Some("quarters")) => (0.75, i + 2),
        _ => return None,
    };
    if !lx.is_word(j, "of") || !matches!(lx.word(j + 1), Some("a" | "an")) {
        return None;
    }
    let unit = duration_unit(lx.word(j + 2)?)?;
    Some((fraction, unit, j + 3))
}

/// Durations, joining "3 hrs 20 mins" (and "2 hours and 30 minutes") into one.
fn scan_durations(lx: &Lexed, out: &mut Vec<Candidate>) {
    let mut i = 0;
    while i < lx.len() {
        let Some((mut value, mut unit, mut end)) = duration_at(lx, i) else {
            i += 1;
            continue;
        };
        loop {
            let next = if lx.is_word(end, "and") || lx.is_punct(end, ',') {
                end + 1
            } else {
                end
            };
            match duration_at(lx, next) {
                Some((v, u, e)) if u < unit => {
                    value = value * unit.seconds() / u.seconds() + v;
                    unit = u;
                    end = e;
                }
                _ => break,
            }
        }
        out.push(candidate(
            lx,
            Dimension::Duration,
            i,
            end,
            duration_value(value, unit),
        ));
        i = end;
    }
}

fn candidate(
    lx: &Lexed,
    dim: Dimension,
    start: usize,
    end: usize,
    value: EntityValue,
) -> Candidate {
    Candidate {
        dim,
        start: lx.start(start),
        end: lx.end_before(end),
        value,
    }
}

fn measure(value: f64, unit: &'static str) -> EntityValue {
    EntityValue::Measure {
        value,
        unit,
        product: None,
    }
}

/// "$5", "€20", "USD 5".
fn money_before(lx: &Lexed, n: &Numeral) -> Option<Candidate> {
    let before = n.start.checked_sub(1)?;
    let code = match lx.tokens[before].kind {
        super::lexer::TokenKind::Punct(c) if !lx.tokens[n.start].spaced => currency_sign(c)?,
        super::lexer::TokenKind::Word => currency_code_prefix(lx.word(before)?)?,
        _ => return None,
    };
    Some(candidate(
        lx,
        Dimension::AmountOfMoney,
        before,
        n.end,
        measure(n.value, code),
    ))
}

/// Where the unit word after a numeral ending at `end` starts: past a hyphen in a compound
/// adjective ("a 12-inch pizza", "a 10-minute walk"), which Duckling misses but a reader
/// takes as the measure. Single letters ("3-D", "4-H") are not units there.
fn hyphenated_unit(lx: &Lexed, end: usize) -> usize {
    let compound = lx.is_punct(end, '-')
        && lx.glued(end)
        && lx.glued(end + 1)
        && lx.word(end + 1).is_some_and(|w| w.len() > 1);
    if compound { end + 1 } else { end }
}

/// Whether the tokens at `j` make a number just before them a measure ("10 km", "10%",
/// "10 dollars", "10 minutes") or a rate ("10 each", "10 mph"): the time rules then leave a
/// bare "at 10" alone.
pub(crate) fn unit_follows(lx: &Lexed, j: usize) -> bool {
    let Some(tok) = lx.tokens.get(j) else {
        return false;
    };
    if let super::lexer::TokenKind::Punct(c) = tok.kind {
        return matches!(c, '%' | '°' | '/' | 'x' | '×') || currency_sign(c).is_some();
    }
    let Some(w) = lx.word(j) else {
        return false;
    };
    matches!(
        w,
        "percent"
            | "pct"
            | "per"
            | "degree"
            | "degrees"
            | "deg"
            | "celsius"
            | "centigrade"
            | "fahrenheit"
            | "kelvin"
            | "kelvins"
            | "each"
            | "times"
            | "x"
            | "mph"
            | "kph"
            | "kmh"
            | "rpm"
            | "bpm"
            | "fps"
            | "points"
            | "pts"
            | "k"
    ) || currency_word(w).is_some()
        || duration_unit(w).is_some()
        || unit_word(w, lx.raw(j)).is_some()
        || super::numeral::is_scale_word(w)
}

/// A unit after the number.
fn unit_after(lx: &Lexed, n: &Numeral) -> Option<Candidate> {
    let j = hyphenated_unit(lx, n.end);
    let tok = lx.tokens.get(j)?;
    if let super::lexer::TokenKind::Punct(c) = tok.kind {
        return match c {
            '%' => Some(candidate(
                lx,
                Dimension::Percentage,
                n.start,
                j + 1,
                measure(n.value, "%"),
            )),
            '°' => Some(temperature(lx, n, j + 1)),
            _ if !tok.spaced => currency_sign(c).map(|code| {
                candidate(
                    lx,
                    Dimension::AmountOfMoney,
                    n.start,
                    j + 1,
                    measure(n.value, code),
                )
            }),
            _ => None,
        };
    }
    let w = lx.word(j)?;
    match w {
        "percent" | "pct" => {
            return Some(candidate(
                lx,
                Dimension::Percentage,
                n.start,
                j + 1,
                measure(n.value, "%"),
            ));
        }
        "per" if lx.is_word(j + 1, "cent") => {
            return Some(candidate(
                lx,
                Dimension::Percentage,
                n.start,
                j + 2,
                measure(n.value, "%"),
            ));
        }
        "degree" | "degrees" | "deg" => return Some(temperature(lx, n, j + 1)),
        "celsius" | "centigrade" | "fahrenheit" | "kelvin" | "kelvins" => {
            return Some(temperature(lx, n, j));
        }
        // "98.6 F", "30C": a capital scale letter that ends the phrase.
        "f" | "c" if matches!(lx.raw(j), "F" | "C") && ends_scale_letter(lx, j + 1) => {
            return Some(temperature(lx, n, j));
        }
        "pound" | "pounds" if lx.is_word(j + 1, "of") || about_weight(lx, n.start, j) => {
            let u = Unit {
                dim: Dimension::Quantity,
                name: "pound",
                factor: 1.0,
            };
            return Some(physical(lx, n, j, u));
        }
        _ => {}
    }
    if let Some(code) = currency_word(w) {
        let (value, end) = with_cents(lx, n.value, code, j + 1);
        return Some(candidate(
            lx,
            Dimension::AmountOfMoney,
            n.start,
            end,
            measure(value, code),
        ));
    }
    let u = unit_word(w, lx.raw(j))?;
    if u.dim == Dimension::Distance && is_speed(lx, j + 1) {
        // "100 km/h" is a speed, which has no dimension: the number alone stays.
        return None;
    }
    Some(physical(lx, n, j, u))
}

/// "/h", "/s", "per hour", "an hour" right after a distance make it a speed ("100 km/h",
/// "5 m/s", "60 miles per hour", "20 km an hour"); "5 km a day" stays a distance.
fn is_speed(lx: &Lexed, k: usize) -> bool {
    if matches!(lx.word(k), Some("an" | "a")) {
        return lx.is_word(k + 1, "hour");
    }
    let per = (lx.is_punct(k, '/') && lx.glued(k + 1)) || lx.is_word(k, "per");
    per && lx
        .word(k + 1)
        .and_then(duration_unit)
        .is_some_and(|g| g <= Grain::Hour)
}

/// A capital "F" or "C" after a number is a temperature scale when it ends the phrase (not
/// "5 C.E.", not "grade 5 C students").
fn ends_scale_letter(lx: &Lexed, k: usize) -> bool {
    match lx.tokens.get(k).map(|t| t.kind) {
        None | Some(super::lexer::TokenKind::Number { .. }) => true,
        Some(super::lexer::TokenKind::Punct(c)) => {
            !(c == '.' && lx.glued(k) && lx.glued(k + 1) && lx.word(k + 1).is_some())
        }
        Some(super::lexer::TokenKind::Word) => false,
    }
}

/// Whether "pounds" (at `j`, its number starting at `i`) are the unit of mass rather than
/// sterling: one of the three words before the number speaks of weight ("it weighs 2
/// pounds", "lost 5 pounds", "gained 3 pounds"); a comparison of weight follows ("5 pounds
/// heavier"); or it is converted to or from another unit of mass ("convert 5 pounds to kg",
/// "how many kilos is 5 pounds"). A currency target keeps it money ("5 pounds in dollars").
fn about_weight(lx: &Lexed, i: usize, j: usize) -> bool {
    let weight_verb = |w: &str| {
        w.starts_with("weigh")
            || matches!(
                w,
                "lose"
                    | "loses"
                    | "losing"
                    | "lost"
                    | "gain"
                    | "gains"
                    | "gained"
                    | "gaining"
                    | "shed"
                    | "sheds"
                    | "shedding"
            )
    };
    let mass_unit = |k: usize| {
        lx.word(k).is_some_and(|w| {
            matches!(w, "stone" | "stones")
                || unit_word(w, lx.raw(k)).is_some_and(|u| u.dim == Dimension::Quantity)
        })
    };
    let verb_before = (i.saturating_sub(3)..i).any(|k| lx.word(k).is_some_and(weight_verb));
    let comparison_after = matches!(
        lx.word(j + 1),
        Some("heavier" | "lighter" | "overweight" | "underweight")
    );
    let converted_to = matches!(lx.word(j + 1), Some("to" | "in" | "into")) && mass_unit(j + 2);
    let converted_from = i >= 3
        && matches!(lx.word(i - 1), Some("is" | "are" | "in"))
        && mass_unit(i - 2)
        && lx.is_word(i - 3, "many");
    verb_before || comparison_after || converted_to || converted_from
}

/// "5 dollars and 20 cents" is 5.2 dollars.
fn with_cents(lx: &Lexed, value: f64, code: &'static str, end: usize) -> (f64, usize) {
    if code == "cent" || !lx.is_word(end, "and") {
        return (value, end);
    }
    match super::numeral::numeral_at(lx, end + 1) {
        Some(c) if matches!(lx.word(c.end), Some("cent" | "cents")) && c.value < 100.0 => {
            ((value * 100.0 + c.value).round() / 100.0, c.end + 1)
        }
        _ => (value, end),
    }
}

/// Distance, volume, quantity (with "of <product>") or data-size; the unit word is at `j`.
fn physical(lx: &Lexed, n: &Numeral, j: usize, u: Unit) -> Candidate {
    let mut value = (n.value * u.factor * 1e6).round() / 1e6;
    let mut end = j + 1;
    let mut unit = u.name;
    // "5 feet 6 inches" is 66 inches, as Duckling has it.
    if u.name == "foot"
        && let Some(inches) = super::numeral::numeral_at(lx, end)
        && matches!(lx.word(inches.end), Some("inch" | "inches"))
    {
        value = value * 12.0 + inches.value;
        unit = "inch";
        end = inches.end + 1;
    }
    let mut product = None;
    if u.dim == Dimension::Quantity
        && lx.is_word(end, "of")
        && let Some(p) = lx.word(end + 1).filter(|p| !is_determiner(p))
    {
        product = Some(p.to_string());
        end += 2;
    }
    let value = EntityValue::Measure {
        value,
        unit,
        product,
    };
    candidate(lx, u.dim, n.start, end, value)
}

fn is_determiner(w: &str) -> bool {
    matches!(
        w,
        "the"
            | "a"
            | "an"
            | "my"
            | "your"
            | "our"
            | "this"
            | "that"
            | "these"
            | "those"
            | "it"
            | "them"
            | "which"
            | "what"
    )
}

/// A temperature whose scale word, if any, starts at `j` ("°F", "degrees celsius").
fn temperature(lx: &Lexed, n: &Numeral, j: usize) -> Candidate {
    let scale = match lx.word(j) {
        Some("c" | "celsius" | "centigrade") => Some("celsius"),
        Some("f" | "fahrenheit") => Some("fahrenheit"),
        Some("kelvin" | "kelvins") => Some("kelvin"),
        _ => None,
    };
    let (unit, end) = match scale {
        Some(s) => (s, j + 1),
        None => ("degree", j),
    };
    candidate(
        lx,
        Dimension::Temperature,
        n.start,
        end,
        measure(n.value, unit),
    )
}

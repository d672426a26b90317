//! Unit tests of the extractor: the labelled evaluation set, each dimension, and hostile input.

use super::eval::{Score, parse_cases, score_extractor, to_json};
use super::*;
use serde_json::{Value, json};

const EVAL_SET: &str = include_str!("../../../benches/data/extract_eval.jsonl");

fn opts() -> ExtractOptions {
    ExtractOptions {
        reference_time: DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z").unwrap(),
        tz: chrono_tz::UTC,
        dims: None,
    }
}

/// (dim, body, value) of every entity, for compact assertions.
fn found(text: &str) -> Vec<(String, String, Value)> {
    let entities = extract(text, &opts());
    to_json(&entities)
        .into_iter()
        .zip(entities)
        .map(|(mut j, e)| {
            if let Some(m) = j["value"].as_object_mut() {
                m.remove("values");
            }
            (e.dim.to_string(), e.body, j["value"].clone())
        })
        .collect()
}

fn one(text: &str) -> (String, String, Value) {
    let all = found(text);
    assert_eq!(all.len(), 1, "{text:?} gave {all:?}");
    all.into_iter().next().unwrap()
}

fn assert_one(text: &str, dim: &str, body: &str, value: Value) {
    assert_eq!(
        one(text),
        (dim.to_string(), body.to_string(), value),
        "{text:?}"
    );
}

#[test]
fn eval_set_f1_at_least_95_percent() {
    let cases = parse_cases(EVAL_SET).expect("eval set parses");
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    assert!(cases.iter().filter(|c| c.is_heldout()).count() >= 50);
    let all = score_extractor(&cases, |_| true).unwrap();
    let heldout = score_extractor(&cases, |c| c.is_heldout()).unwrap();
    println!("all:\n{}held-out:\n{}", all.report(), heldout.report());
    let f1 = all.all.f1();
    assert!(
        f1 >= 0.95,
        "F1 {f1:.3} < 0.95\n{}\n{}",
        all.report(),
        all.errors.join("\n")
    );
}

#[test]
fn scoring_counts_matches_misses_and_spurious() {
    let mut s = Score::default();
    let a = json!({"dim": "number", "start": 0, "end": 1, "value": {"type": "value", "value": 1}});
    let b = json!({"dim": "number", "start": 2, "end": 3, "value": {"type": "value", "value": 2}});
    s.add("1 2", &[a.clone(), b], &[a.clone(), a]);
    assert_eq!(
        (s.all.true_pos, s.all.false_pos, s.all.false_neg),
        (1, 1, 1)
    );
}

#[test]
fn numbers_in_digits_and_words() {
    let n = |text: &str, v: Value| {
        assert_one(text, "number", text, json!({"type": "value", "value": v}))
    };
    n("42", json!(42));
    n("1,250", json!(1250));
    n("19.99", json!(19.99));
    n("2.5k", json!(2500));
    n("1.2 million", json!(1200000));
    n("forty two", json!(42));
    n("forty-two", json!(42));
    n("a dozen", json!(12));
    n("one hundred and twenty", json!(120));
    n("two thousand five hundred", json!(2500));
    n("-5", json!(-5));
}

#[test]
fn arithmetic_keeps_bare_numbers() {
    let dims: Vec<_> = found("7 times 8 divide by 25 then 100 - 25")
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(dims, ["number"; 5]);
}

#[test]
fn ordinals() {
    assert_one(
        "the third item",
        "ordinal",
        "third",
        json!({"type": "value", "value": 3}),
    );
    assert_one(
        "21st",
        "ordinal",
        "21st",
        json!({"type": "value", "value": 21}),
    );
    assert_one(
        "twenty-first",
        "ordinal",
        "twenty-first",
        json!({"type": "value", "value": 21}),
    );
    assert!(
        found("5 requests per second")
            .iter()
            .all(|e| e.0 == "number")
    );
}

#[test]
fn money() {
    let m = |v: Value, u: &str| json!({"type": "value", "value": v, "unit": u});
    assert_one("$5", "amount-of-money", "$5", m(json!(5), "USD"));
    assert_one("5 USD", "amount-of-money", "5 USD", m(json!(5), "USD"));
    assert_one(
        "20 euros",
        "amount-of-money",
        "20 euros",
        m(json!(20), "EUR"),
    );
    assert_one("€1,200", "amount-of-money", "€1,200", m(json!(1200), "EUR"));
    assert_one(
        "99 cents",
        "amount-of-money",
        "99 cents",
        m(json!(99), "cent"),
    );
}

#[test]
fn units_of_measure() {
    let m = |v: Value, u: &str| json!({"type": "value", "value": v, "unit": u});
    assert_one("5 km", "distance", "5 km", m(json!(5), "kilometre"));
    assert_one("3 miles", "distance", "3 miles", m(json!(3), "mile"));
    assert_one("2 litres", "volume", "2 litres", m(json!(2), "litre"));
    assert_one("72°F", "temperature", "72°F", m(json!(72), "fahrenheit"));
    assert_one("500 MB", "data-size", "500 MB", m(json!(500), "megabyte"));
    assert_one("15%", "percentage", "15%", m(json!(15), "%"));
    assert_one("10 kg", "quantity", "10 kg", m(json!(10000), "gram"));
    assert_one(
        "3 cups of sugar",
        "quantity",
        "3 cups of sugar",
        json!({"type": "value", "value": 3, "unit": "cup", "product": "sugar"}),
    );
    // Duckling reads "10 km in" as inches; "in" is never a unit here.
    assert_eq!(found("10 km in 50 minutes").len(), 2);
}

#[test]
fn durations() {
    assert_one(
        "2 hours",
        "duration",
        "2 hours",
        json!({"type": "value", "value": 2, "hour": 2, "unit": "hour",
               "normalized": {"unit": "second", "value": 7200}}),
    );
    assert_eq!(one("1.5 hours").2["unit"], "minute");
    assert_eq!(one("half an hour").2["value"], 30);
}

#[test]
fn times() {
    let t = |text: &str, body: &str, at: &str, grain: &str| {
        assert_one(
            text,
            "time",
            body,
            json!({"type": "value", "value": at, "grain": grain}),
        );
    };
    t(
        "tomorrow at 3pm",
        "tomorrow at 3pm",
        "2026-11-27T15:00:00.000+00:00",
        "hour",
    );
    t(
        "next Monday",
        "next Monday",
        "2026-11-30T00:00:00.000+00:00",
        "day",
    );
    t(
        "in 2 hours",
        "in 2 hours",
        "2026-11-26T12:00:00.000+00:00",
        "minute",
    );
    t(
        "2026-12-25",
        "2026-12-25",
        "2026-12-25T00:00:00.000+00:00",
        "day",
    );
    t(
        "Q3 2026",
        "Q3 2026",
        "2026-07-01T00:00:00.000+00:00",
        "quarter",
    );
    t(
        "the 15th of next month",
        "the 15th of next month",
        "2026-12-15T00:00:00.000+00:00",
        "day",
    );
    t(
        "yesterday",
        "yesterday",
        "2026-11-25T00:00:00.000+00:00",
        "day",
    );
    t(
        "at 9:30",
        "at 9:30",
        "2026-11-26T21:30:00.000+00:00",
        "minute",
    );
    assert!(found("divide by 25").iter().all(|e| e.0 == "number"));
}

#[test]
fn time_zone_and_intervals() {
    let mut o = opts();
    o.tz = chrono_tz::America::New_York;
    let e = extract("tomorrow at 3pm", &o);
    let v = serde_json::to_value(&e[0].value).unwrap();
    assert_eq!(v["value"], "2026-11-27T15:00:00.000-05:00");
    let (_, _, v) = one("from 9am to 5pm tomorrow");
    assert_eq!(v["type"], "interval");
    assert_eq!(v["to"]["value"], "2026-11-27T17:00:00.000+00:00");
}

#[test]
fn contacts() {
    assert_one(
        "mail a.b@example.com",
        "email",
        "a.b@example.com",
        json!({"type": "value", "value": "a.b@example.com"}),
    );
    assert_one(
        "see https://www.example.com/x?y=1.",
        "url",
        "https://www.example.com/x?y=1",
        json!({"type": "value", "value": "https://www.example.com/x?y=1", "domain": "example.com"}),
    );
    assert_one(
        "call +1 415 555 0100",
        "phone-number",
        "+1 415 555 0100",
        json!({"type": "value", "value": "(+1) 4155550100"}),
    );
}

#[test]
fn char_offsets_count_characters_not_bytes() {
    let e = extract("€€ 5 km", &opts());
    assert_eq!((e[0].start, e[0].end, e[0].body.as_str()), (3, 7, "5 km"));
}

#[test]
fn dims_filter_returns_numbers_inside_measures() {
    let mut o = opts();
    o.dims = Some(vec![Dimension::Number]);
    let e = extract("5 km in 2 hours", &o);
    assert_eq!(
        e.iter().map(|e| e.body.as_str()).collect::<Vec<_>>(),
        ["5", "2"]
    );
}

#[test]
fn dimension_names_round_trip() {
    for d in Dimension::ALL {
        assert_eq!(d.as_str().parse::<Dimension>(), Ok(d));
        assert_eq!(serde_json::to_value(d).unwrap(), json!(d.as_str()));
    }
    assert!("money".parse::<Dimension>().is_err());
}

#[test]
fn hostile_input_never_panics() {
    let long_digits = "9".repeat(5000);
    let repeated = "forty ".repeat(20_000);
    let hundreds = "one hundred hundred thousand ".repeat(5_000);
    let mixed =
        "at 3pm on the 15th of next month $5 5 km 1,2,3,, 12:99pm 2026-13-45 ".repeat(1_500);
    let controls = "\u{0}\u{1}5\u{7f} km\u{202e}€\t\r\n";
    let signs = "minus ".repeat(20_000) + "3 degrees";
    let hours = "at 10 ".repeat(20_000);
    let weekdays = "the fifth Monday of next month at 10 ".repeat(2_000);
    let long_after_words = [
        format!("minus {long_digits} degrees"),
        format!("at {long_digits}"),
        format!("1-{long_digits}"),
        format!("1-800-555-{long_digits}"),
        format!("{long_digits}-inch and a half hours"),
        format!("the {long_digits}th Monday of May"),
    ];
    let cut_short = [
        "minus",
        "negative -",
        "the third Monday of",
        "the third Monday in",
        "last Friday of",
        "last Friday of the",
        "at",
        "at 10:",
        "1-800-",
        "+1 (",
        "221B",
        "two and a",
        "two and a half",
        "12-",
        "at 10\u{301}",
        "minus \u{ff13} degrees",
        "\u{663} days ago",
        "\u{0}at\u{0}10\u{0}",
        "half past",
        "quarter to",
        "a quarter of an",
        "from 2 to",
        "tomorrow from 9am to",
        "from Monday to",
        "5 feet 6",
        "at around",
        "last",
        "this past",
    ];
    for text in cut_short
        .iter()
        .copied()
        .chain(long_after_words.iter().map(String::as_str))
        .chain([signs.as_str(), hours.as_str(), weekdays.as_str()])
    {
        for e in extract(text, &opts()) {
            assert!(e.start <= e.end && e.end <= text.chars().count());
        }
    }
    for text in [
        "",
        " ",
        "1,2,3,,",
        ",,,",
        "-",
        "$",
        "°",
        controls,
        &long_digits,
        &repeated,
        &hundreds,
        &mixed,
    ] {
        let entities = extract(text, &opts());
        for e in &entities {
            assert!(e.start <= e.end && e.end <= text.chars().count());
            serde_json::to_string(e).unwrap();
        }
    }
    assert!(extract(&long_digits, &opts()).is_empty());
    assert_eq!(extract("1,2,3,,", &opts()).len(), 3);
}

#[test]
fn large_input_is_linear() {
    let sentence = "book a meeting tomorrow at 3pm, convert 5 km to miles and email a@b.io. ";
    let text = sentence.repeat(100_000 / sentence.len() + 1);
    let start = std::time::Instant::now();
    let n = extract(&text, &opts()).len();
    assert!(n >= 1400, "{n}");
    // Generous bound that only a quadratic algorithm would break, even unoptimised.
    assert!(start.elapsed().as_secs() < 10);
}

/// Every entity of `text` as (dim, body, start, end, value without `values`).
fn exact(text: &str) -> Vec<(String, String, usize, usize, Value)> {
    exact_at(text, &opts())
}

fn exact_at(text: &str, o: &ExtractOptions) -> Vec<(String, String, usize, usize, Value)> {
    extract(text, o)
        .into_iter()
        .map(|e| {
            let mut v = serde_json::to_value(&e.value).unwrap();
            if let Some(m) = v.as_object_mut() {
                m.remove("values");
            }
            (e.dim.to_string(), e.body, e.start, e.end, v)
        })
        .collect()
}

fn entity(
    dim: &str,
    body: &str,
    start: usize,
    value: Value,
) -> (String, String, usize, usize, Value) {
    let end = start + body.chars().count();
    (dim.to_string(), body.to_string(), start, end, value)
}

fn instant(at: &str, grain: &str) -> Value {
    json!({"type": "value", "value": at, "grain": grain})
}

fn options_at(reference: &str) -> ExtractOptions {
    ExtractOptions {
        reference_time: DateTime::parse_from_rfc3339(reference).unwrap(),
        ..opts()
    }
}

#[test]
fn bare_hour_after_at_is_the_next_such_hour() {
    // Reference 10:00: "at 10" is this very hour, as Duckling has it.
    assert_eq!(
        exact("call me at 10"),
        [entity(
            "time",
            "at 10",
            8,
            instant("2026-11-26T10:00:00.000+00:00", "hour")
        )]
    );
    // Within that hour it is still this hour (Duckling compares at the hour grain); later in
    // the day the next 10 o'clock is 22:00, and after 22:00 it is tomorrow's 10:00.
    assert_eq!(
        exact_at("call me at 10", &options_at("2026-11-26T10:30:00Z"))[0].4["value"],
        "2026-11-26T10:00:00.000+00:00"
    );
    assert_eq!(
        exact_at("call me at 10", &options_at("2026-11-26T11:00:00Z")),
        [entity(
            "time",
            "at 10",
            8,
            instant("2026-11-26T22:00:00.000+00:00", "hour")
        )]
    );
    assert_eq!(
        exact_at("call me at 10", &options_at("2026-11-26T23:30:00Z")),
        [entity(
            "time",
            "at 10",
            8,
            instant("2026-11-27T10:00:00.000+00:00", "hour")
        )]
    );
    assert_eq!(
        exact("see you at 9."),
        [entity(
            "time",
            "at 9",
            8,
            instant("2026-11-26T21:00:00.000+00:00", "hour")
        )]
    );
    assert_eq!(
        exact("meet at 10 tomorrow"),
        [entity(
            "time",
            "at 10 tomorrow",
            5,
            instant("2026-11-27T10:00:00.000+00:00", "hour")
        )]
    );
    assert_eq!(
        exact("tomorrow at 10"),
        [entity(
            "time",
            "tomorrow at 10",
            0,
            instant("2026-11-27T10:00:00.000+00:00", "hour")
        )]
    );
    assert_eq!(
        exact("at 13"),
        [entity(
            "time",
            "at 13",
            0,
            instant("2026-11-26T13:00:00.000+00:00", "hour")
        )]
    );
}

#[test]
fn bare_number_after_at_that_counts_something_is_not_a_time() {
    let dims = |text: &str| found(text).into_iter().map(|e| e.0).collect::<Vec<_>>();
    assert_eq!(dims("drive at 10 km"), ["distance"]);
    assert_eq!(dims("grow at 10%"), ["percentage"]);
    assert_eq!(dims("look at 10 examples"), ["number"]);
    assert_eq!(dims("sold at 10 each"), ["number"]);
    assert_eq!(dims("at 10 million"), ["number"]);
    assert_eq!(dims("at 99"), ["number"]);
    assert_eq!(dims("at 0"), ["number"]);
    assert_eq!(dims("at 10:99"), ["number", "number"]);
}

#[test]
fn negative_temperatures() {
    let degree = |v: i64, unit: &str| json!({"type": "value", "value": v, "unit": unit});
    assert_eq!(
        exact("it's minus 3 degrees outside"),
        [entity(
            "temperature",
            "minus 3 degrees",
            5,
            degree(-3, "degree")
        )]
    );
    assert_eq!(
        exact("-3°C tonight")[0],
        entity("temperature", "-3°C", 0, degree(-3, "celsius"))
    );
    assert_eq!(
        exact("down to negative 12 degrees fahrenheit"),
        [entity(
            "temperature",
            "negative 12 degrees fahrenheit",
            8,
            degree(-12, "fahrenheit")
        )]
    );
    assert_eq!(
        exact("minus twelve"),
        [entity(
            "number",
            "minus twelve",
            0,
            json!({"type": "value", "value": -12})
        )]
    );
}

#[test]
fn minus_between_numbers_is_the_operator() {
    let values: Vec<_> = found("10 minus 4 equals 6, ten minus four, (2) minus 1")
        .into_iter()
        .map(|e| e.2["value"].clone())
        .collect();
    assert_eq!(values, [10, 4, 6, 10, 4, 2, 1]);
    // A spoken sign alone or before nothing numeric is just a word.
    assert!(found("minus").is_empty());
    assert!(found("minus -").is_empty());
}

#[test]
fn north_american_phone_numbers() {
    let phone = |v: &str| json!({"type": "value", "value": v});
    assert_eq!(
        exact("Dial 1-800-555-0199"),
        [entity(
            "phone-number",
            "1-800-555-0199",
            5,
            phone("18005550199")
        )]
    );
    assert_eq!(
        exact("call +1 (415) 555-0123 today")[0],
        entity(
            "phone-number",
            "+1 (415) 555-0123",
            5,
            phone("(+1) 4155550123")
        )
    );
    assert_eq!(
        exact("or 1 (800) 555-0199"),
        [entity(
            "phone-number",
            "1 (800) 555-0199",
            3,
            phone("18005550199")
        )]
    );
    assert_eq!(
        exact("1.800.555.0199"),
        [entity(
            "phone-number",
            "1.800.555.0199",
            0,
            phone("18005550199")
        )]
    );
}

#[test]
fn nth_weekday_of_a_month() {
    let day = |at: &str| instant(at, "day");
    assert_eq!(
        exact("the third Monday of next month"),
        [entity(
            "time",
            "the third Monday of next month",
            0,
            day("2026-12-21T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("third Monday in January"),
        [entity(
            "time",
            "third Monday in January",
            0,
            day("2027-01-18T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("the third Monday of December"),
        [entity(
            "time",
            "the third Monday of December",
            0,
            day("2026-12-21T00:00:00.000+00:00")
        )]
    );
    // The current month stays in this year even when the day is past, as in Duckling.
    assert_eq!(
        exact("the third Monday of November"),
        [entity(
            "time",
            "the third Monday of November",
            0,
            day("2026-11-16T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("first Friday of next month at 3pm"),
        [entity(
            "time",
            "first Friday of next month at 3pm",
            0,
            instant("2026-12-04T15:00:00.000+00:00", "hour")
        )]
    );
    assert_eq!(
        exact("the last Friday of the month"),
        [entity(
            "time",
            "last Friday of the month",
            4,
            day("2026-11-27T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("the last Monday of May"),
        [entity(
            "time",
            "last Monday of May",
            4,
            day("2027-05-31T00:00:00.000+00:00")
        )]
    );
    // Decembers 2026 to 2028 have four Mondays; December 2029 has five. (Duckling answers
    // 2027-12-06, the first Monday of a December with four, which is wrong.)
    assert_eq!(
        exact("the fifth Monday of December"),
        [entity(
            "time",
            "the fifth Monday of December",
            0,
            day("2029-12-31T00:00:00.000+00:00")
        )]
    );
    assert_eq!(exact("the fifth Monday of December 2026")[0].0, "ordinal");
}

#[test]
fn past_dates() {
    let t = |text: &str, body: &str, start: usize, v: Value| {
        assert_eq!(exact(text), [entity("time", body, start, v)], "{text:?}");
    };
    t(
        "sales since last Friday",
        "last Friday",
        12,
        instant("2026-11-20T00:00:00.000+00:00", "day"),
    );
    t(
        "it broke 3 days ago",
        "3 days ago",
        9,
        instant("2026-11-23T10:00:00.000+00:00", "hour"),
    );
    t(
        "yesterday at 5pm",
        "yesterday at 5pm",
        0,
        instant("2026-11-25T17:00:00.000+00:00", "hour"),
    );
    t(
        "two weeks ago",
        "two weeks ago",
        0,
        instant("2026-11-12T00:00:00.000+00:00", "day"),
    );
    t(
        "revenue last month",
        "last month",
        8,
        instant("2026-10-01T00:00:00.000+00:00", "month"),
    );
    t(
        "last week",
        "last week",
        0,
        instant("2026-11-16T00:00:00.000+00:00", "week"),
    );
    t(
        "last year",
        "last year",
        0,
        instant("2025-01-01T00:00:00.000+00:00", "year"),
    );
    t(
        "What was the weather on November 20th?",
        "on November 20th",
        21,
        instant("2026-11-20T00:00:00.000+00:00", "day"),
    );
}

#[test]
fn compound_unit_adjectives_and_half_units() {
    let m = |v: i64, u: &str| json!({"type": "value", "value": v, "unit": u});
    assert_eq!(
        exact("A 12-inch pizza"),
        [entity("distance", "12-inch", 2, m(12, "inch"))]
    );
    assert_eq!(exact("a 10-minute walk")[0].4["minute"], json!(10));
    assert_eq!(
        exact("it takes about two and a half hours"),
        [entity(
            "duration",
            "two and a half hours",
            15,
            json!({"type": "value", "value": 150, "minute": 150, "unit": "minute",
                       "normalized": {"unit": "second", "value": 9000}})
        )]
    );
    assert_eq!(
        exact("in 2 and a half hours"),
        [entity(
            "time",
            "in 2 and a half hours",
            0,
            instant("2026-11-26T12:30:00.000+00:00", "second")
        )]
    );
    // Ranges and single-letter compounds stay numbers.
    assert_eq!(exact("items 1-5 are done").len(), 2);
    assert_eq!(exact("a 3-D model")[0].0, "number");
}

#[test]
fn house_numbers_are_identifiers() {
    assert_eq!(
        exact("Ship 12 units to 221B Baker Street"),
        [entity(
            "number",
            "12",
            5,
            json!({"type": "value", "value": 12})
        )]
    );
    assert_eq!(exact("a 512B file")[0].0, "data-size");
    assert_eq!(exact("5M Users")[0].4["value"], json!(5_000_000));
}

#[test]
fn times_of_day_in_words_and_with_their_half_of_the_day() {
    let t = |text: &str, body: &str, start: usize, at: &str, grain: &str| {
        assert_eq!(
            exact(text),
            [entity("time", body, start, instant(at, grain))],
            "{text:?}"
        );
    };
    t(
        "half past ten",
        "half past ten",
        0,
        "2026-11-26T10:30:00.000+00:00",
        "minute",
    );
    t(
        "quarter to 5",
        "quarter to 5",
        0,
        "2026-11-26T16:45:00.000+00:00",
        "minute",
    );
    t(
        "at 20 past 4",
        "at 20 past 4",
        0,
        "2026-11-26T16:20:00.000+00:00",
        "minute",
    );
    t(
        "dinner at 7 tonight",
        "at 7 tonight",
        7,
        "2026-11-26T19:00:00.000+00:00",
        "hour",
    );
    t(
        "at 10 in the morning",
        "at 10 in the morning",
        0,
        "2026-11-26T10:00:00.000+00:00",
        "hour",
    );
    t(
        "at 8 tomorrow morning",
        "at 8 tomorrow morning",
        0,
        "2026-11-27T08:00:00.000+00:00",
        "hour",
    );
    t(
        "call me at 10 sharp",
        "at 10 sharp",
        8,
        "2026-11-26T10:00:00.000+00:00",
        "hour",
    );
    t(
        "at around 5pm",
        "at around 5pm",
        0,
        "2026-11-26T17:00:00.000+00:00",
        "hour",
    );
    t(
        "Friday at midnight",
        "Friday at midnight",
        0,
        "2026-11-27T00:00:00.000+00:00",
        "hour",
    );
    // "5 to 10" is a range or a sum, not 9:55.
    assert!(found("add 5 to 10").iter().all(|e| e.0 == "number"));
}

#[test]
fn more_intervals_and_relative_days() {
    let span = |from: &str, to: &str, grain: &str| {
        json!({"type": "interval", "from": {"value": from, "grain": grain},
               "to": {"value": to, "grain": grain}})
    };
    assert_eq!(
        exact("from 2 to 4pm"),
        [entity(
            "time",
            "from 2 to 4pm",
            0,
            span(
                "2026-11-26T14:00:00.000+00:00",
                "2026-11-26T16:00:00.000+00:00",
                "hour"
            )
        )]
    );
    assert_eq!(
        exact("tomorrow from 9am to 5pm"),
        [entity(
            "time",
            "tomorrow from 9am to 5pm",
            0,
            span(
                "2026-11-27T09:00:00.000+00:00",
                "2026-11-27T17:00:00.000+00:00",
                "hour"
            )
        )]
    );
    assert_eq!(
        exact("from Monday to Friday"),
        [entity(
            "time",
            "from Monday to Friday",
            0,
            span(
                "2026-11-23T00:00:00.000+00:00",
                "2026-11-27T00:00:00.000+00:00",
                "day"
            )
        )]
    );
    assert_eq!(
        exact("last weekend"),
        [entity(
            "time",
            "last weekend",
            0,
            span(
                "2026-11-20T18:00:00.000+00:00",
                "2026-11-23T00:00:00.000+00:00",
                "hour"
            )
        )]
    );
    assert_eq!(
        exact("last night"),
        [entity(
            "time",
            "last night",
            0,
            span(
                "2026-11-25T18:00:00.000+00:00",
                "2026-11-26T00:00:00.000+00:00",
                "hour"
            )
        )]
    );
    assert_eq!(
        exact("the last day of February"),
        [entity(
            "time",
            "last day of February",
            4,
            instant("2027-02-28T00:00:00.000+00:00", "day")
        )]
    );
    assert_eq!(
        exact("in 1 hour and 30 minutes"),
        [entity(
            "time",
            "in 1 hour and 30 minutes",
            0,
            instant("2026-11-26T11:30:00.000+00:00", "second")
        )]
    );
    // Counting ranges stay numbers.
    assert!(found("count from 1 to 10").iter().all(|e| e.0 == "number"));
    assert!(
        found("pick a number between 1 and 10")
            .iter()
            .all(|e| e.0 == "number")
    );
}

#[test]
fn compound_measures() {
    let m = |v: i64, u: &str| json!({"type": "value", "value": v, "unit": u});
    assert_eq!(
        exact("she is 5 feet 6 inches tall"),
        [entity("distance", "5 feet 6 inches", 7, m(66, "inch"))]
    );
    assert_eq!(
        exact("he weighs 180 pounds"),
        [entity("quantity", "180 pounds", 10, m(180, "pound"))]
    );
    assert_eq!(exact("it costs 180 pounds")[0].0, "amount-of-money");
    assert_eq!(exact("a quarter of an hour")[0].4["minute"], json!(15));
    assert_eq!(exact("three quarters of an hour")[0].4["minute"], json!(45));
    assert_eq!(exact("1h 30m")[0].4["minute"], json!(90));
    assert_eq!(exact("run 30m")[0].0, "distance");
}

fn num(v: i64) -> Value {
    json!({"type": "value", "value": v})
}

fn span(from: &str, to: &str, grain: &str) -> Value {
    json!({
        "type": "interval",
        "from": {"value": from, "grain": grain},
        "to": {"value": to, "grain": grain},
    })
}

#[test]
fn identifiers_are_not_numbers() {
    assert_eq!(exact("cancel order 55120 please"), []);
    assert_eq!(exact("see #981 for details"), []);
    assert_eq!(exact("deploy gpt-4 on node-12"), []);
    assert_eq!(exact("upgrade to node 18"), []);
    assert_eq!(exact("we run ubuntu 22.04"), []);
    // Counted after an id noun, or too short to be an id: still numbers.
    assert_eq!(
        exact("order 300 units"),
        [entity("number", "300", 6, num(300))]
    );
    assert_eq!(
        exact("ticket 12 is open"),
        [entity("number", "12", 7, num(12))]
    );
    assert_eq!(
        exact("pages 10-20"),
        [
            entity("number", "10", 6, num(10)),
            entity("number", "20", 9, num(20))
        ]
    );
}

#[test]
fn pronoun_one_is_not_a_number() {
    assert_eq!(exact("which one works"), []);
    assert_eq!(exact("one of us should go"), []);
    assert_eq!(
        exact("the third one"),
        [entity("ordinal", "third", 4, num(3))]
    );
    assert_eq!(
        exact("a 2 metre one"),
        [entity(
            "distance",
            "2 metre",
            2,
            json!({"type": "value", "value": 2, "unit": "metre"})
        )]
    );
    assert_eq!(exact("buy one apple"), [entity("number", "one", 4, num(1))]);
}

#[test]
fn speeds_are_numbers_not_distances() {
    assert_eq!(exact("drove 80 km/h"), [entity("number", "80", 6, num(80))]);
    assert_eq!(
        exact("cycled 25 miles per hour"),
        [entity("number", "25", 7, num(25))]
    );
    assert_eq!(
        exact("walk 5 km a day")[0],
        entity(
            "distance",
            "5 km",
            5,
            json!({"type": "value", "value": 5, "unit": "kilometre"})
        )
    );
}

#[test]
fn kelvin_capital_scale_letters_pints_and_fortnights() {
    fn measure(v: impl Into<Value>, unit: &str) -> Value {
        json!({"type": "value", "value": v.into(), "unit": unit})
    }
    assert_eq!(
        exact("fever of 101.3 F"),
        [entity(
            "temperature",
            "101.3 F",
            9,
            measure(101.3, "fahrenheit")
        )]
    );
    assert_eq!(
        exact("keep it at 4C."),
        [entity("temperature", "4C", 11, measure(4, "celsius"))]
    );
    assert_eq!(
        exact("water boils at 373 kelvin"),
        [entity(
            "temperature",
            "373 kelvin",
            15,
            measure(373, "kelvin")
        )]
    );
    assert_eq!(
        exact("3 pints of milk"),
        [entity("volume", "3 pints", 0, measure(3, "pint"))]
    );
    assert_eq!(
        exact("2 fortnights"),
        [entity(
            "duration",
            "2 fortnights",
            0,
            json!({"type": "value", "value": 28, "day": 28, "unit": "day",
                   "normalized": {"unit": "second", "value": 2419200}})
        )]
    );
    assert_eq!(
        exact("we meet in a fortnight"),
        [entity(
            "time",
            "in a fortnight",
            8,
            instant("2026-12-10T10:00:00.000+00:00", "hour")
        )]
    );
}

#[test]
fn holidays_misspelt_tomorrow_and_right_now() {
    let t = |text: &str, body: &str, start: usize, at: &str, grain: &str| {
        assert_eq!(
            exact(text),
            [entity("time", body, start, instant(at, grain))],
            "{text:?}"
        );
    };
    t(
        "see you tommorow",
        "tommorow",
        8,
        "2026-11-27T00:00:00.000+00:00",
        "day",
    );
    t(
        "Christmas Eve dinner",
        "Christmas Eve",
        0,
        "2026-12-24T00:00:00.000+00:00",
        "day",
    );
    t(
        "party before New Year's Eve",
        "New Year's Eve",
        13,
        "2026-12-31T00:00:00.000+00:00",
        "day",
    );
    t(
        "costumes for Halloween",
        "Halloween",
        13,
        "2027-10-31T00:00:00.000+00:00",
        "day",
    );
    t(
        "is it raining right now",
        "right now",
        14,
        "2026-11-26T10:00:00.000+00:00",
        "second",
    );
}

#[test]
fn quarters_short_dates_and_shifted_dates() {
    let t = |text: &str, body: &str, start: usize, at: &str, grain: &str| {
        assert_eq!(
            exact(text),
            [entity("time", body, start, instant(at, grain))],
            "{text:?}"
        );
    };
    t(
        "sales in the 2nd quarter of 2027",
        "the 2nd quarter of 2027",
        9,
        "2027-04-01T00:00:00.000+00:00",
        "quarter",
    );
    t(
        "third quarter 2025 results",
        "third quarter 2025",
        0,
        "2025-07-01T00:00:00.000+00:00",
        "quarter",
    );
    t(
        "due 12/30 at 5pm",
        "12/30 at 5pm",
        4,
        "2026-12-30T17:00:00.000+00:00",
        "hour",
    );
    t(
        "2 weeks before Christmas",
        "2 weeks before Christmas",
        0,
        "2026-12-11T00:00:00.000+00:00",
        "day",
    );
    t(
        "90 days from today",
        "90 days from today",
        0,
        "2027-02-24T00:00:00.000+00:00",
        "day",
    );
    t(
        "at 6:30 on Friday",
        "at 6:30 on Friday",
        0,
        "2026-11-27T06:30:00.000+00:00",
        "minute",
    );
    // Fractions and scores are not dates.
    assert!(found("3/4 of the users").iter().all(|e| e.0 != "time"));
    assert!(found("add 1/2 cup").iter().all(|e| e.0 != "time"));
    // Without a year "the 3rd quarter" stays an ordinal.
    assert_eq!(
        exact("the 3rd quarter"),
        [entity("ordinal", "3rd", 4, num(3))]
    );
}

#[test]
fn last_n_units_and_bare_hour_ranges_on_a_day() {
    assert_eq!(
        exact("errors in the past 7 days"),
        [entity(
            "time",
            "past 7 days",
            14,
            span(
                "2026-11-19T00:00:00.000+00:00",
                "2026-11-26T00:00:00.000+00:00",
                "day"
            )
        )]
    );
    assert_eq!(
        exact("open Monday from 9 to 5"),
        [entity(
            "time",
            "Monday from 9 to 5",
            5,
            span(
                "2026-11-30T09:00:00.000+00:00",
                "2026-11-30T17:00:00.000+00:00",
                "hour"
            )
        )]
    );
    assert_eq!(
        exact("from 10 to 2 tomorrow"),
        [entity(
            "time",
            "from 10 to 2 tomorrow",
            0,
            span(
                "2026-11-27T10:00:00.000+00:00",
                "2026-11-27T14:00:00.000+00:00",
                "hour"
            )
        )]
    );
    // No day: a count, not hours.
    assert!(found("grew from 5 to 10").iter().all(|e| e.0 == "number"));
}

#[test]
fn uk_numbers_extensions_and_localhost() {
    let text = |v: &str| json!({"type": "value", "value": v});
    assert_eq!(
        exact("office: 0161 496 0000"),
        [entity(
            "phone-number",
            "0161 496 0000",
            8,
            text("01614960000")
        )]
    );
    assert_eq!(
        exact("call 415-555-0100 x 12"),
        [entity(
            "phone-number",
            "415-555-0100 x 12",
            5,
            text("4155550100 ext 12")
        )]
    );
    assert_eq!(
        exact("curl localhost:3000/health"),
        [entity(
            "url",
            "localhost:3000/health",
            5,
            json!({"type": "value", "value": "localhost:3000/health", "domain": "localhost"})
        )]
    );
    assert_eq!(exact("run it on localhost"), []);
    // Extensions after non-ASCII digits do not split a character.
    let _ = extract("+1 \u{663}\u{663}\u{663} \u{663}\u{663}\u{663}x5", &opts());
}

/// (dim, body) of every entity, for tests about what is found rather than its value.
fn dims_and_bodies(text: &str) -> Vec<(String, String)> {
    found(text).into_iter().map(|(d, b, _)| (d, b)).collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(d, b)| (d.to_string(), b.to_string()))
        .collect()
}

#[test]
fn misspelt_number_words_read_as_spelt_right() {
    assert_eq!(
        exact("what's fourty plus 9"),
        [
            entity("number", "fourty", 7, num(40)),
            entity("number", "9", 19, num(9))
        ]
    );
    assert_eq!(
        exact("ninty nine bottles"),
        [entity("number", "ninty nine", 0, num(99))]
    );
    assert_eq!(
        exact("fourty-two"),
        [entity("number", "fourty-two", 0, num(42))]
    );
    assert_eq!(exact("ninteen"), [entity("number", "ninteen", 0, num(19))]);
    assert_eq!(
        exact("he came in fourtieth"),
        [entity("ordinal", "fourtieth", 11, num(40))]
    );
    assert_eq!(found("ninty percent")[0].2["value"], json!(90));
    assert_eq!(found("fourty five minutes")[0].2["minute"], json!(45));
}

#[test]
fn weekday_and_month_names_with_one_typo() {
    let day = |at: &str| instant(at, "day");
    assert_eq!(
        exact("next wendesday works"),
        [entity(
            "time",
            "next wendesday",
            0,
            day("2026-12-02T00:00:00.000+00:00")
        )]
    );
    // A swap, a dropped letter, an added letter, a changed letter.
    assert_eq!(
        exact("see you thrusday"),
        [entity(
            "time",
            "thrusday",
            8,
            day("2026-12-03T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("Feburary 2nd"),
        [entity(
            "time",
            "Feburary 2nd",
            0,
            day("2027-02-02T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("Janaury 15")[0].4["value"],
        "2027-01-15T00:00:00.000+00:00"
    );
    assert_eq!(
        exact("Wednesdy")[0].4["value"],
        "2026-12-02T00:00:00.000+00:00"
    );
    assert_eq!(
        exact("on Satruday morning")[0].1,
        "on Satruday morning".to_string()
    );
    // Real words one letter from a name, plurals and short words are left alone.
    assert_eq!(exact("the sundae was great"), []);
    assert_eq!(exact("sundry items"), []);
    assert_eq!(exact("mondays are slow"), []);
    assert_eq!(exact("the fridays"), []);
    assert_eq!(exact("a sunny day"), []);
}

#[test]
fn rates_after_an_amount_are_not_durations() {
    assert_eq!(
        dims_and_bodies("the plan costs £8 a month"),
        pairs(&[("amount-of-money", "£8")])
    );
    assert_eq!(
        dims_and_bodies("we ingest about 10 terabytes a day"),
        pairs(&[("data-size", "10 terabytes")])
    );
    assert_eq!(
        dims_and_bodies("I work 3 hours a day"),
        pairs(&[("duration", "3 hours")])
    );
    assert_eq!(
        dims_and_bodies("$5k a month, 5% a year, five a day"),
        pairs(&[
            ("amount-of-money", "$5k"),
            ("percentage", "5%"),
            ("number", "five")
        ])
    );
    assert_eq!(
        dims_and_bodies("charge 15 euros per hour and take it twice a day"),
        pairs(&[("amount-of-money", "15 euros")])
    );
    // Not after an amount, or a shift in time: still an amount of time.
    assert_eq!(
        dims_and_bodies("it's a day away"),
        pairs(&[("duration", "a day")])
    );
    assert_eq!(
        dims_and_bodies("I paid $20 a week ago"),
        pairs(&[("amount-of-money", "$20"), ("time", "a week ago")])
    );
}

#[test]
fn in_an_amount_of_time_after_a_measurement_is_a_duration() {
    assert_eq!(
        exact("how many seconds are in 3 days"),
        [entity(
            "duration",
            "3 days",
            24,
            json!({"type": "value", "value": 3, "day": 3, "unit": "day",
                   "normalized": {"unit": "second", "value": 259200}})
        )]
    );
    assert_eq!(
        dims_and_bodies("how many minutes in 2 hours"),
        pairs(&[("duration", "2 hours")])
    );
    assert_eq!(
        dims_and_bodies("how many weeks are there in a year"),
        pairs(&[("duration", "a year")])
    );
    assert_eq!(
        dims_and_bodies("walk 8 km in about an hour"),
        pairs(&[("distance", "8 km"), ("duration", "an hour")])
    );
    assert_eq!(
        dims_and_bodies("there are 60 minutes in an hour"),
        pairs(&[("duration", "60 minutes"), ("duration", "an hour")])
    );
    assert_eq!(
        dims_and_bodies("send 5 GB in 2 hours"),
        pairs(&[("data-size", "5 GB"), ("duration", "2 hours")])
    );
    // Otherwise "in" a while is a time.
    assert_eq!(
        dims_and_bodies("I'll pay you 50 dollars in 2 weeks"),
        pairs(&[("amount-of-money", "50 dollars"), ("time", "in 2 weeks")])
    );
    assert_eq!(
        dims_and_bodies("plan B in 2 weeks"),
        pairs(&[("time", "in 2 weeks")])
    );
}

#[test]
fn pounds_of_weight_are_a_quantity() {
    let pound = |v: i64| json!({"type": "value", "value": v, "unit": "pound"});
    assert_eq!(
        exact("lost 5 pounds this month")[0],
        entity("quantity", "5 pounds", 5, pound(5))
    );
    assert_eq!(
        exact("I gained 3 pounds")[0],
        entity("quantity", "3 pounds", 9, pound(3))
    );
    assert_eq!(
        exact("she is 5 pounds heavier")[0],
        entity("quantity", "5 pounds", 7, pound(5))
    );
    assert_eq!(
        exact("convert 5 pounds to kg"),
        [entity("quantity", "5 pounds", 8, pound(5))]
    );
    assert_eq!(
        exact("how many kilos is 5 pounds"),
        [entity("quantity", "5 pounds", 18, pound(5))]
    );
    // Money by context, or with a currency target.
    assert_eq!(exact("it costs 180 pounds")[0].0, "amount-of-money");
    assert_eq!(exact("convert 5 pounds to dollars")[0].0, "amount-of-money");
    assert_eq!(exact("paid 5 pounds to get in")[0].0, "amount-of-money");
}

#[test]
fn the_nth_before_a_noun_ranks_it() {
    assert_eq!(
        exact("sort by the 5th column"),
        [entity("ordinal", "5th", 12, num(5))]
    );
    assert_eq!(
        exact("for the 3rd time"),
        [entity("ordinal", "3rd", 8, num(3))]
    );
    // A date after a preposition, alone or before a time word or a closed-class word.
    assert_eq!(
        exact("by the 5th"),
        [entity(
            "time",
            "the 5th",
            3,
            instant("2026-12-05T00:00:00.000+00:00", "day")
        )]
    );
    assert_eq!(
        exact("book a table for the 5th, please")[0].1,
        "the 5th".to_string()
    );
    assert_eq!(
        exact("due on the 30th at noon"),
        [entity(
            "time",
            "on the 30th at noon",
            4,
            instant("2026-11-30T12:00:00.000+00:00", "hour")
        )]
    );
}

#[test]
fn status_codes_versions_and_series_numbers_are_identifiers() {
    for text in [
        "api.volcano.dev/v3/jobs returns 502 again",
        "error 404",
        "HTTP 500 on login",
        "status code 201",
        "got a 404 error",
        "it responded with 503",
        "error E1042 in the auth module",
        "upgrade node to 20.11",
        "upgrade python from 3.11 to 3.12",
        "from node 18 to 20",
        "iPhone 15 battery drains fast",
        "merge PR 1187 when green",
        "ticket 4521",
        "build 77",
        "zip code 90210",
    ] {
        assert_eq!(
            exact(text).iter().filter(|e| e.0 == "number").count(),
            0,
            "{text:?}"
        );
    }
    // Counting and arithmetic keep their numbers.
    for (text, n) in [
        ("add 15 and 20", 2),
        ("divide 100 by 25", 2),
        ("multiply 20.11 by 3", 2),
        ("the query returned 150 rows", 1),
        ("the function returns 100", 1),
        ("we had 500 errors today", 1),
        ("build 5 servers", 1),
        ("error 3 times", 1),
        ("what is 404 divided by 2", 2),
    ] {
        assert_eq!(
            exact(text).iter().filter(|e| e.0 == "number").count(),
            n,
            "{text:?}"
        );
    }
}

#[test]
fn months_in_the_past() {
    let month = |at: &str| instant(at, "month");
    assert_eq!(
        exact("how many errors since March"),
        [entity(
            "time",
            "March",
            22,
            month("2026-03-01T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("what did we spend in September"),
        [entity(
            "time",
            "in September",
            18,
            month("2026-09-01T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("what was our revenue in December")[0].4["value"],
        "2025-12-01T00:00:00.000+00:00"
    );
    assert_eq!(
        exact("where were we on Oct 3")[0].4["value"],
        "2026-10-03T00:00:00.000+00:00"
    );
    assert_eq!(
        exact("sales since Jan")[0].4["value"],
        "2026-01-01T00:00:00.000+00:00"
    );
    // The month in progress is the current one; the present, the future and a preposition
    // pointing ahead keep the next one.
    assert_eq!(
        exact("what did we spend in November")[0].4["value"],
        "2026-11-01T00:00:00.000+00:00"
    );
    assert_eq!(
        exact("we'll review it in September")[0].4["value"],
        "2027-09-01T00:00:00.000+00:00"
    );
    assert_eq!(
        exact("I was told the launch is in March")[0].4["value"],
        "2027-03-01T00:00:00.000+00:00"
    );
    assert_eq!(
        exact("it was moved to March 3rd")[0].4["value"],
        "2027-03-03T00:00:00.000+00:00"
    );
    assert_eq!(
        exact("until May")[0].4["value"],
        "2027-05-01T00:00:00.000+00:00"
    );
}

#[test]
fn a_weekday_before_a_date_is_one_time() {
    let day = |at: &str| instant(at, "day");
    assert_eq!(
        exact("plan the offsite for Friday, Dec 4"),
        [entity(
            "time",
            "Friday, Dec 4",
            21,
            day("2026-12-04T00:00:00.000+00:00")
        )]
    );
    assert_eq!(
        exact("demo Monday Dec 7 at 10:00"),
        [entity(
            "time",
            "Monday Dec 7 at 10:00",
            5,
            instant("2026-12-07T10:00:00.000+00:00", "minute")
        )]
    );
    assert_eq!(
        exact("Friday the 4th at 8pm")[0].4,
        instant("2026-12-04T20:00:00.000+00:00", "hour")
    );
    assert_eq!(
        exact("Monday, March 3 2027")[0].4,
        day("2027-03-03T00:00:00.000+00:00")
    );
    assert_eq!(exact("Tue 12/8")[0].4, day("2026-12-08T00:00:00.000+00:00"));
    assert_eq!(
        exact("Thursday 10 December")[0].4,
        day("2026-12-10T00:00:00.000+00:00")
    );
    // Anything else after the weekday is not a date.
    assert_eq!(
        exact("Friday, we ship"),
        [entity(
            "time",
            "Friday",
            0,
            day("2026-11-27T00:00:00.000+00:00")
        )]
    );
}

#[test]
fn the_unit_after_next() {
    assert_eq!(
        exact("let's revisit the week after next"),
        [entity(
            "time",
            "the week after next",
            14,
            instant("2026-12-07T00:00:00.000+00:00", "week")
        )]
    );
    assert_eq!(
        exact("the month after next")[0].4,
        instant("2027-01-01T00:00:00.000+00:00", "month")
    );
    assert_eq!(
        exact("week after next")[0].4,
        instant("2026-12-07T00:00:00.000+00:00", "week")
    );
    assert_eq!(
        exact("the year after next")[0].4,
        instant("2028-01-01T00:00:00.000+00:00", "year")
    );
    assert_eq!(exact("the week after the launch"), []);
}

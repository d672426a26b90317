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

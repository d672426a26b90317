//! Tests of every tool kind: specs as definition files write them, requests as users do.

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde_json::json;

use super::http::{HttpFailure, HttpRequest, HttpResponse};
use super::*;
use crate::calc::{Expr, Reference};
use crate::decompose::{Operation, Step};

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-26T10:00:00+00:00").unwrap()
}

fn spec(json: serde_json::Value) -> ToolSpec {
    serde_json::from_value(json).expect("valid spec")
}

fn tool(json: serde_json::Value) -> Box<dyn Tool> {
    build(&spec(json)).expect("spec builds")
}

fn run(tool: &dyn Tool, text: &str) -> Result<ToolOutput, ToolError> {
    tool.run(&ToolContext::new(text, now()))
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn spec_error(json: serde_json::Value) -> ToolSpecError {
    match build(&spec(json)) {
        Ok(_) => panic!("spec should be rejected"),
        Err(e) => e,
    }
}

mod specs {
    use super::*;

    #[test]
    fn every_kind_builds_from_its_definition_shape() {
        let specs = [
            json!({"kind": "calculator", "scale": 4, "rounding": "half_up"}),
            json!({"kind": "unit_convert", "quantities": ["length", "data_size"], "scale": 3}),
            json!({"kind": "currency", "base": "USD", "rates": {"EUR": "0.92"}}),
            json!({"kind": "datetime", "default_tz": "Europe/Paris"}),
            json!({"kind": "lookup", "table": {"France": "Paris"}, "match": "exact",
                   "not_found": "unknown country"}),
            json!({"kind": "template", "template": "{{ text | upper }}"}),
            json!({"kind": "transform", "filter": ".a", "data": {"a": 1}}),
            json!({"kind": "http", "method": "POST", "url": "https://api.example.com/x",
                   "headers": {"Accept": "application/json"}, "body": "{{ text }}",
                   "timeout_ms": 1000, "max_response_bytes": 1024, "filter": ".ok"}),
        ];
        for json in specs {
            let spec = spec(json.clone());
            assert_eq!(json["kind"], spec.kind());
            let back: ToolSpec =
                serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
            assert_eq!(back, spec);
            build(&spec).unwrap_or_else(|e| panic!("{json}: {e}"));
        }
    }

    #[test]
    fn yaml_definitions_may_write_numbers_plainly() {
        let yaml = "kind: currency\nbase: USD\nrates:\n  EUR: 0.92\n  JPY: 151\n  GBP: \"0.79\"\n";
        let ToolSpec::Currency(money) = serde_norway::from_str(yaml).unwrap() else {
            panic!()
        };
        assert_eq!(money.rates["EUR"], "0.92");
        assert_eq!(money.rates["JPY"], "151");
        let yaml = "kind: lookup\ntable:\n  1042: 19.99\n  widget: 5\n";
        let table: ToolSpec = serde_norway::from_str(yaml).unwrap();
        let out = build(&table).unwrap();
        assert_eq!(
            run(&*out, "price of 1042").unwrap().value,
            Some(dec("19.99"))
        );
        let yaml = "kind: http\nmethod: GET\nurl: https://api.example.com/v1\n";
        assert!(build(&serde_norway::from_str(yaml).unwrap()).is_ok());
    }

    #[test]
    fn unknown_fields_and_kinds_are_rejected() {
        let unknown_field = json!({"kind": "calculator", "precision": 2});
        assert!(serde_json::from_value::<ToolSpec>(unknown_field).is_err());
        let unknown_kind = json!({"kind": "teleport"});
        assert!(serde_json::from_value::<ToolSpec>(unknown_kind).is_err());
    }

    #[test]
    fn defaults_apply() {
        let ToolSpec::UnitConvert(units) = spec(json!({"kind": "unit_convert"})) else {
            panic!()
        };
        assert_eq!(units.scale, 6);
        assert_eq!(units.quantities, None);
        let ToolSpec::Currency(money) =
            spec(json!({"kind": "currency", "base": "EUR", "rates": {}}))
        else {
            panic!()
        };
        assert_eq!(money.scale, 2);
    }

    #[test]
    fn scale_beyond_28_is_rejected() {
        let e = spec_error(json!({"kind": "calculator", "scale": 40}));
        assert_eq!(e.parameter, "scale");
        assert!(e.to_string().contains("0 to 28"), "{e}");
    }
}

mod calculator {
    use super::*;

    #[test]
    fn evaluates_the_text() {
        let calc = tool(json!({"kind": "calculator"}));
        let out = run(&*calc, "what is 15% of 200?").unwrap();
        assert_eq!(out.value, Some(dec("30")));
        assert_eq!(out.answer, "30");
    }

    #[test]
    fn evaluates_a_step_with_the_previous_value() {
        let calc = tool(json!({"kind": "calculator", "scale": 2}));
        let expr = crate::calc::parse("that divided by 3").unwrap();
        let step = Step {
            operation: Operation::Calculate(expr),
            text: "divide it by 3".into(),
            unit: None,
        };
        let mut ctx = ToolContext::new("divide it by 3", now());
        ctx.step = Some(&step);
        ctx.input = Some(dec("10"));
        assert_eq!(calc.run(&ctx).unwrap().value, Some(dec("3.33")));
    }

    #[test]
    fn errors_keep_the_calculator_kind() {
        let calc = tool(json!({"kind": "calculator"}));
        assert_eq!(run(&*calc, "5 / 0").unwrap_err().kind(), "division_by_zero");
        assert_eq!(run(&*calc, "").unwrap_err().kind(), "empty");
    }
}

mod unit_convert {
    use super::*;
    use crate::tools::units;

    fn convert(text: &str) -> Result<ToolOutput, ToolError> {
        run(&*tool(json!({"kind": "unit_convert"})), text)
    }

    fn value(text: &str) -> String {
        let out = convert(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        format!("{} {}", out.value.unwrap(), out.unit.unwrap())
    }

    #[test]
    fn the_table_reads_and_every_canonical_name_finds_itself() {
        for unit in units::all() {
            assert_eq!(units::find(unit.name).map(|u| u.name), Some(unit.name));
        }
    }

    #[test]
    fn names_plurals_and_symbols() {
        let cases = [
            ("km", "kilometre"),
            ("kilometres", "kilometre"),
            ("Kilometers", "kilometre"),
            ("mi", "mile"),
            ("miles", "mile"),
            ("lb", "pound"),
            ("lbs", "pound"),
            ("°F", "fahrenheit"),
            ("fahrenheit", "fahrenheit"),
            ("degrees Celsius", "celsius"),
            ("MB", "megabyte"),
            ("mb", "megabyte"),
            ("Mb", "megabit"),
            ("GiB", "gibibyte"),
            ("mph", "mile per hour"),
            ("km/h", "kilometre per hour"),
            ("miles per hour", "mile per hour"),
            ("feet", "foot"),
            ("inches", "inch"),
            ("cubic metres", "cubic metre"),
            ("US gallons", "gallon"),
            ("fluid ounces", "fluid ounce"),
        ];
        for (written, name) in cases {
            assert_eq!(
                units::find(written).map(|u| u.name),
                Some(name),
                "{written}"
            );
        }
        assert_eq!(units::find("blargs"), None);
    }

    #[test]
    fn converts_length_as_in_the_example() {
        let out = convert("convert 5 km to miles").unwrap();
        assert_eq!(out.value, Some(dec("3.106856")));
        assert_eq!(out.unit.as_deref(), Some("mile"));
        assert_eq!(out.answer, "5 km = 3.106856 mile");
    }

    #[test]
    fn converts_every_quantity() {
        assert_eq!(value("100 °F in celsius"), "37.777778 celsius");
        assert_eq!(value("212 fahrenheit to celsius"), "100 celsius");
        assert_eq!(value("-40 C to F"), "-40 fahrenheit");
        assert_eq!(value("0 celsius to kelvin"), "273.15 kelvin");
        assert_eq!(value("2 GiB in MB"), "2147.483648 megabyte");
        assert_eq!(value("1 KiB to bytes"), "1024 byte");
        assert_eq!(value("8 Mb to kB"), "1000 kilobyte");
        assert_eq!(value("100 km/h in mph"), "62.137119 mile per hour");
        assert_eq!(value("36 km/h to m/s"), "10 metre per second");
        assert_eq!(value("1.5 hours into minutes"), "90 minute");
        assert_eq!(value("5 lb to kg"), "2.267962 kilogram");
        assert_eq!(value("2 gallons to litres"), "7.570824 litre");
        assert_eq!(value("1,250 m in km"), "1.25 kilometre");
        assert_eq!(value("12 in to cm"), "30.48 centimetre");
        assert_eq!(value("how many feet are in 3 miles?"), "15840 foot");
        assert_eq!(value("convert 5km to mi please"), "3.106856 mile");
    }

    #[test]
    fn scale_and_rounding_come_from_the_spec() {
        let coarse = tool(json!({"kind": "unit_convert", "scale": 2, "rounding": "up"}));
        assert_eq!(
            run(&*coarse, "5 km to miles").unwrap().value,
            Some(dec("3.11"))
        );
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let e = convert("convert 5 blargs to miles").unwrap_err();
        assert_eq!(e.kind(), "unknown_unit");
        assert!(e.to_string().contains("'blargs'"), "{e}");
        let e = convert("convert 5 km to kg").unwrap_err();
        assert_eq!(e.kind(), "incompatible_units");
        assert_eq!(e.to_string(), "cannot convert km (length) to kg (mass)");
        assert_eq!(
            convert("convert 5 km").unwrap_err().kind(),
            "missing_target"
        );
        assert_eq!(convert("").unwrap_err().kind(), "empty");
        assert_eq!(
            convert("convert some km to miles").unwrap_err().kind(),
            "not_understood"
        );
        let huge = "79228162514264337593543950335 km to mm";
        assert_eq!(convert(huge).unwrap_err().kind(), "overflow");
        assert_eq!(
            convert("1e40 km to m").unwrap_err().kind(),
            "invalid_number"
        );
        assert_eq!(
            convert("99999999999999999999999999999999 km to m")
                .unwrap_err()
                .kind(),
            "invalid_number"
        );
    }

    #[test]
    fn quantities_restrict_the_tool() {
        let lengths = tool(json!({"kind": "unit_convert", "quantities": ["length"]}));
        assert!(run(&*lengths, "5 km to miles").is_ok());
        let e = run(&*lengths, "5 kg to lb").unwrap_err();
        assert_eq!(e.kind(), "quantity_not_allowed");
        assert!(e.to_string().contains("mass"), "{e}");
        let e = spec_error(json!({"kind": "unit_convert", "quantities": []}));
        assert_eq!(e.parameter, "quantities");
    }

    #[test]
    fn converts_a_plan_step_and_its_reference() {
        let converter = tool(json!({"kind": "unit_convert"}));
        let step = Step {
            operation: Operation::Convert {
                value: Expr::Ref(Reference::Previous),
                from_unit: None,
                to_unit: "miles".into(),
            },
            text: "convert it to miles".into(),
            unit: None,
        };
        let mut ctx = ToolContext::new("convert it to miles", now());
        ctx.step = Some(&step);
        ctx.input = Some(dec("10"));
        assert_eq!(
            converter.run(&ctx).unwrap_err().kind(),
            "missing_source_unit"
        );
        ctx.input_unit = Some("kilometre");
        assert_eq!(converter.run(&ctx).unwrap().value, Some(dec("6.213712")));

        let literal = Step {
            operation: Operation::Convert {
                value: Expr::Number(dec("3")),
                from_unit: Some("ft".into()),
                to_unit: "m".into(),
            },
            text: "convert 3 ft to m".into(),
            unit: None,
        };
        ctx.step = Some(&literal);
        assert_eq!(converter.run(&ctx).unwrap().value, Some(dec("0.9144")));
    }
}

mod currency {
    use super::*;

    fn money() -> Box<dyn Tool> {
        tool(json!({
            "kind": "currency",
            "base": "USD",
            "rates": {"EUR": "0.92", "GBP": 0.79, "JPY": "151.3"},
            "names": {"quid": "GBP"}
        }))
    }

    #[test]
    fn converts_amounts_as_written() {
        let out = run(&*money(), "how much is 20 euros in dollars").unwrap();
        assert_eq!(out.value, Some(dec("21.74")));
        assert_eq!(out.unit.as_deref(), Some("USD"));
        assert_eq!(out.answer, "20 EUR = 21.74 USD");
        let value = |text| run(&*money(), text).unwrap().value.unwrap().to_string();
        assert_eq!(value("convert 100 USD to EUR"), "92");
        assert_eq!(value("$5 in GBP"), "3.95");
        assert_eq!(value("USD 100 to JPY"), "15130");
        assert_eq!(value("€1,000.50 in usd?"), "1087.5");
        assert_eq!(value("10 quid to euros"), "11.65");
    }

    #[test]
    fn unknown_currencies_say_which() {
        let e = run(&*money(), "20 zorkmids in dollars").unwrap_err();
        assert_eq!(e.kind(), "unknown_currency");
        assert!(e.to_string().contains("'zorkmids'"), "{e}");
        let e = run(&*money(), "20 XYZ to USD").unwrap_err();
        assert_eq!(e.to_string(), "unknown currency 'XYZ'");
        let e = run(&*money(), "20 francs to USD").unwrap_err();
        assert_eq!(e.kind(), "no_rate");
        assert!(e.to_string().contains("CHF"), "{e}");
        assert_eq!(
            run(&*money(), "20 euros").unwrap_err().kind(),
            "missing_target"
        );
        assert_eq!(run(&*money(), "").unwrap_err().kind(), "empty");
        assert_eq!(
            run(&*money(), "money to dollars").unwrap_err().kind(),
            "not_understood"
        );
    }

    #[test]
    fn rates_are_validated() {
        let bad = |rates: serde_json::Value| {
            spec_error(json!({"kind": "currency", "base": "USD", "rates": rates}))
        };
        let e = bad(json!({"EUR": "-1"}));
        assert_eq!(e.parameter, "rates.EUR");
        assert!(e.to_string().contains("positive"), "{e}");
        assert_eq!(bad(json!({"EUR": "0"})).parameter, "rates.EUR");
        assert_eq!(bad(json!({"EUR": "abc"})).parameter, "rates.EUR");
        assert_eq!(bad(json!({"euro": "1"})).parameter, "rates.euro");
        assert_eq!(bad(json!({"USD": "2"})).parameter, "rates.USD");
        let e = spec_error(json!({"kind": "currency", "base": "dollar", "rates": {}}));
        assert_eq!(e.parameter, "base");
    }
}

mod datetime {
    use super::*;

    fn dates() -> Box<dyn Tool> {
        tool(json!({"kind": "datetime"}))
    }

    fn answer(text: &str) -> String {
        run(&*dates(), text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .answer
    }

    #[test]
    fn date_arithmetic() {
        assert_eq!(
            answer("what date is 30 days after 2026-12-25"),
            "2027-01-24 (Sunday)"
        );
        assert_eq!(answer("add 3 weeks to 2026-11-26"), "2026-12-17 (Thursday)");
        assert_eq!(answer("2 weeks before tomorrow"), "2026-11-13 (Friday)");
        assert_eq!(answer("1 month after 2026-01-31"), "2026-02-28 (Saturday)");
        assert_eq!(
            answer("subtract 1 year from December 25, 2026"),
            "2025-12-25 (Thursday)"
        );
        assert_eq!(answer("2026-11-26 + 10 days"), "2026-12-06 (Sunday)");
        assert_eq!(
            answer("what is the date in 3 weeks"),
            "2026-12-17 (Thursday)"
        );
        assert_eq!(
            answer("what day of the week is 25 Dec 2026"),
            "2026-12-25 (Friday)"
        );
    }

    #[test]
    fn differences() {
        let out = run(&*dates(), "days between 2026-01-01 and 2026-12-25").unwrap();
        assert_eq!(out.value, Some(dec("358")));
        assert_eq!(out.unit.as_deref(), Some("day"));
        assert_eq!(out.answer, "358 days");
        assert_eq!(answer("how many days until 2026-12-25?"), "29 days");
        assert_eq!(answer("weeks from 2026-01-01 to 2026-01-15"), "2 weeks");
        assert_eq!(
            answer("months between 2026-01-31 and 2026-03-30"),
            "1 month"
        );
        assert_eq!(answer("days between 2026-12-25 and 2026-12-24"), "-1 day");
    }

    #[test]
    fn time_elsewhere() {
        assert_eq!(
            answer("what time is it in Tokyo?"),
            "19:00 in Tokyo (Asia/Tokyo), Thursday 2026-11-26"
        );
        assert!(answer("time in New York").starts_with("05:00 in New York (America/New_York)"));
        assert!(answer("what time is it in Europe/Paris").starts_with("11:00"));
        let e = run(&*dates(), "what time is it in Atlantis").unwrap_err();
        assert_eq!(e.kind(), "unknown_time_zone");
        assert!(e.to_string().contains("Atlantis"), "{e}");
    }

    #[test]
    fn today_is_in_the_default_zone() {
        let tokyo = tool(json!({"kind": "datetime", "default_tz": "Pacific/Kiritimati"}));
        // 10:00 UTC is already the 27th at UTC+14.
        assert_eq!(
            run(&*tokyo, "0 days after today").unwrap().answer,
            "2026-11-27 (Friday)"
        );
        let e = spec_error(json!({"kind": "datetime", "default_tz": "Mars/Olympus"}));
        assert_eq!(e.parameter, "default_tz");
    }

    #[test]
    fn bad_dates() {
        let e = run(&*dates(), "30 days after 2026-02-30").unwrap_err();
        assert_eq!(e.kind(), "invalid_date");
        assert!(e.to_string().contains("2026-02-30"), "{e}");
        assert_eq!(
            run(&*dates(), "99999999 years after today")
                .unwrap_err()
                .kind(),
            "date_out_of_range"
        );
        assert_eq!(
            run(&*dates(), "99999999999 days after today")
                .unwrap_err()
                .kind(),
            "invalid_number"
        );
        assert_eq!(
            run(&*dates(), "hello").unwrap_err().kind(),
            "not_understood"
        );
        assert_eq!(run(&*dates(), " ").unwrap_err().kind(), "empty");
    }
}

mod lookup {
    use super::*;

    fn capitals() -> Box<dyn Tool> {
        tool(json!({
            "kind": "lookup",
            "table": {
                "France": "Paris", "Japan": "Tokyo", "New York": "Albany",
                "New York City": "(a city)", "C++": "a language", "SKU-1042": 19.99, "1042": true
            },
            "not_found": "I do not know that country."
        }))
    }

    #[test]
    fn finds_the_key_as_a_phrase() {
        let out = run(&*capitals(), "What is the capital of FRANCE?").unwrap();
        assert_eq!(out.answer, "Paris");
        assert_eq!(out.data, Some(json!({"key": "France", "value": "Paris"})));
        assert_eq!(
            run(&*capitals(), "capital of new  york").unwrap().answer,
            "Albany"
        );
        assert_eq!(
            run(&*capitals(), "what is new york city").unwrap().answer,
            "(a city)"
        );
        assert_eq!(
            run(&*capitals(), "tell me about c++ please")
                .unwrap()
                .answer,
            "a language"
        );
        let price = run(&*capitals(), "price of sku-1042").unwrap();
        assert_eq!(price.value, Some(dec("19.99")));
        assert_eq!(
            run(&*capitals(), "is 1042 in stock").unwrap().answer,
            "true"
        );
        // Whole words only: "Japanese" is not "Japan".
        let e = run(&*capitals(), "Japanese food").unwrap_err();
        assert_eq!(e.kind(), "not_found");
        assert_eq!(e.to_string(), "I do not know that country.");
    }

    #[test]
    fn exact_and_entity_keys() {
        let exact = tool(json!({"kind": "lookup", "table": {"ping": "pong"}, "match": "exact"}));
        assert_eq!(run(&*exact, " Ping! ").unwrap().answer, "pong");
        assert_eq!(run(&*exact, "ping me").unwrap_err().kind(), "not_found");

        let owners = tool(json!({
            "kind": "lookup",
            "table": {"bob@example.com": "Bob (finance)"},
            "key_entity": "email"
        }));
        let text = "who is bob@example.com";
        let entities = crate::extract::extract(text, &crate::extract::ExtractOptions::default());
        let mut ctx = ToolContext::new(text, now());
        ctx.entities = &entities;
        assert_eq!(owners.run(&ctx).unwrap().answer, "Bob (finance)");
    }

    #[test]
    fn tables_are_validated() {
        let e = spec_error(json!({"kind": "lookup", "table": {}}));
        assert_eq!(e.parameter, "table");
        let e = spec_error(json!({"kind": "lookup", "table": {"France": "a", "FRANCE": "b"}}));
        assert!(e.to_string().contains("same key"), "{e}");
    }
}

mod template {
    use super::*;

    #[test]
    fn renders_text_entities_and_input() {
        let greet = tool(json!({
            "kind": "template",
            "template": "We will email {{ values.email[0].value }} about \"{{ text }}\"; total {{ input }}."
        }));
        let text = "send the report to ann@example.com";
        let entities = crate::extract::extract(text, &crate::extract::ExtractOptions::default());
        let mut ctx = ToolContext::new(text, now());
        ctx.entities = &entities;
        ctx.input = Some(dec("21.5"));
        assert_eq!(
            greet.run(&ctx).unwrap().answer,
            "We will email ann@example.com about \"send the report to ann@example.com\"; total 21.5."
        );
        let clock = tool(json!({"kind": "template", "template": "{{ now }}|{{ input is none }}"}));
        assert_eq!(
            run(&*clock, "x").unwrap().answer,
            "2026-11-26T10:00:00+00:00|True"
        );
        let count = tool(json!({"kind": "template", "template": "{{ entities | length * 2 }}"}));
        let out = count.run(&ctx).unwrap();
        assert_eq!(out.value, Some(dec("2")));
    }

    #[test]
    fn errors_at_build_and_at_run() {
        let e = spec_error(json!({"kind": "template", "template": "{{ text "}));
        assert_eq!(e.parameter, "template");
        assert!(e.to_string().contains("does not compile"), "{e}");
        let failing = tool(json!({"kind": "template", "template": "{{ text | nosuchfilter }}"}));
        assert_eq!(run(&*failing, "x").unwrap_err().kind(), "template_error");
        let runaway = tool(json!({
            "kind": "template",
            "template": "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}"
        }));
        assert_eq!(run(&*runaway, "x").unwrap_err().kind(), "template_error");
    }
}

mod transform {
    use super::*;

    #[test]
    fn runs_over_the_spec_data() {
        let totals = tool(json!({
            "kind": "transform",
            "filter": "[.orders[] | .total] | add",
            "data": {"orders": [{"total": 5}, {"total": 7.5}]}
        }));
        let out = run(&*totals, "sum the orders").unwrap();
        assert_eq!(out.value, Some(dec("12.5")));
        assert_eq!(out.data, Some(json!(12.5)));
    }

    #[test]
    fn runs_over_json_in_the_request() {
        let names = tool(json!({"kind": "transform", "filter": ".[] | .name"}));
        let out = run(
            &*names,
            r#"names of [{"name": "ann"}, {"name": "bob"}] please"#,
        )
        .unwrap();
        assert_eq!(out.data, Some(json!(["ann", "bob"])));
        let upper = tool(json!({"kind": "transform", "filter": ".name | ascii_upcase"}));
        let out = run(&*upper, r#"process {"name": "ann"}"#).unwrap();
        assert_eq!(out.answer, "ANN");
        let text = tool(json!({"kind": "transform", "filter": "$text | length", "data": null}));
        assert_eq!(run(&*text, r#"{"a":1}"#).unwrap().answer, "7");
        assert_eq!(
            run(&*names, "no json here {").unwrap_err().kind(),
            "no_json_input"
        );
    }

    #[test]
    fn bad_programs_are_rejected_at_build() {
        let e = spec_error(json!({"kind": "transform", "filter": ".a | | .b"}));
        assert_eq!(e.parameter, "filter");
        assert!(e.to_string().contains("not a valid jq program"), "{e}");
        let e = spec_error(json!({"kind": "transform", "filter": "nosuchfn(1)"}));
        assert!(e.to_string().contains("nosuchfn"), "{e}");
        let e = spec_error(json!({"kind": "transform", "filter": "env"}));
        assert!(e.to_string().contains("env"), "{e}");
    }

    #[test]
    fn recursive_definitions_are_refused_at_build() {
        for program in [
            "def f: 1 + f; f",
            "def a: b; def b: a + 1; a",
            "def outer: def inner: [inner]; inner; outer",
            "def f($n): if $n > 0 then f($n - 1) else 0 end; f(5)",
        ] {
            let e = spec_error(json!({"kind": "transform", "filter": program, "data": 1}));
            assert_eq!(e.parameter, "filter", "{program}");
            assert!(e.to_string().contains("calls itself"), "{program}: {e}");
        }
        // jaq's own recursive filters, and definitions that only call others, are fine.
        for (program, data, answer) in [
            (
                "def double: . * 2; [.[] | double] | add",
                json!([1, 2]),
                "6",
            ),
            ("[.. | numbers] | add", json!({"a": [1, {"b": 2}]}), "3"),
            ("def apply(f): f; apply(apply(. + 1))", json!(1), "2"),
            (
                "def map(f): [.[] | f]; map(. * 3) | add",
                json!([1, 2]),
                "9",
            ),
        ] {
            let t = tool(json!({"kind": "transform", "filter": program, "data": data}));
            assert_eq!(run(&*t, "go").unwrap().answer, answer, "{program}");
        }
    }

    #[test]
    fn runtime_errors_and_runaway_output() {
        let failing = tool(json!({"kind": "transform", "filter": ".a + 1", "data": {"a": "x"}}));
        assert_eq!(run(&*failing, "go").unwrap_err().kind(), "transform_error");
        let endless = tool(json!({"kind": "transform", "filter": "repeat(1)", "data": 0}));
        let e = run(&*endless, "go").unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
    }
}

mod http {
    use super::*;

    /// Answers every request with a canned result and records what it was sent.
    struct FakeClient {
        answer: Result<HttpResponse, HttpFailure>,
        sent: Mutex<Vec<HttpRequest>>,
    }

    impl HttpClient for FakeClient {
        fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
            self.sent.lock().unwrap().push(request.clone());
            self.answer.clone()
        }
    }

    fn client(answer: Result<HttpResponse, HttpFailure>) -> Arc<FakeClient> {
        Arc::new(FakeClient {
            answer,
            sent: Mutex::new(Vec::new()),
        })
    }

    fn ok(body: &str) -> Result<HttpResponse, HttpFailure> {
        Ok(HttpResponse {
            status: 200,
            body: body.as_bytes().to_vec(),
        })
    }

    fn order_status() -> serde_json::Value {
        json!({
            "kind": "http",
            "url": "https://api.example.com/orders/{{ values.number[0].value }}?q={{ text | urlencode }}",
            "headers": {"Accept": "application/json"},
            "timeout_ms": 1500,
            "max_response_bytes": 64,
            "filter": ".status"
        })
    }

    fn call(
        spec: serde_json::Value,
        fake: &Arc<FakeClient>,
        text: &str,
        allowed: &[String],
    ) -> Result<ToolOutput, ToolError> {
        let services = ToolServices {
            http: Some(fake.clone()),
        };
        let tool = build_with(&super::spec(spec), &services).unwrap();
        let entities = crate::extract::extract(text, &crate::extract::ExtractOptions::default());
        let mut ctx = ToolContext::new(text, now());
        ctx.entities = &entities;
        ctx.allowed_hosts = allowed;
        tool.run(&ctx)
    }

    #[test]
    fn sends_the_rendered_request_to_an_allowed_host() {
        let fake = client(ok(r#"{"status": "shipped"}"#));
        let allowed = vec!["api.example.com".to_string()];
        let out = call(order_status(), &fake, "status of order 42", &allowed).unwrap();
        assert_eq!(out.answer, "shipped");
        let sent = fake.sent.lock().unwrap();
        assert_eq!(
            sent[0].url,
            "https://api.example.com/orders/42?q=status%20of%20order%2042"
        );
        assert_eq!(sent[0].host, "api.example.com");
        assert_eq!(
            sent[0].headers,
            vec![("Accept".into(), "application/json".into())]
        );
        assert_eq!(sent[0].timeout.as_millis(), 1500);
        assert_eq!(sent[0].max_response_bytes, 64);
    }

    /// A server that never answers: the client waits out the timeout it is given.
    struct SilentServer {
        given: Mutex<Vec<std::time::Duration>>,
    }

    impl HttpClient for SilentServer {
        fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
            self.given.lock().unwrap().push(request.timeout);
            std::thread::sleep(request.timeout);
            Err(HttpFailure::Timeout)
        }
    }

    fn call_silent(
        deadline: Option<crate::tools::Deadline>,
    ) -> (Result<ToolOutput, ToolError>, Vec<std::time::Duration>) {
        let server = Arc::new(SilentServer {
            given: Mutex::new(Vec::new()),
        });
        let services = ToolServices {
            http: Some(server.clone()),
        };
        let tool = build_with(&super::spec(order_status()), &services).unwrap();
        let allowed = vec!["api.example.com".to_string()];
        let entities =
            crate::extract::extract("order 42", &crate::extract::ExtractOptions::default());
        let mut ctx = ToolContext::new("order 42", now());
        ctx.entities = &entities;
        ctx.allowed_hosts = &allowed;
        ctx.deadline = deadline;
        let out = tool.run(&ctx);
        let given = server.given.lock().unwrap().clone();
        (out, given)
    }

    #[test]
    fn the_fast_path_s_time_limit_caps_the_tool_s_own_timeout() {
        let started = std::time::Instant::now();
        let (out, given) = call_silent(Some(crate::tools::Deadline::after(100)));
        let e = out.unwrap_err();
        assert_eq!(e.kind(), "timeout", "{e}");
        assert!(e.to_string().contains("100 ms"), "{e}");
        assert!(
            given[0] <= std::time::Duration::from_millis(100),
            "{given:?}"
        );
        // Its own timeout is 1,500 ms.
        assert!(started.elapsed() < std::time::Duration::from_millis(1000));
        // Off the fast path the tool's own timeout holds.
        let (out, given) = call_silent(None);
        assert_eq!(out.unwrap_err().kind(), "http_timeout");
        assert_eq!(given[0], std::time::Duration::from_millis(1500));
    }

    #[test]
    fn a_request_whose_time_ran_out_sends_nothing() {
        let spent = crate::tools::Deadline {
            at: std::time::Instant::now(),
            budget_ms: 250,
        };
        std::thread::sleep(std::time::Duration::from_millis(2));
        let (out, given) = call_silent(Some(spent));
        assert_eq!(out.unwrap_err().kind(), "timeout");
        assert!(given.is_empty(), "nothing sent: {given:?}");
    }

    #[test]
    fn the_allow_list_is_enforced() {
        let fake = client(ok("{}"));
        let e = call(order_status(), &fake, "order 42", &[]).unwrap_err();
        assert_eq!(e.kind(), "host_not_allowed");
        assert!(e.to_string().contains("api.example.com"), "{e}");
        let wildcard = vec!["*.example.com".to_string()];
        assert!(call(order_status(), &fake, "order 42", &wildcard).is_ok());
        assert!(!crate::tools::http::host_allowed("example.com", &wildcard));
        assert!(!crate::tools::http::host_allowed(
            "evilexample.com",
            &wildcard
        ));
        assert!(crate::tools::http::host_allowed(
            "a.b.example.com",
            &wildcard
        ));
        assert_eq!(fake.sent.lock().unwrap().len(), 1);
    }

    #[test]
    fn failures_map_to_kinds() {
        let allowed = vec!["api.example.com".to_string()];
        let kind = |answer| {
            call(order_status(), &client(answer), "order 42", &allowed)
                .unwrap_err()
                .kind()
        };
        assert_eq!(kind(Err(HttpFailure::Timeout)), "http_timeout");
        assert_eq!(kind(Err(HttpFailure::TooLarge)), "response_too_large");
        assert_eq!(kind(ok(&"x".repeat(65))), "response_too_large");
        assert_eq!(
            kind(Err(HttpFailure::Failed("refused".into()))),
            "http_failed"
        );
        let e = call(
            order_status(),
            &client(Ok(HttpResponse {
                status: 503,
                body: vec![],
            })),
            "order 42",
            &allowed,
        )
        .unwrap_err();
        assert_eq!(e.kind(), "http_status");
        assert!(e.is_retryable());
        assert_eq!(kind(ok("not json")), "transform_error");
        let tool = build(&spec(order_status())).unwrap();
        assert_eq!(
            run(&*tool, "order 42").unwrap_err().kind(),
            "http_unavailable"
        );
    }

    #[test]
    fn specs_are_validated() {
        let with = |field: &str, value: serde_json::Value| {
            let mut spec = order_status();
            spec[field] = value;
            spec_error(spec)
        };
        let e = with("url", json!("https://{{ text }}/x"));
        assert!(e.to_string().contains("literally"), "{e}");
        assert_eq!(
            with("url", json!("ftp://api.example.com/")).parameter,
            "url"
        );
        assert_eq!(
            with("url", json!("https://user:pw@api.example.com/")).parameter,
            "url"
        );
        assert_eq!(
            with("url", json!("https://api.example.com/{{ x ")).parameter,
            "url"
        );
        assert_eq!(with("timeout_ms", json!(0)).parameter, "timeout_ms");
        assert_eq!(
            with("max_response_bytes", json!(1u64 << 40)).parameter,
            "max_response_bytes"
        );
        assert_eq!(with("body", json!("x")).parameter, "body");
        assert_eq!(with("filter", json!(".a |")).parameter, "filter");
        assert_eq!(
            with("headers", json!({"Bad Header": "x"})).parameter,
            "headers.Bad Header"
        );
    }

    #[test]
    fn header_injection_is_refused() {
        let fake = client(ok("{}"));
        let mut spec = order_status();
        spec["headers"] = json!({"X-Note": "{{ text }}"});
        let allowed = vec!["api.example.com".to_string()];
        let e = call(spec, &fake, "order 42\r\nX-Evil: 1", &allowed).unwrap_err();
        assert_eq!(e.kind(), "template_error");
        assert!(fake.sent.lock().unwrap().is_empty());
    }

    #[test]
    fn urls_are_parsed_strictly() {
        assert_eq!(
            crate::tools::http::parse_url("https://API.Example.com:8443/x").unwrap(),
            "api.example.com"
        );
        assert_eq!(
            crate::tools::http::parse_url("http://[::1]:80/").unwrap(),
            "[::1]"
        );
        assert!(crate::tools::http::parse_url("https://api.example.com:99999/").is_err());
        assert!(crate::tools::http::parse_url("https://exa mple.com/").is_err());
        assert!(crate::tools::http::parse_url("https:///path").is_err());
    }
}

mod units_table {
    use super::*;
    use crate::tools::units::{self, Quantity};

    fn name(written: &str) -> Option<&'static str> {
        units::find(written).map(|u| u.name)
    }

    /// `value` converted exactly from one written unit to another.
    fn conv(value: &str, from: &str, to: &str) -> Decimal {
        let source = units::find(from).unwrap_or_else(|| panic!("{from}"));
        let target = units::find(to).unwrap_or_else(|| panic!("{to}"));
        assert_eq!(source.quantity, target.quantity, "{from} -> {to}");
        source.convert(dec(value), target).unwrap()
    }

    fn assert_finds(cases: &[(&str, &str)]) {
        for &(written, canonical) in cases {
            assert_eq!(name(written), Some(canonical), "{written}");
        }
    }

    #[test]
    fn new_quantities_have_their_names() {
        let cases = [
            (Quantity::Area, "area", "acre"),
            (Quantity::Energy, "energy", "joule"),
            (Quantity::Pressure, "pressure", "pascal"),
            (Quantity::Power, "power", "watt"),
        ];
        for (quantity, written, unit) in cases {
            assert_eq!(quantity.name(), written);
            assert_eq!(serde_json::to_value(quantity).unwrap(), json!(written));
            assert_eq!(
                serde_json::from_value::<Quantity>(json!(written)).unwrap(),
                quantity
            );
            assert_eq!(units::find(unit).unwrap().quantity, quantity, "{unit}");
        }
        let some = tool(json!({
            "kind": "unit_convert",
            "quantities": ["area", "energy", "pressure", "power"],
        }));
        assert!(run(&*some, "1 acre to square feet").is_ok());
        assert_eq!(
            run(&*some, "5 km to miles").unwrap_err().kind(),
            "quantity_not_allowed"
        );
    }

    #[test]
    fn finds_area_units() {
        assert_finds(&[
            ("square millimetre", "square millimetre"),
            ("square millimeters", "square millimetre"),
            ("mm²", "square millimetre"),
            ("mm2", "square millimetre"),
            ("sq mm", "square millimetre"),
            ("square centimetres", "square centimetre"),
            ("cm²", "square centimetre"),
            ("cm2", "square centimetre"),
            ("sq cm", "square centimetre"),
            ("square metre", "square metre"),
            ("square meters", "square metre"),
            ("Square Metres", "square metre"),
            ("m²", "square metre"),
            ("m2", "square metre"),
            ("sq m", "square metre"),
            ("sq. m.", "square metre"),
            ("sqm", "square metre"),
            ("hectare", "hectare"),
            ("hectares", "hectare"),
            ("ha", "hectare"),
            ("square kilometre", "square kilometre"),
            ("square kilometers", "square kilometre"),
            ("km²", "square kilometre"),
            ("km2", "square kilometre"),
            ("sq km", "square kilometre"),
            ("square inch", "square inch"),
            ("square inches", "square inch"),
            ("sq in", "square inch"),
            ("in²", "square inch"),
            ("square foot", "square foot"),
            ("square feet", "square foot"),
            ("sq feet", "square foot"),
            ("sq ft", "square foot"),
            ("Sq. Ft.", "square foot"),
            ("ft²", "square foot"),
            ("ft2", "square foot"),
            ("square yards", "square yard"),
            ("sq yd", "square yard"),
            ("acre", "acre"),
            ("acres", "acre"),
            ("Acres", "acre"),
            ("square mile", "square mile"),
            ("square miles", "square mile"),
            ("sq mi", "square mile"),
            ("mi²", "square mile"),
        ]);
    }

    #[test]
    fn finds_energy_units() {
        assert_finds(&[
            ("joule", "joule"),
            ("joules", "joule"),
            ("J", "joule"),
            ("kilojoules", "kilojoule"),
            ("kJ", "kilojoule"),
            ("kj", "kilojoule"),
            ("calorie", "calorie"),
            ("calories", "calorie"),
            ("cal", "calorie"),
            ("kilocalorie", "kilocalorie"),
            ("kilocalories", "kilocalorie"),
            ("kcal", "kilocalorie"),
            ("watt hour", "watt hour"),
            ("watt hours", "watt hour"),
            ("watt-hours", "watt hour"),
            ("Wh", "watt hour"),
            ("kilowatt hours", "kilowatt hour"),
            ("kilowatt-hour", "kilowatt hour"),
            ("kWh", "kilowatt hour"),
            ("KWH", "kilowatt hour"),
            ("british thermal units", "british thermal unit"),
            ("BTU", "british thermal unit"),
            ("btu", "british thermal unit"),
            ("BTUs", "british thermal unit"),
        ]);
    }

    #[test]
    fn finds_pressure_units() {
        assert_finds(&[
            ("pascal", "pascal"),
            ("pascals", "pascal"),
            ("Pa", "pascal"),
            ("hectopascals", "hectopascal"),
            ("hPa", "hectopascal"),
            ("kilopascals", "kilopascal"),
            ("kPa", "kilopascal"),
            ("KPA", "kilopascal"),
            ("bar", "bar"),
            ("bars", "bar"),
            ("millibars", "millibar"),
            ("mbar", "millibar"),
            ("atmosphere", "atmosphere"),
            ("atmospheres", "atmosphere"),
            ("atm", "atmosphere"),
            ("pounds per square inch", "pound per square inch"),
            ("psi", "pound per square inch"),
            ("PSI", "pound per square inch"),
            ("millimetres of mercury", "millimetre of mercury"),
            ("millimeter of mercury", "millimetre of mercury"),
            ("mmHg", "millimetre of mercury"),
            ("mm Hg", "millimetre of mercury"),
        ]);
    }

    #[test]
    fn finds_power_units() {
        assert_finds(&[
            ("watt", "watt"),
            ("watts", "watt"),
            ("W", "watt"),
            ("kilowatts", "kilowatt"),
            ("kW", "kilowatt"),
            ("megawatts", "megawatt"),
            ("MW", "megawatt"),
            ("horsepower", "horsepower"),
            ("hp", "horsepower"),
            ("HP", "horsepower"),
        ]);
    }

    #[test]
    fn finds_existing_units_as_people_write_them() {
        assert_finds(&[
            ("us fluid ounce", "fluid ounce"),
            ("US fluid ounces", "fluid ounce"),
            ("fluid ounces", "fluid ounce"),
            ("fl oz", "fluid ounce"),
            ("fl. oz", "fluid ounce"),
            ("fl. oz.", "fluid ounce"),
            ("fl.oz", "fluid ounce"),
            ("imperial fluid ounce", "imperial fluid ounce"),
            ("imperial fluid ounces", "imperial fluid ounce"),
            ("UK fluid ounces", "imperial fluid ounce"),
            ("imperial pint", "imperial pint"),
            ("imperial pints", "imperial pint"),
            ("UK pints", "imperial pint"),
            ("imperial quarts", "imperial quart"),
            ("uk quart", "imperial quart"),
            ("us cup", "cup"),
            ("US cups", "cup"),
            ("cups", "cup"),
            ("metric cup", "metric cup"),
            ("metric cups", "metric cup"),
            ("liters", "litre"),
            ("litres", "litre"),
            ("lbs", "pound"),
            ("pounds", "pound"),
            ("hrs", "hour"),
            ("mins", "minute"),
            ("secs", "second"),
            ("yrs", "year"),
            ("msec", "millisecond"),
            ("msecs", "millisecond"),
            ("kilometres per hour", "kilometre per hour"),
            ("meters per second", "metre per second"),
            ("metres per second", "metre per second"),
            ("feet per second", "foot per second"),
            ("knots", "knot"),
            ("degrees c", "celsius"),
            ("degrees C", "celsius"),
            ("degrees f", "fahrenheit"),
            ("degrees F", "fahrenheit"),
            ("deg f", "fahrenheit"),
            ("deg c", "celsius"),
            ("kilobytes", "kilobyte"),
            ("megabytes", "megabyte"),
            ("kilo", "kilogram"),
            ("kilos", "kilogram"),
            ("kgs", "kilogram"),
            ("grams", "gram"),
            ("tons", "short ton"),
            ("metric tons", "tonne"),
            ("tonnes", "tonne"),
        ]);
    }

    #[test]
    fn ambiguous_names_are_left_out() {
        assert_eq!(name("gigs"), None);
        assert_eq!(name("megs"), None);
        assert_eq!(name("are"), None);
        // "mb" stays a megabyte, not a millibar.
        assert_eq!(name("mb"), Some("megabyte"));
    }

    #[test]
    fn converts_the_new_units_exactly() {
        assert_eq!(conv("1", "acre", "sq ft"), dec("43560"));
        assert_eq!(conv("1", "square mile", "acres"), dec("640"));
        assert_eq!(conv("1", "km²", "ha"), dec("100"));
        assert_eq!(conv("1", "ha", "m²"), dec("10000"));
        assert_eq!(conv("1", "sq ft", "sq in"), dec("144"));
        assert_eq!(conv("1", "sq yd", "sq ft"), dec("9"));
        assert_eq!(conv("1", "cm²", "mm²"), dec("100"));
        assert_eq!(conv("1", "kWh", "kJ"), dec("3600"));
        assert_eq!(conv("1", "kcal", "cal"), dec("1000"));
        assert_eq!(conv("1", "cal", "J"), dec("4.184"));
        assert_eq!(conv("1", "BTU", "J"), dec("1055.05585262"));
        assert_eq!(conv("1", "Wh", "J"), dec("3600"));
        assert_eq!(conv("1", "atm", "kPa"), dec("101.325"));
        assert_eq!(conv("1", "bar", "mbar"), dec("1000"));
        assert_eq!(conv("1", "mbar", "hPa"), dec("1"));
        assert_eq!(conv("1", "mmHg", "Pa"), dec("133.322387415"));
        assert_eq!(conv("1", "psi", "Pa").round_dp(9), dec("6894.757293168"));
        assert_eq!(conv("1", "bar", "psi").round_dp(4), dec("14.5038"));
        assert_eq!(conv("1", "hp", "W"), dec("745.69987158227022"));
        assert_eq!(conv("1", "MW", "kW"), dec("1000"));
        assert_eq!(
            conv("1", "imperial pint", "us fluid ounces").round_dp(4),
            dec("19.2152")
        );
        assert_eq!(conv("1", "imperial gallon", "uk pints"), dec("8"));
        assert_eq!(conv("1", "imperial quart", "imperial fl oz"), dec("40"));
        assert_eq!(conv("1", "imperial fluid ounce", "ml"), dec("28.4130625"));
        assert_eq!(conv("1", "metric cup", "ml"), dec("250"));
    }

    #[test]
    fn the_tool_converts_the_new_units() {
        let value = |text: &str| {
            let out = run(&*tool(json!({"kind": "unit_convert"})), text)
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            format!("{} {}", out.value.unwrap(), out.unit.unwrap())
        };
        assert_eq!(value("1 acre to square feet"), "43560 square foot");
        assert_eq!(value("2 kWh in kJ"), "7200 kilojoule");
        assert_eq!(value("1 atm to kPa"), "101.325 kilopascal");
        assert_eq!(value("100 hp in kW"), "74.569987 kilowatt");
        assert_eq!(value("30 psi to bar"), "2.068427 bar");
        assert_eq!(
            value("how many square feet are in 2 acres?"),
            "87120 square foot"
        );
        let e = run(&*tool(json!({"kind": "unit_convert"})), "5 acres to kWh").unwrap_err();
        assert_eq!(e.kind(), "incompatible_units");
        assert_eq!(e.to_string(), "cannot convert acres (area) to kWh (energy)");
    }
}

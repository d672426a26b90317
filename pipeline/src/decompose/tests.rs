//! Unit tests of decomposition and plan execution, by request text.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::*;
use crate::calc::CalcOptions;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn plan(text: &str) -> Plan {
    decompose(text).unwrap_or_else(|err| panic!("{text:?} failed: {err}"))
}

fn described(text: &str) -> Vec<(String, String, Vec<String>)> {
    plan(text)
        .steps
        .iter()
        .map(|step| {
            let StepDescription {
                tool,
                operation,
                inputs,
            } = describe(step);
            (tool, operation, inputs)
        })
        .collect()
}

fn step(tool: &str, operation: &str, inputs: &[&str]) -> (String, String, Vec<String>) {
    (
        tool.to_string(),
        operation.to_string(),
        inputs.iter().map(|s| s.to_string()).collect(),
    )
}

fn run(text: &str, previous: Option<Decimal>) -> Result<Vec<Decimal>, DecomposeError> {
    execute_arithmetic(&plan(text), previous, &CalcOptions::default())
}

fn outputs(text: &str) -> Vec<String> {
    run(text, None)
        .unwrap_or_else(|err| panic!("{text:?} failed: {err}"))
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn then_chains_steps_with_a_reference() {
    let text = "add 19.99 and 5.01 then multiply by 3";
    assert_eq!(
        described(text),
        vec![
            step("calculator", "add", &["19.99", "5.01"]),
            step("calculator", "multiply", &["$0", "3"]),
        ]
    );
    assert_eq!(outputs(text), ["25.00", "75.00"]);
}

#[test]
fn and_before_a_verb_separates_steps() {
    let text = "subtract 250 from 1000 and divide the result by 5";
    assert_eq!(
        described(text),
        vec![
            step("calculator", "subtract", &["1000", "250"]),
            step("calculator", "divide", &["$0", "5"]),
        ]
    );
    assert_eq!(outputs(text), ["750", "150"]);
}

#[test]
fn and_between_operands_does_not_separate() {
    assert_eq!(
        described("add 2 and 3"),
        vec![step("calculator", "add", &["2", "3"])]
    );
    assert_eq!(described("sum of 1, 2 and 3").len(), 1);
}

#[test]
fn operator_words_stay_one_calculation() {
    let text = "what is 7 times 8 minus 6";
    assert_eq!(
        described(text),
        vec![step("calculator", "evaluate", &["7 * 8 - 6"])]
    );
    assert_eq!(outputs(text), ["50"]);
}

#[test]
fn conversion_then_rounding() {
    let text = "convert 5 km to miles and round to 2 decimals";
    let plan = plan(text);
    assert_eq!(
        plan.steps[0].operation,
        Operation::Convert {
            value: crate::calc::Expr::Number(d("5")),
            // The reader resolves the unit it read to the table's name.
            from_unit: Some("kilometre".into()),
            to_unit: "mile".into(),
        }
    );
    assert_eq!(
        described(text),
        vec![
            step("unit_convert", "convert", &["5", "kilometre", "mile"]),
            step("calculator", "round", &["$0", "2"]),
        ]
    );
    // The conversion runs in its tool; the rounding uses the tool's output.
    let mut unit_tool = |index, step: &Step, input: Option<Decimal>| {
        assert_eq!(
            (index, step.tool(), input),
            (0, "unit_convert", Some(d("5")))
        );
        Ok(StepValue::Number(d("3.10685596")))
    };
    let outputs = execute(&plan, None, &CalcOptions::default(), &mut unit_tool).unwrap();
    assert_eq!(outputs[1], StepValue::Number(d("3.11")));
}

#[test]
fn arithmetic_execution_stops_at_a_tool_step() {
    let err = run("convert 5 km to miles and round to 2 decimals", None).unwrap_err();
    assert_eq!(
        err,
        DecomposeError::NeedsTool {
            step: 0,
            tool: "unit_convert".into()
        }
    );
    assert_eq!(err.kind(), "needs_tool");
}

#[test]
fn non_arithmetic_steps_name_their_verb_and_arguments() {
    let text = "process the orders from yesterday and email finance@example.com";
    assert_eq!(
        described(text),
        vec![
            step("process", "process", &["the orders from yesterday"]),
            step("email", "email", &["finance@example.com"]),
        ]
    );
}

#[test]
fn tool_arguments_may_refer_to_the_previous_result() {
    let plan = plan("calculate 40 + 2 then email it to finance@example.com");
    assert_eq!(
        plan.steps[1].operation,
        Operation::Tool {
            verb: "email".into(),
            args: "it to finance@example.com".into(),
            input: Some(crate::calc::Reference::Step(0)),
        }
    );
    let mut mailer = |_, _: &Step, input| {
        assert_eq!(input, Some(d("42")));
        Ok(StepValue::Text("sent".into()))
    };
    let outputs = execute(&plan, None, &CalcOptions::default(), &mut mailer).unwrap();
    assert_eq!(outputs[1], StepValue::Text("sent".into()));
}

#[test]
fn separators() {
    for text in [
        "add 1 and 2 then double it",
        "add 1 and 2 and then double it",
        "add 1 and 2, then double it",
        "add 1 and 2; double it",
        "add 1 and 2, multiply it by 2",
        "add 1 and 2 and multiply by 2",
    ] {
        assert_eq!(outputs(text), ["3", "6"], "{text:?}");
    }
}

#[test]
fn references_at_the_start_use_the_session_result() {
    assert_eq!(
        described("multiply that by 2"),
        vec![step("calculator", "multiply", &["$prev", "2"])]
    );
    assert_eq!(
        run("multiply that by 2", Some(d("100"))).unwrap(),
        [d("200")]
    );
    assert_eq!(run("add 5 to the result", Some(d("1"))).unwrap(), [d("6")]);
    assert_eq!(
        // Halves round up, as people expect.
        run("round it to 1 decimal then add this", Some(d("2.25"))).unwrap(),
        [d("2.3"), d("4.6")]
    );
}

#[test]
fn a_reference_without_a_previous_result_is_a_clear_error() {
    let err = run("multiply that by 2", None).unwrap_err();
    assert_eq!(err.kind(), "nothing_to_refer_to");
    assert!(err.to_string().contains("nothing to refer to"), "{err}");
}

#[test]
fn step_references_must_point_backwards() {
    let err = decompose("add $1 and 2 then multiply by 3").unwrap_err();
    assert_eq!(err.kind(), "forward_reference");
    assert_eq!(
        outputs("add 1 and 2 then multiply by 3 then add $0"),
        ["3", "9", "12"]
    );
}

#[test]
fn a_malformed_arithmetic_clause_keeps_the_calculator_error() {
    let err = decompose("add 2 and 3 then multiply by zorp").unwrap_err();
    assert_eq!(err.kind(), "unknown_word");
    assert!(err.to_string().contains("step $1"), "{err}");
    let err = run("divide 1 by 0 then add 1", None).unwrap_err();
    assert_eq!(err.kind(), "division_by_zero");
}

#[test]
fn bad_requests() {
    assert_eq!(decompose("").unwrap_err(), DecomposeError::Empty);
    assert_eq!(decompose(" ; then ; ").unwrap_err(), DecomposeError::Empty);
    assert_eq!(decompose(&"1".repeat(5000)).unwrap_err().kind(), "too_long");
    let many = vec!["add 1 and 1"; MAX_STEPS + 1].join(" then ");
    assert_eq!(decompose(&many).unwrap_err().kind(), "too_many_steps");
}

#[test]
fn conversions_of_earlier_results() {
    let plan = plan("add 2 and 3 then convert it to miles");
    assert_eq!(
        describe(&plan.steps[1]),
        StepDescription {
            tool: "unit_convert".into(),
            operation: "convert".into(),
            inputs: vec!["$0".into(), "mile".into()],
        }
    );
    let plan = super::plan_step(1, &plan.steps[1], Some("3.1".into()));
    assert_eq!(plan.inputs, ["$0", "mile"]);
    assert_eq!(plan.output.as_deref(), Some("3.1"));
}

/// One request per kind of phrasing the reader understands: its answer (and unit).
fn answer(text: &str) -> (String, Option<String>) {
    let plan = plan(text);
    let mut units: Vec<Option<String>> = vec![None; plan.steps.len()];
    let mut convert = |i: usize, step: &Step, input: Option<Decimal>| {
        let Operation::Convert {
            from_unit, to_unit, ..
        } = &step.operation
        else {
            unreachable!("only conversions reach the tool")
        };
        let from = crate::tools::units::find(from_unit.as_deref().unwrap()).unwrap();
        let to = crate::tools::units::find(to_unit).unwrap();
        units[i] = Some(to.name.to_string());
        Ok(StepValue::Number(from.convert(input.unwrap(), to).unwrap()))
    };
    let values = execute(&plan, None, &CalcOptions::default(), &mut convert)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    let last = values.last().and_then(StepValue::number).unwrap();
    let unit = plan
        .steps
        .last()
        .and_then(|s| s.unit.clone())
        .or_else(|| units.last().cloned().flatten())
        .filter(|u| !u.is_empty());
    (last.round_dp(6).normalize().to_string(), unit)
}

#[test]
fn filler_and_politeness_are_not_operations() {
    for text in [
        "please convert 90 pounds to kilograms",
        "hey, can you tell me 90 lbs in kg?",
        "I need 90 pounds in kilograms please",
    ] {
        assert_eq!(
            answer(text),
            ("40.823313".into(), Some("kilogram".into())),
            "{text}"
        );
    }
}

#[test]
fn units_as_people_write_them() {
    let cases = [
        ("300 yards in metres", "274.32", "metre"),
        ("2.5 L to ml", "2500", "millilitre"),
        ("98.6 degrees fahrenheit in celsius", "37", "celsius"),
        ("16 US fluid ounces in ml", "473.176473", "millilitre"),
        ("60 mph in meters per second", "26.8224", "metre per second"),
        ("2 GiB in MB", "2147.483648", "megabyte"),
        ("how many grams in 8 ounces", "226.796185", "gram"),
        ("how many minutes in a day", "1440", "minute"),
        ("how many feet make a mile", "5280", "foot"),
        ("grams in 2 pounds", "907.18474", "gram"),
        ("5 feet 10 inches in cm", "177.8", "centimetre"),
        ("5km to miles", "3.106856", "mile"),
        ("10 stone is how many kg", "63.502932", "kilogram"),
        (
            "a marathon is 42.195 km, how many miles is that",
            "26.218757",
            "mile",
        ),
        (
            "I weigh 11 stone, what's that in kg",
            "69.853225",
            "kilogram",
        ),
        ("1 TB = ? GB", "1000", "gigabyte"),
        ("5 acres in hectares", "2.023428", "hectare"),
    ];
    for (text, value, unit) in cases {
        assert_eq!(answer(text), (value.into(), Some(unit.into())), "{text}");
    }
}

#[test]
fn arithmetic_in_words_without_a_command() {
    for (text, value) in [
        ("nine times six", "54"),
        ("one hundred twenty divided by five", "24"),
        ("4.2 x 3", "12.6"),
        ("the product of 6 and 7", "42"),
        ("what's -15 + 40", "25"),
        ("the difference between 3.6 and 10", "6.4"),
        ("5 subtracted from 20", "15"),
        ("3 less than 10", "7"),
    ] {
        assert_eq!(answer(text).0, value, "{text}");
    }
}

#[test]
fn named_functions() {
    for (text, value) in [
        ("square root of 81", "9"),
        ("cube root of 27", "3"),
        ("cube of 4", "64"),
        ("2 to the 5th", "32"),
        ("3 to the fourth power", "81"),
        ("5!", "120"),
        ("factorial of 6", "720"),
        ("half of 50", "25"),
        ("a third of 90", "30"),
        ("two thirds of 90", "60"),
        ("max of 4, 9 and 2", "9"),
        ("the smallest of 7, 3 and 5", "3"),
        ("absolute value of -7", "7"),
        ("remainder of 17 divided by 5", "2"),
        ("the median of 3, 1, 4 and 2", "2.5"),
        ("what is the 4th power of 3", "81"),
        ("7 thousand minus 2 hundred and fifty", "6750"),
        ("which is biggest: 0.45, 0.405, 0.5 or 0.399", "0.5"),
        ("7/8 as a decimal", "0.875"),
    ] {
        assert_eq!(answer(text).0, value, "{text}");
    }
}

#[test]
fn percentages_in_every_common_form() {
    for (text, value) in [
        ("what percent of 80 is 20", "25"),
        ("20 is what % of 80", "25"),
        ("take 15 percent off 60", "51"),
        ("increase 50 by 10%", "55"),
        ("decrease 200 by 25%", "150"),
        ("a 15% tip on 80", "12"),
        ("60 minus 15%", "51"),
        ("percentage change from 50 to 75", "50"),
        ("percent decrease from 80 to 60", "25"),
        ("30 is 20% of what", "150"),
        ("7 per cent of 1,200", "84"),
        ("250 plus 20% VAT, what's the total", "300"),
        (
            "population grew from 8000 to 9200, what's the percentage increase",
            "15",
        ),
        ("the price is 120 and there's 25% off, what do I pay", "90"),
        (
            "if I leave a 15% tip on a bill of 48, what's the total",
            "55.2",
        ),
        (
            "my test score was 42 out of 60, what percentage is that",
            "70",
        ),
        (
            "our town's population went from 1200 to 1470, by what percent did it grow",
            "22.5",
        ),
    ] {
        assert_eq!(answer(text).0, value, "{text}");
    }
}

#[test]
fn rounding_as_people_expect() {
    for (text, value) in [
        ("round 2.71828 to 3 decimals", "2.718"),
        ("round 1234 to the nearest hundred", "1200"),
        ("round 1250 to the nearest hundred", "1300"),
        ("round 7.5 to a whole number", "8"),
        ("round 2.5", "3"),
        ("round 17 to the nearest 5", "15"),
        ("floor of 3.7", "3"),
        ("round up 3.2", "4"),
        ("round up 4.01 to the nearest whole number", "5"),
        ("round down 2.678 to 2 decimals", "2.67"),
        ("round 16.25 to one decimal place", "16.3"),
    ] {
        assert_eq!(answer(text).0, value, "{text}");
    }
}

#[test]
fn chains_with_commas_and_references() {
    for (text, value) in [
        ("add 5 and 3, then multiply by 4", "32"),
        ("start with 10, double it, then add 5", "25"),
        ("5 plus 3, times 2", "16"),
        ("2 to the 8th, minus 6, then divide by 10", "25"),
        ("multiply 6 by 7 and after that subtract 2", "40"),
        ("take 100, subtract 20, then divide the result by 4", "20"),
        ("add 30 to 45, then take 20% of that", "15"),
        (
            "start at 1000, decrease by 10%, then decrease that by 10% again",
            "810",
        ),
        ("5 squared plus 12 squared, then take the square root", "13"),
        ("take 64, find its square root, then add 2", "10"),
    ] {
        assert_eq!(answer(text).0, value, "{text}");
    }
}

#[test]
fn word_problems_with_explicit_numbers() {
    let cases = [
        ("share 90 between 3 people", "30", None),
        ("5 boxes of 12 eggs, how many eggs", "60", None),
        (
            "each of 8 kids needs 3 pencils, how many in total",
            "24",
            None,
        ),
        (
            "a room 4 m by 5 m, what's the area",
            "20",
            Some("square metre"),
        ),
        ("how many 330 ml cans fill a 2 liter jug", "7", None),
        ("120 km at 60 km/h, how long", "2", Some("hour")),
        (
            "drive at 60 mph for 20 minutes, how far",
            "20",
            Some("mile"),
        ),
        (
            "I ran 10 km in 50 minutes, what's my speed in km/h",
            "12",
            Some("kilometre per hour"),
        ),
        (
            "a box holds 18 apples and I have 200 apples, how many boxes do I need",
            "12",
            None,
        ),
        (
            "I have 100 chairs and each table needs 8, how many complete tables",
            "12",
            None,
        ),
        (
            "how many 250 ml glasses can I fill from a 1.5 litre jug",
            "6",
            None,
        ),
        (
            "I read 35 pages a day, how many pages will I read in 2 weeks",
            "490",
            None,
        ),
        (
            "36 players split into teams of 4, how many teams",
            "9",
            None,
        ),
    ];
    for (text, value, unit) in cases {
        assert_eq!(
            answer(text),
            (value.into(), unit.map(String::from)),
            "{text}"
        );
    }
}

#[test]
fn what_it_cannot_read_is_an_error_never_a_guess() {
    // A number word swallowed as a thing counted, a percent read as a box: neither.
    assert_eq!(answer("add 30 to 45, then take 20% of that").0, "15");
    assert_eq!(answer("nine hundred divided by twelve").0, "75");
    assert_eq!(answer("25 percent of 48").0, "12");
    for text in [
        "share 90 between my friends",
        "split the bill between us",
        // Context with a second amount: which one the question means is not clear.
        "I ran 5 km and 3 km, what's that in miles",
        "how many grams in a bucket",
    ] {
        // Not read as arithmetic or a conversion: an error, or a step for a tool that does
        // not exist on the fast path (the answer is then `unclassified`).
        let understood = decompose(text).is_ok_and(|plan| {
            plan.steps
                .iter()
                .all(|s| !matches!(s.operation, Operation::Tool { .. }))
        });
        assert!(!understood, "{text} should not be read");
    }
}

#[test]
fn a_tenant_vocabulary_extends_the_reader() {
    let config: crate::registry::LanguageConfig = serde_norway::from_str(
        "version: 1\nfillers: [yo]\nsynonyms: {\"knock off\": take}\nunits: {furlong: 201.168 metre, footy: foot}\n",
    )
    .unwrap();
    assert!(config.problems().is_empty());
    let language = crate::registry::Language::compile(&config);
    let plan = decompose_with("yo knock off 10% off 50", &language).unwrap();
    let values = execute_arithmetic(&plan, None, &CalcOptions::default()).unwrap();
    assert_eq!(values, [d("45")]);
    let plan = decompose_with("2 furlongs in metres", &language).unwrap();
    assert!(matches!(
        &plan.steps[0].operation,
        Operation::Convert { from_unit: Some(u), .. } if u == "metre"
    ));
    assert!(decompose_with("3 footy in cm", &language).is_ok());
    // A local unit as the target: the answer is in it, named as the file names it.
    let plan = decompose_with("how many furlongs in 1 km", &language).unwrap();
    assert_eq!(plan.steps.last().unwrap().unit.as_deref(), Some("furlong"));
    // Without the file, the same words are not understood.
    assert!(decompose("2 furlongs in metres").is_err());
}

#[test]
fn a_long_text_costs_no_more_than_its_length() {
    // Conversions try every split of the words; the reading is bounded, so these finish
    // at once (unbounded, the first took minutes: the suite's time is the check). Neither
    // is a request anyone understands.
    let conversions = "1 km to ".repeat(500);
    let numbers = "1 ".repeat(2000);
    for text in [conversions.as_str(), numbers.as_str()] {
        assert!(decompose(text).is_err(), "{}", &text[..20]);
    }
}

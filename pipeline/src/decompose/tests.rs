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
            from_unit: Some("km".into()),
            to_unit: "mile".into(),
        }
    );
    assert_eq!(
        described(text),
        vec![
            step("unit_convert", "convert", &["5", "km", "mile"]),
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
        run("round it to 1 decimal then add this", Some(d("2.25"))).unwrap(),
        [d("2.2"), d("4.4")]
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

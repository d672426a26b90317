//! Unit tests of the calculator, by request text.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::*;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn calc(text: &str) -> Decimal {
    evaluate_text(text, &CalcOptions::default())
        .unwrap_or_else(|err| panic!("{text:?} failed: {err}"))
}

fn calc_err(text: &str) -> CalcError {
    match evaluate_text(text, &CalcOptions::default()) {
        Ok(value) => panic!("{text:?} gave {value}, expected an error"),
        Err(err) => err,
    }
}

fn assert_calc(text: &str, expected: &str) {
    assert_eq!(calc(text), d(expected), "{text:?}");
}

#[test]
fn leading_phrasing_is_stripped() {
    assert_calc("Calculate 42 + 58", "100");
    assert_calc("what is 7 times 8 minus 6", "50");
    assert_calc("compute (2 + 3) * 4", "20");
    assert_calc("What's 6 * 7?", "42");
    assert_calc("please calculate 1 + 1.", "2");
    assert_calc("how much is 2 + 2?", "4");
}

#[test]
fn operator_precedence_and_grouping() {
    assert_calc("2 + 3 * 4", "14");
    assert_calc("(2 + 3) * 4", "20");
    assert_calc("10 - 4 - 3", "3");
    assert_calc("100 / 10 / 5", "2");
    assert_calc("2 ^ 3 ^ 2", "512");
    assert_calc("-2 ^ 2", "-4");
    assert_calc("(-2) ^ 2", "4");
    assert_calc("2 * -3", "-6");
    assert_calc("- - 5", "5");
    assert_calc("[1 + 2] * 3", "9");
}

#[test]
fn powers() {
    assert_calc("2^10", "1024");
    assert_calc("2 ** 10", "1024");
    assert_calc("2 to the power of 10", "1024");
    assert_calc("raise 2 to the power of 10", "1024");
    assert_calc("2 raised to 3", "8");
    assert_calc("5 squared", "25");
    assert_calc("3 cubed", "27");
    assert_calc("4²", "16");
    assert_calc("2 ^ -2", "0.25");
    assert_calc("square 9", "81");
    assert_calc("1 ^ 1000000000000000000000", "1");
    assert_calc("-1 ^ 3", "-1");
    assert_calc("(-1) ^ 1000000000000000000001", "-1");
    assert_eq!(calc("4 ^ 0.5").round_dp(8), d("2"));
}

#[test]
fn modulo_and_percent() {
    assert_calc("10 % 3", "1");
    assert_calc("10 mod 3", "1");
    assert_calc("15% of 200", "30");
    assert_calc("15 percent of 200", "30");
    assert_calc("what is 20% of 50?", "10");
    assert_calc("15% of 200 + 5", "35");
    assert_calc("50%", "0.5");
}

#[test]
fn functions_with_and_without_brackets() {
    assert_calc("sqrt(16)", "4");
    assert_calc("square root of 16", "4");
    assert_calc("what is the square root of 81?", "9");
    assert_calc("√25", "5");
    assert_calc("sqrt 16 + 9", "13");
    assert_calc("sqrt(2)", "1.4142135624");
    assert_calc("abs(-3)", "3");
    assert_calc("absolute value of -3", "3");
    assert_calc("floor(2.7)", "2");
    assert_calc("ceil(2.1)", "3");
}

#[test]
fn rounding_phrases() {
    assert_calc("round(3.14159, 2)", "3.14");
    assert_calc("round 3.14159 to 2 decimals", "3.14");
    assert_calc("round 3.14159 to 3 decimal places", "3.142");
    assert_calc("round 2.567 to the nearest tenth", "2.6");
    assert_calc("round 7.6 to the nearest whole number", "8");
    assert_calc("round(2.7)", "3");
    assert_calc("10 / 3 rounded to 2 decimals", "3.33");
    assert_eq!(calc_err("round(1.5, 0.5)").kind(), "invalid_argument");
    assert_eq!(calc_err("round(1.5, 40)").kind(), "invalid_argument");
}

#[test]
fn lists_of_numbers() {
    assert_calc("sum of 1, 2 and 3", "6");
    assert_calc("the sum of 1, 2, and 3", "6");
    assert_calc("average of 3, 4 and 5", "4");
    assert_calc("mean of 1 and 2", "1.5");
    assert_calc("min(4, 2, 9)", "2");
    assert_calc("max of 4 and 9", "9");
    assert_calc("total of 10 and 20", "30");
    assert_eq!(calc_err("min()").kind(), "wrong_argument_count");
    assert_eq!(calc_err("sqrt(1, 2)").kind(), "wrong_argument_count");
}

#[test]
fn multiples_and_fractions_in_words() {
    assert_calc("half of 30", "15");
    assert_calc("a half of 30", "15");
    assert_calc("double 21", "42");
    assert_calc("twice 8", "16");
    assert_calc("triple 5", "15");
}

#[test]
fn operators_in_words() {
    assert_calc("7 plus 3", "10");
    assert_calc("7 minus 3", "4");
    assert_calc("7 times 3", "21");
    assert_calc("7 multiplied by 3", "21");
    assert_calc("21 divided by 3", "7");
    assert_calc("21 over 3", "7");
    assert_calc("3 x 4", "12");
}

#[test]
fn verbs() {
    assert_calc("add 2 and 3", "5");
    assert_calc("add 2 to 3", "5");
    assert_calc("subtract 250 from 1000", "750");
    assert_calc("multiply 6 by 7", "42");
    assert_calc("divide 100 by 25", "4");
    assert_calc("add 19.99 and 5.01", "25.00");
}

#[test]
fn typographic_symbols() {
    assert_calc("6 × 7", "42");
    assert_calc("84 ÷ 2", "42");
    assert_calc("50 − 8", "42");
    assert_calc("6 · 7", "42");
}

#[test]
fn number_forms() {
    assert_calc("1,250 + 1", "1251");
    assert_calc("1,250,000 / 1,000", "1250");
    assert_calc("1.5 * 2", "3.0");
    assert_calc(".5 + .5", "1.0");
    assert_calc("2.5k", "2500");
    assert_calc("1.2 million", "1200000");
    assert_calc("3 thousand + 1", "3001");
    assert_calc("2 dozen", "24");
    assert_calc("1e3 + 1", "1001");
    assert_calc("1.5e-3", "0.0015");
}

#[test]
fn number_words() {
    assert_calc("forty two plus a dozen", "54");
    assert_calc("forty-two minus two", "40");
    assert_calc("one hundred and five", "105");
    assert_calc("two million three hundred thousand", "2300000");
    assert_calc("a hundred times three", "300");
    assert_calc("seven times eight minus six", "50");
}

#[test]
fn scale_and_rounding_options() {
    assert_calc("1 / 3", "0.3333333333");
    assert_calc("2 / 3", "0.6666666667");
    let two_places = |rounding| CalcOptions { scale: 2, rounding };
    let eval_with = |text, opts: CalcOptions| evaluate_text(text, &opts).unwrap();
    assert_eq!(
        eval_with("0.125", two_places(Rounding::HalfEven)),
        d("0.12")
    );
    assert_eq!(eval_with("0.125", two_places(Rounding::HalfUp)), d("0.13"));
    assert_eq!(
        eval_with("0.125", two_places(Rounding::HalfDown)),
        d("0.12")
    );
    assert_eq!(eval_with("0.129", two_places(Rounding::Down)), d("0.12"));
    assert_eq!(eval_with("0.121", two_places(Rounding::Up)), d("0.13"));
    assert_eq!(eval_with("-0.121", two_places(Rounding::Floor)), d("-0.13"));
    assert_eq!(
        eval_with("-0.129", two_places(Rounding::Ceiling)),
        d("-0.12")
    );
    assert_eq!(
        eval_with("round(2.5)", two_places(Rounding::HalfEven)),
        d("2")
    );
    assert_eq!(
        eval_with("round(2.5)", two_places(Rounding::HalfUp)),
        d("3")
    );
}

#[test]
fn results_keep_their_computed_scale() {
    assert_eq!(calc("19.99 + 5.01").to_string(), "25.00");
    assert_eq!(calc("sqrt(16)").to_string(), "4");
    assert_eq!(calc("Calculate 42 + 58").to_string(), "100");
    assert_eq!(calc("15% of 200").to_string(), "30");
    // Rounded results drop the zeros that rounding left behind.
    assert_eq!(calc("1 / 3 * 3").to_string(), "1");
    assert_eq!(calc("1e-28").to_string(), "0");
}

#[test]
fn tiny_powers_round_to_zero() {
    assert_calc("2 ^ -1074", "0");
    assert_calc("0.5 ^ 1000", "0");
    assert_eq!(calc_err("0.5 ^ -1000").kind(), "overflow");
}

#[test]
fn references_are_looked_up() {
    let expr = parse("multiply that by 2").unwrap();
    let previous = |r| (r == Reference::Previous).then(|| d("100"));
    assert_eq!(
        eval(&expr, &CalcOptions::default(), &previous).unwrap(),
        d("200")
    );
    let expr = parse("$0 * 3 + $prev").unwrap();
    let lookup = |r| match r {
        Reference::Step(0) => Some(d("25")),
        Reference::Previous => Some(d("1")),
        Reference::Step(_) => None,
    };
    assert_eq!(
        eval(&expr, &CalcOptions::default(), &lookup).unwrap(),
        d("76")
    );
    assert_calc_ref("round the result to 1 decimal", "3.1");
    assert_calc_ref("divide it by 2", "1.57");
    assert_calc_ref("add 5", "8.14");
    assert_eq!(
        calc_err("multiply that by 2"),
        CalcError::NothingToReferTo {
            reference: Reference::Previous
        }
    );
    assert!(
        calc_err("that + 1")
            .to_string()
            .contains("nothing to refer to")
    );
}

fn assert_calc_ref(text: &str, expected: &str) {
    let expr = parse(text).unwrap();
    let value = eval(&expr, &CalcOptions::default(), &|_| Some(d("3.14"))).unwrap();
    assert_eq!(value, d(expected), "{text:?}");
}

#[test]
fn expressions_print_in_canonical_form() {
    let shown = |text| parse(text).unwrap().to_string();
    assert_eq!(shown("what is 7 times 8 minus 6"), "7 * 8 - 6");
    assert_eq!(shown("(2 + 3) * 4"), "(2 + 3) * 4");
    assert_eq!(shown("2 - (3 - 4)"), "2 - (3 - 4)");
    assert_eq!(shown("(2 ^ 3) ^ 2"), "(2 ^ 3) ^ 2");
    assert_eq!(shown("-2 ^ 2"), "-(2 ^ 2)");
    assert_eq!(shown("round 3.14159 to 2 decimals"), "round(3.14159, 2)");
    assert_eq!(shown("multiply by 3"), "$prev * 3");
    assert_eq!(shown("subtract 250 from 1000"), "1000 - 250");
}

#[test]
fn empty_and_wordy_input_is_an_error() {
    assert_eq!(calc_err(""), CalcError::Empty);
    assert_eq!(calc_err("   ?"), CalcError::Empty);
    assert_eq!(calc_err("calculate"), CalcError::Empty);
    assert_eq!(calc_err("hello there").kind(), "unknown_word");
    assert_eq!(calc_err("what is the weather").kind(), "unknown_word");
    assert_eq!(
        calc_err("an apple"),
        CalcError::UnknownWord {
            pos: 3,
            word: "apple".into()
        }
    );
    assert_eq!(calc_err("2 +").kind(), "unexpected_end");
    assert_eq!(calc_err("(2 + 3").kind(), "unexpected_end");
    assert_eq!(calc_err("2 + 3)").kind(), "unexpected_token");
    assert_eq!(calc_err("2 3").kind(), "unexpected_token");
    assert_eq!(calc_err("plus of").kind(), "unexpected_token");
}

#[test]
fn unknown_word_is_named_with_its_position() {
    let err = calc_err("42 zorp 58");
    assert_eq!(
        err,
        CalcError::UnknownWord {
            pos: 3,
            word: "zorp".into()
        }
    );
    assert_eq!(err.to_string(), "unknown word 'zorp' at position 3");
    assert_eq!(err.kind(), "unknown_word");
}

#[test]
fn arithmetic_errors() {
    assert_eq!(calc_err("1 / 0"), CalcError::DivisionByZero);
    assert_eq!(calc_err("5 % 0"), CalcError::DivisionByZero);
    assert_eq!(calc_err("divide 1 by 0").kind(), "division_by_zero");
    assert_eq!(calc_err("0 ^ -1"), CalcError::DivisionByZero);
    assert_eq!(calc_err("1e28 * 1e28").kind(), "overflow");
    assert_eq!(calc_err("10^100000").kind(), "overflow");
    assert_eq!(calc_err("2 ^ 1e28").kind(), "overflow");
    assert_eq!(
        calc_err("79228162514264337593543950335 + 1").kind(),
        "overflow"
    );
    assert_eq!(calc_err("sqrt(-4)").kind(), "domain_error");
    assert_eq!(
        calc_err("square root of -4").to_string(),
        "the square root of -4 is not a real number"
    );
    assert_eq!(calc_err("(-8) ^ 0.5").kind(), "domain_error");
}

#[test]
fn out_of_range_numbers() {
    let hundred_digits = "9".repeat(100);
    let err = calc_err(&format!("{hundred_digits} + 1"));
    assert_eq!(err.kind(), "number_out_of_range");
    assert!(err.to_string().len() < 200, "message stays short: {err}");
    assert_eq!(
        calc_err("123456789012345678901234567890").kind(),
        "number_out_of_range"
    );
    assert_eq!(calc_err("1e400").kind(), "number_out_of_range");
    let five_thousand_digits = "7".repeat(5000);
    assert_eq!(
        calc_err(&five_thousand_digits),
        CalcError::TooLong {
            limit: MAX_TEXT_CHARS
        }
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let nested = |depth: usize| format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    assert_calc(&nested(MAX_DEPTH as usize - 1), "1");
    assert_eq!(
        calc_err(&nested(MAX_DEPTH as usize)),
        CalcError::TooDeep { limit: MAX_DEPTH }
    );
    // 10,000 levels: over the length limit by default, and refused by depth when the
    // length limit is lifted.
    let deep = nested(10_000);
    assert_eq!(calc_err(&deep).kind(), "too_long");
    let unlimited_length = Limits {
        max_chars: usize::MAX,
        ..Limits::DEFAULT
    };
    assert_eq!(
        parse_with_limits(&deep, &unlimited_length),
        Err(CalcError::TooDeep { limit: MAX_DEPTH })
    );
    let signs = format!("{}1", "-".repeat(10_000));
    assert_eq!(
        parse_with_limits(&signs, &unlimited_length),
        Err(CalcError::TooDeep { limit: MAX_DEPTH })
    );
    let words = format!("{}16", "sqrt ".repeat(10_000));
    assert_eq!(
        parse_with_limits(&words, &unlimited_length),
        Err(CalcError::TooDeep { limit: MAX_DEPTH })
    );
}

#[test]
fn longest_flat_expression_evaluates() {
    // Left-associative chains are not nested by the parser, but make a deep tree: the
    // longest one the length limit allows must still evaluate (and drop) safely.
    let terms = MAX_TEXT_CHARS / 2;
    let chain = vec!["1"; terms].join("+");
    assert_eq!(calc(&chain), Decimal::from(terms));
    let filler = "the ".repeat(1000) + "1";
    assert_calc(&filler, "1");
}

#[test]
fn control_and_unexpected_characters() {
    assert_eq!(
        calc_err("2 +\u{7} 3"),
        CalcError::ControlCharacter { pos: 3, code: 7 }
    );
    assert_eq!(calc_err("1\u{0}").kind(), "control_character");
    assert_calc("2\t+\n3", "5");
    assert_eq!(
        calc_err("2 # 3"),
        CalcError::UnexpectedCharacter { pos: 2, found: '#' }
    );
    assert_eq!(calc_err("$x").kind(), "unexpected_character");
}

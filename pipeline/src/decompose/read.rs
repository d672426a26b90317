//! Reading one clause (or the whole request) into steps: a construction of `phrases`
//! (percentages, word problems), arithmetic for the calculator, a unit conversion, or an
//! action for the tool its verb names.

use crate::calc::{self, CalcError, Expr, Reference};
use crate::registry::Language;

use super::phrases::{self, Table};
use super::plan::{Operation, Step};
use super::{DecomposeError, convert};

/// Words in a tool's arguments that mean "the previous result".
const REFERENCE_PHRASES: &[&[&str]] = &[
    &["it"],
    &["that"],
    &["this"],
    &["the", "result"],
    &["the", "answer"],
];

/// Openings that only introduce a clause's value: "start with 10", "take 100".
const VALUE_OPENINGS: &[&str] = &[
    "let's start with",
    "lets start with",
    "starting with",
    "start with",
    "start from",
    "start at",
    "begin with",
    "beginning with",
    "i have",
    "we have",
    "i've got",
    "i got",
    "take",
];

/// The whole request as one reading, if one construction, expression or conversion covers
/// all of it; no tool steps (those need the clauses).
pub(crate) fn read_whole(text: &str, language: &Language) -> Option<Vec<Step>> {
    if let Some(steps) = phrases::read(Table::Percentages, text, language) {
        return Some(steps);
    }
    if let Ok(expr) = calc::parse(text) {
        return Some(vec![calculation(expr, text)]);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    convert::read(&words, language).or_else(|| phrases::read(Table::WordProblems, text, language))
}

/// Words that, opening a clause after the first, work on the result before ("…, minus 6"
/// is the result less 6, not negative 6).
const INFIX_OPENINGS: &[&str] = &[
    "minus",
    "plus",
    "times",
    "divided",
    "multiplied",
    "x",
    "over",
    "less",
    "to",
    "mod",
    "modulo",
    "-",
    "+",
    "*",
    "/",
    "×",
    "÷",
    "^",
];

/// Reads the clause whose first step will be step `index` of the plan.
pub(crate) fn read_clause(
    index: usize,
    clause: &str,
    language: &Language,
) -> Result<Vec<Step>, DecomposeError> {
    let clause = super::normalize::strip_edges(strip_connective(clause), language);
    let opens_with_operator = clause
        .split_whitespace()
        .next()
        .is_some_and(|w| INFIX_OPENINGS.iter().any(|o| w.eq_ignore_ascii_case(o)));
    if index > 0
        && opens_with_operator
        && let Ok(expr) = calc::parse(&format!("that {clause}"))
    {
        return Ok(vec![calculation(expr, clause)]);
    }
    if let Some(steps) = read_whole(clause, language) {
        return Ok(steps);
    }
    if let Some(rest) = strip_opening(clause) {
        if let Ok(expr) = calc::parse(rest) {
            return Ok(vec![calculation(expr, clause)]);
        }
        // "take 3 cups, convert to ml": a starting amount with its unit.
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let Some(step) = convert::amount_step(&words, clause, language) {
            return Ok(vec![step]);
        }
    }
    if let Some(operation) = conversion(clause) {
        return Ok(vec![Step {
            operation,
            text: clause.to_string(),
            unit: None,
        }]);
    }
    // "times 2", "divided by 4", "squared": an operation on the result before.
    if let Ok(expr) = calc::parse(&format!("that {clause}")) {
        return Ok(vec![calculation(expr, clause)]);
    }
    let operation = arithmetic_or_tool(clause).map_err(|source| DecomposeError::Calc {
        step: index,
        clause: clause.to_string(),
        source,
    })?;
    Ok(vec![Step {
        operation,
        text: clause.to_string(),
        unit: None,
    }])
}

fn calculation(expr: Expr, clause: &str) -> Step {
    Step {
        operation: Operation::Calculate(expr),
        text: clause.to_string(),
        unit: None,
    }
}

/// The clause without a connective that only orders it: "now", "next", "and", "lastly".
fn strip_connective(clause: &str) -> &str {
    let mut clause = clause.trim();
    for word in ["and", "now", "next", "lastly", "finally", "so", "then"] {
        if let Some(rest) = clause.get(word.len()..)
            && clause[..word.len()].eq_ignore_ascii_case(word)
            && rest.starts_with([' ', ','])
        {
            clause = rest.trim_start_matches([' ', ',']);
        }
    }
    clause
}

/// The clause after an opening such as "start with", if it has one.
fn strip_opening(clause: &str) -> Option<&str> {
    VALUE_OPENINGS.iter().find_map(|opening| {
        let head = clause.get(..opening.len())?;
        let rest = clause.get(opening.len()..)?;
        (head.eq_ignore_ascii_case(opening) && rest.starts_with(char::is_whitespace))
            .then(|| rest.trim())
    })
}

/// Arithmetic when the calculator reads the clause; otherwise a tool step when the clause
/// starts with a verb outside the calculator's vocabulary ("process", "email"). A clause
/// that starts like arithmetic keeps the calculator's error ("add 2 and zorp" names "zorp").
fn arithmetic_or_tool(clause: &str) -> Result<Operation, CalcError> {
    match calc::parse(clause) {
        Ok(expr) => Ok(Operation::Calculate(expr)),
        Err(err) if err.is_syntax() => tool_step(clause).ok_or(err),
        Err(err) => Err(err),
    }
}

fn first_word(clause: &str) -> (&str, &str) {
    let clause = clause.trim_start();
    let end = clause.find(char::is_whitespace).unwrap_or(clause.len());
    (&clause[..end], clause[end..].trim())
}

/// "process the orders from yesterday" → tool `process` with its arguments.
fn tool_step(clause: &str) -> Option<Operation> {
    let (verb, args) = first_word(clause);
    let verb = verb.to_lowercase();
    if verb.is_empty() || !verb.chars().all(char::is_alphabetic) || calc::is_calculator_word(&verb)
    {
        return None;
    }
    let input = mentions_previous_result(args).then_some(Reference::Previous);
    Some(Operation::Tool {
        verb,
        args: args.to_string(),
        input,
    })
}

fn mentions_previous_result(args: &str) -> bool {
    let words: Vec<String> = args
        .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    REFERENCE_PHRASES.iter().any(|phrase| {
        words
            .windows(phrase.len())
            .any(|window| window.iter().zip(phrase.iter()).all(|(a, b)| a == b))
    })
}

/// "convert 5 km to miles", "convert it to miles": the value, the units named.
fn conversion(clause: &str) -> Option<Operation> {
    let (verb, rest) = first_word(clause);
    if !verb.eq_ignore_ascii_case("convert") {
        return None;
    }
    let (source, target) = split_at_last_word(rest, &["to", "into", "in"])?;
    let (value, from_unit) = quantity(source)?;
    Some(Operation::Convert {
        value,
        from_unit,
        to_unit: unit_name(target),
    })
}

/// Splits `text` around the last of `words` standing alone; the part before may be empty
/// ("to miles").
fn split_at_last_word<'t>(text: &'t str, words: &[&str]) -> Option<(&'t str, &'t str)> {
    // A leading space lets a word at the very start match; offsets shift back by one.
    let padded = format!(" {}", text.to_ascii_lowercase());
    words
        .iter()
        .filter_map(|word| {
            padded
                .rfind(&format!(" {word} "))
                .map(|at| (at, word.len()))
        })
        .max()
        .map(|(at, len)| {
            (
                text[..at.saturating_sub(1)].trim(),
                text[at + len + 1..].trim(),
            )
        })
        .filter(|(_, target)| !target.is_empty())
}

/// "5 km" → (5, km); "1,250 meters"; "", "it", "the result" → (previous result, no unit).
fn quantity(source: &str) -> Option<(Expr, Option<String>)> {
    if source.is_empty() {
        return Some((Expr::Ref(Reference::Previous), None));
    }
    if let Ok(expr @ Expr::Ref(_)) = calc::parse(source) {
        return Some((expr, None));
    }
    let unit_start = source.find(char::is_alphabetic)?;
    let value = calc::parse(&source[..unit_start]).ok()?;
    Some((value, Some(unit_name(&source[unit_start..]))))
}

/// A unit as the unit tool expects it: lowercase and singular ("Miles" → "mile").
fn unit_name(raw: &str) -> String {
    raw.trim_end_matches(['.', '?', '!'])
        .split_whitespace()
        .map(|word| singular(&word.to_lowercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn singular(word: &str) -> String {
    const IRREGULAR: &[(&str, &str)] = &[("feet", "foot"), ("inches", "inch")];
    if let Some((_, one)) = IRREGULAR.iter().find(|(many, _)| *many == word) {
        return (*one).to_string();
    }
    let keeps_s = ["ss", "us", "is"].iter().any(|end| word.ends_with(end));
    match word.strip_suffix('s') {
        Some(stem) if stem.len() >= 2 && !keeps_s => stem.to_string(),
        _ => word.to_string(),
    }
}

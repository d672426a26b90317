//! Reading one clause into a [`Step`]: a unit conversion, arithmetic for the calculator,
//! or an action for the tool its verb names.

use crate::calc::{self, CalcError, Expr, Reference};

use super::DecomposeError;
use super::plan::{Operation, Step};

/// Words in a tool's arguments that mean "the previous result".
const REFERENCE_PHRASES: &[&[&str]] = &[
    &["it"],
    &["that"],
    &["this"],
    &["the", "result"],
    &["the", "answer"],
];

/// Reads the clause at position `index` of the plan.
pub(crate) fn read_clause(index: usize, clause: &str) -> Result<Step, DecomposeError> {
    let operation = match conversion(clause) {
        Some(conversion) => conversion,
        None => arithmetic_or_tool(clause).map_err(|source| DecomposeError::Calc {
            step: index,
            clause: clause.to_string(),
            source,
        })?,
    };
    Ok(Step {
        operation,
        text: clause.to_string(),
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

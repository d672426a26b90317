//! Reading a unit conversion, in the ways people ask for one:
//!
//! - "5 km to miles", "convert 300 yards in metres", "98.6 degrees fahrenheit in celsius",
//!   "2.5 L = ? ml", "10 stone is how many kg";
//! - "how many grams in 8 ounces", "how many minutes are there in a day",
//!   "how many feet make a mile";
//! - "grams in 8 ounces", "feet in a mile";
//! - compound amounts: "5 feet 10 inches in cm", "1 hour and 30 minutes in minutes".
//!
//! Units are found by the tenant's language file first, then the unit table (plurals,
//! symbols and abbreviations, longest phrase first), and the amount before a unit is read by
//! the calculator ("two and a half", "1/2", "a"). Every word must be accounted for: a
//! request that is only partly a conversion is not one.

use rust_decimal::Decimal;

use crate::calc::{self, BinaryOp, Expr, Function, Reference};
use crate::registry::{Language, UnitAlias};

use super::plan::{Operation, Step};

/// Most words one unit's name spans ("imperial fluid ounces per hour" is five).
const MAX_UNIT_WORDS: usize = 5;
/// Most words a conversion request may have: the reading tries every split of the words,
/// so a bound keeps a long text from costing more than a short one would.
const MAX_WORDS: usize = 48;
/// Most words one amount may span ("two million three hundred and forty thousand").
const MAX_AMOUNT_WORDS: usize = 12;

/// Words that may open a conversion without meaning more than "convert".
const VERBS: &[&str] = &[
    "convert",
    "change",
    "turn",
    "express",
    "switch",
    "translate",
    "transform",
    "put",
];

/// What may stand between the amount and the target unit, longest first.
const SEPARATORS: &[&[&str]] = &[
    &["is", "equal", "to", "how", "many"],
    &["is", "equal", "to"],
    &["equals", "how", "many"],
    &["is", "how", "many"],
    &["are", "how", "many"],
    &["in", "terms", "of"],
    &["converted", "to"],
    &["converted", "into"],
    &["expressed", "in"],
    &["is", "what", "in"],
    &["in", "how", "many"],
    &["to", "how", "many"],
    &["into"],
    &["to"],
    &["in"],
    &["as"],
    &["equals"],
    &["="],
    &["->"],
];

/// Words between "how many <unit>" and the amount: "are there in", "make up", "fit in".
const HOW_MANY_LINKS: &[&str] = &[
    "are", "is", "there", "in", "make", "makes", "up", "to", "fit", "into", "go", "does", "do",
    "it", "take", "equal", "equals", "per", "within", "of",
];

/// A conversion of the whole `words`, as plan steps (references local to them), if the
/// words are one.
pub(crate) fn read(words: &[&str], language: &Language) -> Option<Vec<Step>> {
    if words.len() > MAX_WORDS {
        return None;
    }
    let words = match words.first() {
        Some(first) if VERBS.iter().any(|v| first.eq_ignore_ascii_case(v)) => &words[1..],
        _ => words,
    };
    let text = words.join(" ");
    let (amounts, target) = how_many(words, language)
        .or_else(|| unit_in_amount(words, language))
        .or_else(|| amount_to_unit(words, language))
        .or_else(|| stated_then_asked(words, language))?;
    Some(steps(&text, amounts, target))
}

/// Questions about an amount stated just before: "<…> 42.195 km, how many miles is that",
/// "I weigh 11 stone, what's that in kg". The words before the amount are context ("a
/// marathon is", "my drive is") and may hold no other number, so there is one amount the
/// question can mean.
fn stated_then_asked(words: &[&str], language: &Language) -> Option<(Vec<Amount>, Target)> {
    // The question starts after the last word that ends a clause (a comma or full stop).
    let end = words
        .iter()
        .rposition(|w| w.ends_with(',') || w.ends_with('.') || w.ends_with(';'))?;
    let (statement, question) = (&words[..=end], &words[end + 1..]);
    let statement: Vec<&str> = statement
        .iter()
        .map(|w| w.trim_end_matches([',', '.', ';']))
        .collect();
    let target = asked_unit(question, language)?;
    // The amount is the statement's tail; everything before it is context with no number.
    for start in 0..statement.len() {
        if let Some(amounts) = amounts(&statement[start..], language) {
            let context_has_number = statement[..start].iter().any(|w| {
                w.chars().any(|c| c.is_ascii_digit())
                    || calc::parse(w).is_ok_and(|e| matches!(e, Expr::Number(_)))
            });
            return (!context_has_number).then_some((amounts, target));
        }
    }
    None
}

/// The unit a follow-up question asks for: "what's that in kg", "what is it in fahrenheit",
/// "how many miles is that", "in litres?".
fn asked_unit(question: &[&str], language: &Language) -> Option<Target> {
    let lower: Vec<String> = question
        .iter()
        .map(|w| w.trim_end_matches(['?', '!']).to_ascii_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    let words: Vec<&str> = lower.iter().map(String::as_str).collect();
    let after = |prefix: &[&str]| -> Option<Vec<&str>> {
        words
            .starts_with(prefix)
            .then(|| words[prefix.len()..].to_vec())
    };
    for opening in [
        &["what's", "that", "in"][..],
        &["whats", "that", "in"],
        &["what", "is", "that", "in"],
        &["what's", "it", "in"],
        &["what", "is", "it", "in"],
        &["how", "much", "is", "that", "in"],
        &["how", "much", "is", "it", "in"],
        &["what", "does", "that", "come", "to", "in"],
        &["convert", "that", "to"],
        &["convert", "it", "to"],
        &["in"],
    ] {
        if let Some(rest) = after(opening) {
            let (len, unit) = unit_at(&rest, 0, language)?;
            return (len == rest.len()).then_some(unit);
        }
    }
    let rest = after(&["how", "many"])?;
    let (len, unit) = unit_at(&rest, 0, language)?;
    matches!(
        &rest[len..],
        ["is", "that"]
            | ["is", "it"]
            | ["are", "that"]
            | ["are", "there"]
            | ["does", "that", "make"]
    )
    .then_some(unit)
}

/// A starting amount with its unit ("3 cups", "250 g") as a step whose value keeps that
/// unit, so that "convert to ml" after it knows what it converts.
pub(crate) fn amount_step(words: &[&str], clause: &str, language: &Language) -> Option<Step> {
    if words.len() > MAX_AMOUNT_WORDS + MAX_UNIT_WORDS {
        return None;
    }
    let (used, amount) = amount(words, language)?;
    if used != words.len() {
        return None;
    }
    let unit = amount.unit.alias.unit.name.to_string();
    Some(Step {
        operation: Operation::Convert {
            value: scaled(amount.value, amount.unit.alias.factor),
            from_unit: Some(unit.clone()),
            to_unit: unit,
        },
        text: clause.to_string(),
        unit: None,
    })
}

/// "how many <target> [are there in|make|…] <amount>".
fn how_many(words: &[&str], language: &Language) -> Option<(Vec<Amount>, Target)> {
    if !(is(words.first()?, "how") && is(words.get(1)?, "many")) {
        return None;
    }
    let (len, target) = unit_at(words, 2, language)?;
    let mut at = 2 + len;
    let links_start = at;
    while words
        .get(at)
        .is_some_and(|w| HOW_MANY_LINKS.iter().any(|l| is(w, l)))
    {
        at += 1;
    }
    if at == links_start {
        return None;
    }
    let amounts = amounts(&words[at..], language)?;
    Some((amounts, target))
}

/// "<target> in <amount>": "grams in 8 ounces", "feet in a mile".
fn unit_in_amount(words: &[&str], language: &Language) -> Option<(Vec<Amount>, Target)> {
    let (len, target) = unit_at(words, 0, language)?;
    let link = words.get(len)?;
    if !(is(link, "in") || is(link, "per")) {
        return None;
    }
    let amounts = amounts(&words[len + 1..], language)?;
    Some((amounts, target))
}

/// "<amount> to|in|into|as|= <target>", trying each separator from the left.
fn amount_to_unit(words: &[&str], language: &Language) -> Option<(Vec<Amount>, Target)> {
    for at in 1..words.len() {
        for separator in SEPARATORS {
            let end = at + separator.len();
            let matches = words
                .get(at..end)
                .is_some_and(|found| found.iter().zip(separator.iter()).all(|(w, s)| is(w, s)));
            if !matches {
                continue;
            }
            let Some(amounts) = amounts(&words[..at], language) else {
                continue;
            };
            if let Some(target) = target_unit(&words[end..], language) {
                return Some((amounts, target));
            }
        }
    }
    None
}

/// The target: one unit, after "how many", "what" or "the" (and before a closing "?").
fn target_unit(words: &[&str], language: &Language) -> Option<Target> {
    let mut words = words;
    while let Some(first) = words.first() {
        let punctuation = first.chars().all(|c| c.is_ascii_punctuation());
        if punctuation || ["how", "many", "what", "the"].iter().any(|w| is(first, w)) {
            words = &words[1..];
        } else {
            break;
        }
    }
    let (len, unit) = unit_at(words, 0, language)?;
    (len == words.len()).then_some(unit)
}

/// A unit as written and what it means.
#[derive(Debug, Clone)]
struct Target {
    written: String,
    alias: UnitAlias,
}

/// One part of an amount: "5 feet" of "5 feet 10 inches".
#[derive(Debug, Clone)]
struct Amount {
    value: Expr,
    unit: Target,
}

/// The longest unit name starting at word `at`.
fn unit_at(words: &[&str], at: usize, language: &Language) -> Option<(usize, Target)> {
    if words.get(at)?.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let longest = MAX_UNIT_WORDS.min(words.len().saturating_sub(at));
    (1..=longest).rev().find_map(|len| {
        let written = words[at..at + len].join(" ");
        let trimmed = written.trim_end_matches(['?', '.', '!', ',']);
        let alias = language.unit(trimmed)?;
        Some((
            len,
            Target {
                written: language
                    .local_name(trimmed)
                    .unwrap_or_else(|| trimmed.to_lowercase()),
                alias,
            },
        ))
    })
}

/// "5 feet 10 inches", "1 hour and 30 minutes", "a mile", "2.5 L": one or more parts of one
/// quantity.
fn amounts(words: &[&str], language: &Language) -> Option<Vec<Amount>> {
    let mut parts = Vec::new();
    let mut rest = words;
    while !rest.is_empty() {
        if !parts.is_empty() && (is(rest[0], "and") || rest[0] == ",") {
            rest = &rest[1..];
        }
        let (used, part) = amount(rest, language)?;
        parts.push(part);
        rest = &rest[used..];
    }
    // A compound amount goes from larger units to smaller ("5 feet 10 inches", "1 hour 30
    // minutes"); "5 km and 3 km" is two amounts, not one.
    let descending = parts.windows(2).all(|pair| {
        let (big, small) = (pair[0].unit.alias.unit, pair[1].unit.alias.unit);
        big.quantity == small.quantity
            && big
                .convert(Decimal::ONE, small)
                .is_ok_and(|ratio| ratio > Decimal::ONE)
    });
    descending.then_some(parts)
}

/// One "<number> <unit>", the number as short as lets a unit follow.
fn amount(words: &[&str], language: &Language) -> Option<(usize, Amount)> {
    for split in 1..words.len().min(MAX_AMOUNT_WORDS + 1) {
        let Some(value) = number(&words[..split]) else {
            continue;
        };
        if let Some((len, unit)) = unit_at(words, split, language) {
            // "half a cup of butter": what is measured says nothing more.
            let mut used = split + len;
            if words.get(used).is_some_and(|w| is(w, "of"))
                && words.get(used + 1).is_some_and(|w| {
                    w.chars().all(char::is_alphabetic)
                        && unit_at(words, used + 1, language).is_none()
                })
            {
                used += 2;
            }
            return Some((used, Amount { value, unit }));
        }
    }
    None
}

/// An amount in digits or words, without references: "5", "two and a half", "a", "half a".
fn number(words: &[&str]) -> Option<Expr> {
    // Cheap refusal first: an amount starts with a digit, a sign, a point or a number word
    // (this is tried at every split of every candidate).
    let first = words.first()?;
    let numeric_start =
        first.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    if !numeric_start {
        let lower = first.to_ascii_lowercase();
        let wordy = matches!(
            lower.as_str(),
            "a" | "an" | "half" | "per" | "each" | "every" | "quarter"
        ) || calc::is_calculator_word(&lower);
        if !wordy {
            return None;
        }
    }
    let text = words.join(" ");
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "a" | "an" | "one" | "per" | "each" | "every" | "1" => {
            return Some(Expr::Number(Decimal::ONE));
        }
        "half a" | "half an" | "a half" => return Some(Expr::Number(Decimal::new(5, 1))),
        "a quarter" | "quarter of a" | "a quarter of a" => {
            return Some(Expr::Number(Decimal::new(25, 2)));
        }
        _ => {}
    }
    let expr = calc::parse(&text).ok()?;
    let mut has_reference = false;
    let mut probe = expr.clone();
    probe.for_each_reference_mut(&mut |_: &mut Reference| has_reference = true);
    (!has_reference).then_some(expr)
}

fn is(word: &str, expected: &str) -> bool {
    word.trim_end_matches([',', '?'])
        .eq_ignore_ascii_case(expected)
}

/// The plan: one conversion per part into the target's unit, their sum, and a division for
/// a local target unit ("in furlongs").
fn steps(text: &str, amounts: Vec<Amount>, target: Target) -> Vec<Step> {
    let to_unit = target.alias.unit.name.to_string();
    let mut steps: Vec<Step> = amounts
        .into_iter()
        .map(|amount| {
            let value = scaled(amount.value, amount.unit.alias.factor);
            Step {
                operation: Operation::Convert {
                    value,
                    from_unit: Some(amount.unit.alias.unit.name.to_string()),
                    to_unit: to_unit.clone(),
                },
                text: text.to_string(),
                unit: None,
            }
        })
        .collect();
    if steps.len() > 1 {
        let sum = Expr::call(
            Function::Sum,
            (0..steps.len())
                .map(|i| Expr::Ref(Reference::Step(i)))
                .collect(),
        );
        steps.push(Step {
            operation: Operation::Calculate(sum),
            text: text.to_string(),
            unit: Some(to_unit.clone()),
        });
    }
    if target.alias.factor != Decimal::ONE {
        let last = Expr::Ref(Reference::Step(steps.len() - 1));
        steps.push(Step {
            operation: Operation::Calculate(Expr::binary(
                BinaryOp::Divide,
                last,
                Expr::Number(target.alias.factor),
            )),
            text: text.to_string(),
            unit: Some(target.written),
        });
    }
    steps
}

fn scaled(value: Expr, factor: Decimal) -> Expr {
    if factor == Decimal::ONE {
        value
    } else {
        Expr::binary(BinaryOp::Multiply, value, Expr::Number(factor))
    }
}

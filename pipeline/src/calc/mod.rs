//! The calculator: exact decimal arithmetic over expressions written in symbols and English.
//!
//! A request such as "what is 7 times 8 minus 6" or "15% of 200" goes through three small
//! steps, each in its own module:
//!
//! - `lexer`: text to tokens (numbers such as `1,250`, `2.5k`, `1e28`; words;
//!   `$0` references; operator symbols including `×`, `÷`, `−`, `·`);
//! - `parser`: tokens to an [`Expr`], by precedence climbing; leading
//!   phrasing ("calculate", "what is") is skipped;
//! - [`eval`](fn@eval): the [`Expr`] to a [`Decimal`], every operation checked.
//!
//! The decomposition stage (`crate::decompose`) parses each arithmetic step with [`parse`]
//! and evaluates it with [`eval`](fn@eval), binding references such as "the result" to earlier steps.
//!
//! Bad input never panics and never stalls: text is capped at [`MAX_TEXT_CHARS`] characters,
//! nesting at [`MAX_DEPTH`] levels and number literals at [`MAX_NUMBER_CHARS`] characters;
//! overflow, division by zero and non-real results are errors. Known ambiguity: a comma
//! followed by exactly three digits is a thousands separator (`1,250` is 1250), so lists of
//! numbers need a space after the comma (`max(1, 250)`).

mod error;
mod eval;
mod expr;
mod lexer;
mod parser;
mod vocabulary;

#[cfg(test)]
mod tests;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use error::CalcError;
pub use eval::eval;
pub use expr::{BinaryOp, Expr, Function, Reference};

/// Longest request text the calculator reads, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Deepest nesting of brackets, signs and functions the parser follows.
pub const MAX_DEPTH: u32 = 64;
/// Longest number literal, in characters; longer ones are out of range anyway.
pub const MAX_NUMBER_CHARS: usize = 64;

/// How a result is rounded to the configured scale (and how `round` rounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Halves go to the even neighbour (banker's rounding): 2.5 → 2, 3.5 → 4.
    #[default]
    HalfEven,
    /// Halves go away from zero: 2.5 → 3, -2.5 → -3.
    HalfUp,
    /// Halves go toward zero: 2.5 → 2.
    HalfDown,
    /// Toward zero (truncation).
    Down,
    /// Away from zero.
    Up,
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceiling,
}

/// How results are presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalcOptions {
    /// Most decimal places in a result (at most 28); fewer are kept as computed (`25.00`).
    pub scale: u32,
    /// How the result is rounded to `scale`.
    pub rounding: Rounding,
}

impl Default for CalcOptions {
    fn default() -> Self {
        CalcOptions {
            scale: 10,
            // People expect halves to round up ("round 2.5" is 3).
            rounding: Rounding::HalfUp,
        }
    }
}

/// Input limits; [`Limits::DEFAULT`] holds the documented constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_chars: usize,
    pub max_depth: u32,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_chars: MAX_TEXT_CHARS,
        max_depth: MAX_DEPTH,
    };
}

/// Evaluates a request such as "Calculate 42 + 58" or "what is 15% of 200?".
///
/// References ("that", `$0`) have nothing to refer to here and are errors; use [`parse`] and
/// [`eval`] to supply earlier results.
pub fn evaluate_text(text: &str, opts: &CalcOptions) -> Result<Decimal, CalcError> {
    eval(&parse(text)?, opts, &|_| None)
}

/// Reads a request into an expression, within [`Limits::DEFAULT`].
pub fn parse(text: &str) -> Result<Expr, CalcError> {
    parse_with_limits(text, &Limits::DEFAULT)
}

/// Reads a request into an expression, within the given limits.
pub fn parse_with_limits(text: &str, limits: &Limits) -> Result<Expr, CalcError> {
    if text.len() > limits.max_chars && text.chars().count() > limits.max_chars {
        return Err(CalcError::TooLong {
            limit: limits.max_chars,
        });
    }
    let lower = trim_closing_punctuation(text).to_ascii_lowercase();
    let tokens = lexer::tokenize(&lower)?;
    parser::Parser::new(&tokens, &lower, limits.max_depth).parse_request()
}

/// Whether a lowercase word belongs to the calculator's expression vocabulary ("add",
/// "times", "seven", "sqrt", "that"), as opposed to phrasing ("please") or other verbs.
pub fn is_calculator_word(word: &str) -> bool {
    vocabulary::is_expression_word(word)
}

/// Drops what may close a question or sentence: "?", ".", "!", "=", and spaces; a "!" right
/// after a digit or bracket is a factorial ("5!") and stays.
fn trim_closing_punctuation(text: &str) -> &str {
    let mut text = text;
    loop {
        let trimmed =
            text.trim_end_matches(|c: char| matches!(c, '?' | '.' | '=') || c.is_whitespace());
        let trimmed = match trimmed.strip_suffix('!') {
            Some(head) if !head.ends_with(|c: char| c.is_ascii_digit() || c == ')') => head,
            _ => trimmed,
        };
        if trimmed.len() == text.len() {
            return text;
        }
        text = trimmed;
    }
}

/// Character offset (from 0) of a byte offset in `text`, for error messages.
pub(crate) fn char_position(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(byte, |head| head.chars().count())
}

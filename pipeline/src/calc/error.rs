//! What can go wrong while reading or evaluating an expression.
//!
//! Every problem has its own variant so that callers (the fast path, the result's
//! `error_kind`) can tell them apart without parsing messages; [`CalcError::kind`] is the
//! stable name that ends up in results. Positions are character offsets into the request
//! text, counted from 0.

use rust_decimal::Decimal;

use super::expr::Reference;

/// Why a calculation could not be read or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalcError {
    #[error("nothing to calculate: the request holds no expression")]
    Empty,
    #[error("the request is too long to calculate: more than {limit} characters")]
    TooLong { limit: usize },
    #[error("the expression is nested too deeply: more than {limit} levels")]
    TooDeep { limit: u32 },
    #[error("control character U+{code:04X} at position {pos}")]
    ControlCharacter { pos: usize, code: u32 },
    #[error("unexpected character '{found}' at position {pos}")]
    UnexpectedCharacter { pos: usize, found: char },
    #[error("unexpected '{found}' at position {pos}")]
    UnexpectedToken { pos: usize, found: String },
    #[error("the expression ends too early: expected {expected}")]
    UnexpectedEnd { expected: &'static str },
    #[error("unknown word '{word}' at position {pos}")]
    UnknownWord { pos: usize, word: String },
    #[error(
        "number '{literal}' at position {pos} is out of range \
         (exact decimals hold at most 28 significant digits)"
    )]
    NumberOutOfRange { pos: usize, literal: String },
    #[error("division by zero")]
    DivisionByZero,
    #[error("overflow: the result of the {operation} is too large for exact decimal arithmetic")]
    Overflow { operation: &'static str },
    #[error("the {function} of {value} is not a real number")]
    DomainError {
        function: &'static str,
        value: Decimal,
    },
    #[error("{function} takes {expected}, but was given {found}")]
    WrongArgumentCount {
        function: &'static str,
        expected: &'static str,
        found: usize,
    },
    #[error("invalid argument to {function}: {reason}")]
    InvalidArgument {
        function: &'static str,
        reason: String,
    },
    #[error("nothing to refer to: {}", missing(.reference))]
    NothingToReferTo { reference: Reference },
}

impl CalcError {
    /// Stable snake_case name of the problem, used as a result's `error_kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            CalcError::Empty => "empty",
            CalcError::TooLong { .. } => "too_long",
            CalcError::TooDeep { .. } => "too_deep",
            CalcError::ControlCharacter { .. } => "control_character",
            CalcError::UnexpectedCharacter { .. } => "unexpected_character",
            CalcError::UnexpectedToken { .. } => "unexpected_token",
            CalcError::UnexpectedEnd { .. } => "unexpected_end",
            CalcError::UnknownWord { .. } => "unknown_word",
            CalcError::NumberOutOfRange { .. } => "number_out_of_range",
            CalcError::DivisionByZero => "division_by_zero",
            CalcError::Overflow { .. } => "overflow",
            CalcError::DomainError { .. } => "domain_error",
            CalcError::WrongArgumentCount { .. } => "wrong_argument_count",
            CalcError::InvalidArgument { .. } => "invalid_argument",
            CalcError::NothingToReferTo { .. } => "nothing_to_refer_to",
        }
    }

    /// Whether the error comes from the shape of the text (as opposed to its arithmetic), so
    /// that a caller may try to read the text some other way, e.g. as a tool request.
    pub fn is_syntax(&self) -> bool {
        matches!(
            self,
            CalcError::Empty
                | CalcError::UnexpectedCharacter { .. }
                | CalcError::UnexpectedToken { .. }
                | CalcError::UnexpectedEnd { .. }
                | CalcError::UnknownWord { .. }
        )
    }
}

/// Says what a reference lacked: the session's previous answer, or an earlier step's number.
fn missing(reference: &Reference) -> String {
    match reference {
        Reference::Previous => "there is no previous result".to_string(),
        Reference::Step(index) => format!("step ${index} has no numeric result"),
    }
}

//! Decomposition: reading a request into an ordered [`Plan`] of steps with data references.
//!
//! This is the reader of the fast path: it understands a request by a grammar over typed
//! pieces (numbers in digits and words, amounts with units, percentages) rather than by a
//! list of phrasings. "add 19.99 and 5.01 then multiply by 3" becomes `add(19.99, 5.01)` and
//! `multiply($0, 3)`; "how many grams in 8 ounces" a conversion; "take 15% off 60" one
//! calculation. In order:
//!
//! 1. `normalize`: what carries no meaning is dropped ("hey", "please", "can you tell me",
//!    a closing "?"), the tenant's synonyms are applied, "5km" becomes "5 km";
//! 2. the whole request is tried as one reading (word problems and conversions hold commas
//!    and "and"): a construction of `phrases` (percentages, word problems), arithmetic for
//!    the calculator ([`crate::calc`]), or a conversion (`convert`);
//! 3. otherwise it is split into clauses (`split`: "then", "after that", ";", and "," or
//!    "and" before a new operation) and each clause is read the same way (`read`); a clause
//!    that starts with an operation ("times 2", "then halve it") works on the result before.
//!
//! References ("the result", "it", "that") are bound here: to the step before, or, in the
//! first step, to the session's previous answer (`$prev`). A request the grammar cannot read
//! in full is an error that names what it could not read, never a guess. [`execute`] runs a
//! plan in order, evaluating arithmetic itself and handing other steps to a tool callback.
//! The tenant's vocabulary comes from its registry ([`Language`]).

mod convert;
mod execute;
mod normalize;
mod phrases;
mod plan;
mod read;
mod split;

#[cfg(test)]
mod tests;

use crate::calc::{CalcError, MAX_TEXT_CHARS, Reference};
use crate::registry::Language;

pub use execute::{StepValue, ToolRunner, execute, execute_arithmetic};
pub use plan::{Operation, Plan, Step, StepDescription, StepInput, describe, plan_step};

/// Most steps one request may decompose into.
pub const MAX_STEPS: usize = 32;

/// Why a request could not be decomposed or its plan not executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecomposeError {
    #[error("nothing to do: the request is empty")]
    Empty,
    #[error("the request is too long: more than {limit} characters")]
    TooLong { limit: usize },
    #[error("the request has too many steps: more than {limit}")]
    TooManySteps { limit: usize },
    #[error("step ${step} (\"{clause}\"): {source}")]
    Calc {
        step: usize,
        clause: String,
        source: CalcError,
    },
    #[error("step ${step} refers to {reference}, which is not an earlier step")]
    ForwardReference { step: usize, reference: Reference },
    #[error("step ${step} needs the '{tool}' tool")]
    NeedsTool { step: usize, tool: String },
    #[error("step ${step}: the '{tool}' tool failed: {message}")]
    ToolFailed {
        step: usize,
        tool: String,
        message: String,
    },
}

impl DecomposeError {
    /// Stable snake_case name of the problem; a calculator error keeps its own kind
    /// (e.g. `nothing_to_refer_to`, `division_by_zero`).
    pub fn kind(&self) -> &'static str {
        match self {
            DecomposeError::Empty => "empty",
            DecomposeError::TooLong { .. } => "too_long",
            DecomposeError::TooManySteps { .. } => "too_many_steps",
            DecomposeError::Calc { source, .. } => source.kind(),
            DecomposeError::ForwardReference { .. } => "forward_reference",
            DecomposeError::NeedsTool { .. } => "needs_tool",
            DecomposeError::ToolFailed { .. } => "tool_failed",
        }
    }
}

/// Reads a request into its steps with the built-in vocabulary only.
pub fn decompose(text: &str) -> Result<Plan, DecomposeError> {
    decompose_with(text, &Language::default())
}

/// Reads a request into its steps with a tenant's vocabulary, binding references to earlier
/// steps.
pub fn decompose_with(text: &str, language: &Language) -> Result<Plan, DecomposeError> {
    if text.len() > MAX_TEXT_CHARS && text.chars().count() > MAX_TEXT_CHARS {
        return Err(DecomposeError::TooLong {
            limit: MAX_TEXT_CHARS,
        });
    }
    let normalized = normalize::normalize(text, language);
    if normalized.trim().is_empty() {
        return Err(DecomposeError::Empty);
    }
    let clauses = split::clauses(&normalized);
    if clauses.len() > MAX_STEPS {
        return Err(DecomposeError::TooManySteps { limit: MAX_STEPS });
    }
    // One clause: the whole request is one reading. Several ("…, then …"): each clause is
    // read on its own, and only when one is not understood (an error, or a verb no
    // fast-path tool has) is the whole request tried as one reading: a word problem may
    // hold a comma or an "and" the splitter took for a step.
    if clauses.len() <= 1 {
        return match read::read_whole(&normalized, language) {
            Some(steps) => assemble(vec![steps]),
            None => read_clauses(&clauses, language).and_then(assemble),
        };
    }
    let readings = read_clauses(&clauses, language);
    let understood = readings.as_ref().is_ok_and(|readings| {
        readings
            .iter()
            .flatten()
            .all(|step| !matches!(step.operation, Operation::Tool { .. }))
    });
    if !understood && let Some(steps) = read::read_whole(&normalized, language) {
        return assemble(vec![steps]);
    }
    readings.and_then(assemble)
}

/// Each clause's reading, in order; the first clause that cannot be read is the error.
fn read_clauses(
    clauses: &[&str],
    language: &Language,
) -> Result<Vec<Vec<plan::Step>>, DecomposeError> {
    if clauses.is_empty() {
        return Err(DecomposeError::Empty);
    }
    let mut readings = Vec::with_capacity(clauses.len());
    let mut first_step = 0;
    for clause in clauses {
        let reading = read::read_clause(first_step, clause, language)?;
        first_step += reading.len();
        readings.push(reading);
    }
    Ok(readings)
}

/// One plan from the readings of consecutive clauses: each reading's steps are numbered on
/// from the steps before, and its "previous result" is the last step of the reading before.
///
/// Only a reading of several steps (a construction: "5 feet 10 inches in cm") numbers its
/// references from 0; a one-step reading's `$n` was written by the person and means step n
/// of the whole plan.
fn assemble(readings: Vec<Vec<plan::Step>>) -> Result<Plan, DecomposeError> {
    let mut steps: Vec<plan::Step> = Vec::new();
    for reading in readings {
        let offset = steps.len();
        let local = reading.len() > 1;
        for mut step in reading {
            if local {
                step.shift_references(offset);
            }
            let index = steps.len();
            steps.push(bind_references(index, offset, step)?);
        }
    }
    if steps.len() > MAX_STEPS {
        return Err(DecomposeError::TooManySteps { limit: MAX_STEPS });
    }
    Ok(Plan { steps })
}

/// Points "the previous result" of a reading that starts at step `offset` at the step before
/// it (the first reading keeps the session's previous answer), and checks that `$n`
/// references point backwards.
fn bind_references(
    index: usize,
    offset: usize,
    mut step: plan::Step,
) -> Result<plan::Step, DecomposeError> {
    let mut forward = None;
    let mut bind = |reference: &mut Reference| match *reference {
        Reference::Previous if offset > 0 => *reference = Reference::Step(offset - 1),
        Reference::Step(target) if target >= index => forward = Some(*reference),
        _ => {}
    };
    match &mut step.operation {
        Operation::Calculate(expr) | Operation::Convert { value: expr, .. } => {
            expr.for_each_reference_mut(&mut bind)
        }
        Operation::Tool { input, .. } => input.iter_mut().for_each(bind),
    }
    match forward {
        Some(reference) => Err(DecomposeError::ForwardReference {
            step: index,
            reference,
        }),
        None => Ok(step),
    }
}

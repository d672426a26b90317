//! Decomposition: splitting a request into an ordered [`Plan`] of steps with data references.
//!
//! "add 19.99 and 5.01 then multiply by 3" becomes `add(19.99, 5.01)` and `multiply($0, 3)`.
//! Clauses are split at "then", ";" and at "and" before an operation verb (`split`),
//! each clause is read into a step (`read`): arithmetic is parsed by the
//! calculator ([`crate::calc`]), conversions and other verbs become tool steps. References
//! ("the result", "it", "that") are bound here, at decomposition time: to the step before,
//! or, in the first step, to the session's previous answer (`$prev`). [`execute`] runs a plan
//! in order, evaluating arithmetic itself and handing other steps to a tool callback; the
//! route and execute stages decide which tools exist.

mod execute;
mod plan;
mod read;
mod split;

#[cfg(test)]
mod tests;

use crate::calc::{CalcError, MAX_TEXT_CHARS, Reference};

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

/// Splits a request into its steps, binding references to earlier steps.
pub fn decompose(text: &str) -> Result<Plan, DecomposeError> {
    if text.len() > MAX_TEXT_CHARS && text.chars().count() > MAX_TEXT_CHARS {
        return Err(DecomposeError::TooLong {
            limit: MAX_TEXT_CHARS,
        });
    }
    let clauses = split::clauses(text);
    if clauses.is_empty() {
        return Err(DecomposeError::Empty);
    }
    if clauses.len() > MAX_STEPS {
        return Err(DecomposeError::TooManySteps { limit: MAX_STEPS });
    }
    let steps = clauses
        .iter()
        .enumerate()
        .map(|(index, clause)| bind_references(index, read::read_clause(index, clause)?))
        .collect::<Result<_, _>>()?;
    Ok(Plan { steps })
}

/// Points "the previous result" at the step before (the first step keeps the session's
/// previous answer), and checks that `$n` references point backwards.
fn bind_references(index: usize, mut step: plan::Step) -> Result<plan::Step, DecomposeError> {
    let mut forward = None;
    let mut bind = |reference: &mut Reference| match *reference {
        Reference::Previous if index > 0 => *reference = Reference::Step(index - 1),
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

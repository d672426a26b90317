//! Running a plan: arithmetic steps are evaluated here, in order, with references bound to
//! earlier outputs; every other step is handed to a tool callback supplied by the caller.

use rust_decimal::Decimal;

use crate::calc::{self, CalcOptions, Reference};

use super::DecomposeError;
use super::plan::{Operation, Plan, Step};

/// What a step produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepValue {
    Number(Decimal),
    /// A non-numeric outcome, e.g. "email sent"; later steps cannot compute with it.
    Text(String),
}

impl StepValue {
    pub fn number(&self) -> Option<Decimal> {
        match self {
            StepValue::Number(value) => Some(*value),
            StepValue::Text(_) => None,
        }
    }
}

/// Runs a conversion or tool step: given the step's index, the step and its numeric input
/// (if it has one), returns what the tool produced.
pub type ToolRunner<'r> =
    dyn FnMut(usize, &Step, Option<Decimal>) -> Result<StepValue, DecomposeError> + 'r;

/// Runs every step in order. Arithmetic is evaluated with `opts`; a conversion or tool step
/// is passed to `run_tool` with its index and its numeric input, if it has one. `previous`
/// is the session's previous answer, for references in the first step.
pub fn execute(
    plan: &Plan,
    previous: Option<Decimal>,
    opts: &CalcOptions,
    run_tool: &mut ToolRunner<'_>,
) -> Result<Vec<StepValue>, DecomposeError> {
    let mut outputs: Vec<StepValue> = Vec::with_capacity(plan.steps.len());
    for (index, step) in plan.steps.iter().enumerate() {
        let lookup = |reference: Reference| match reference {
            Reference::Previous => previous,
            Reference::Step(earlier) => outputs.get(earlier).and_then(StepValue::number),
        };
        let evaluate = |expr| {
            calc::eval(expr, opts, &lookup).map_err(|source| DecomposeError::Calc {
                step: index,
                clause: step.text.clone(),
                source,
            })
        };
        let output = match &step.operation {
            Operation::Calculate(expr) => StepValue::Number(evaluate(expr)?),
            Operation::Convert { value, .. } => run_tool(index, step, Some(evaluate(value)?))?,
            Operation::Tool { input, .. } => run_tool(index, step, input.and_then(lookup))?,
        };
        outputs.push(output);
    }
    Ok(outputs)
}

/// Runs a plan made only of arithmetic; the first step that needs a tool stops it with a
/// `needs_tool` error naming the step and the tool.
pub fn execute_arithmetic(
    plan: &Plan,
    previous: Option<Decimal>,
    opts: &CalcOptions,
) -> Result<Vec<Decimal>, DecomposeError> {
    let mut no_tools = |index, step: &Step, _| {
        Err(DecomposeError::NeedsTool {
            step: index,
            tool: step.tool().to_string(),
        })
    };
    let outputs = execute(plan, previous, opts, &mut no_tools)?;
    Ok(outputs.iter().filter_map(StepValue::number).collect())
}

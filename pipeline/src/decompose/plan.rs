//! The plan a request decomposes into, and how its steps are described in a result.

use std::fmt;

use rust_decimal::Decimal;

use crate::calc::{Expr, Reference};
use crate::model::PlanStep;

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Arithmetic, evaluated by the calculator: "add 19.99 and 5.01", "multiply by 3".
    Calculate(Expr),
    /// A unit conversion, run by the unit-conversion tool: "convert 5 km to miles".
    /// `from_unit` is absent when the value is an earlier result ("convert it to miles").
    Convert {
        value: Expr,
        from_unit: Option<String>,
        to_unit: String,
    },
    /// Any other action, run by the tool its verb names: "email finance@example.com".
    /// `input` is set when the arguments refer to an earlier result ("email it to …").
    Tool {
        verb: String,
        args: String,
        input: Option<Reference>,
    },
}

/// One step of a plan: its operation and the clause of the request it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub operation: Operation,
    pub text: String,
    /// The unit of the step's value when the reading knows it and no tool reports one (the
    /// area of "4 m by 5 m" is in square metres, "120 km at 60 km/h" takes hours); an
    /// empty unit says the value has none (a count of cans), whatever its inputs had.
    pub unit: Option<String>,
}

/// A request's steps, in execution order; references point only to earlier steps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// A value a step consumes.
#[derive(Debug, Clone, PartialEq)]
pub enum StepInput {
    Literal(Decimal),
    /// The output of an earlier step of the plan (`$0`).
    StepRef(usize),
    /// The session's previous answer (`$prev`).
    Previous,
    /// A compound expression, shown in canonical form ("7 * 8").
    Expression(String),
}

impl StepInput {
    fn of(expr: &Expr) -> StepInput {
        match expr {
            Expr::Number(value) => StepInput::Literal(*value),
            Expr::Ref(Reference::Step(index)) => StepInput::StepRef(*index),
            Expr::Ref(Reference::Previous) => StepInput::Previous,
            other => StepInput::Expression(other.to_string()),
        }
    }

    fn of_reference(reference: Reference) -> StepInput {
        StepInput::of(&Expr::Ref(reference))
    }
}

impl fmt::Display for StepInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepInput::Literal(value) => write!(f, "{value}"),
            StepInput::StepRef(index) => write!(f, "${index}"),
            StepInput::Previous => f.write_str("$prev"),
            StepInput::Expression(text) => f.write_str(text),
        }
    }
}

impl Step {
    /// Moves every reference to a step of the plan `by` places later: a reading's steps are
    /// numbered from 0 and placed after the steps before them.
    pub(crate) fn shift_references(&mut self, by: usize) {
        let mut shift = |reference: &mut Reference| {
            if let Reference::Step(index) = reference {
                *index += by;
            }
        };
        match &mut self.operation {
            Operation::Calculate(expr) | Operation::Convert { value: expr, .. } => {
                expr.for_each_reference_mut(&mut shift)
            }
            Operation::Tool { input, .. } => input.iter_mut().for_each(shift),
        }
    }

    /// The tool that executes the step: `calculator`, `unit_convert`, or the verb's tool.
    pub fn tool(&self) -> &str {
        match &self.operation {
            Operation::Calculate(_) => "calculator",
            Operation::Convert { .. } => "unit_convert",
            Operation::Tool { verb, .. } => verb,
        }
    }

    /// The operation's name: `add`, `multiply`, `round`, `evaluate` (a compound expression),
    /// `convert`, or the tool's verb.
    pub fn operation_name(&self) -> &str {
        match &self.operation {
            Operation::Calculate(expr) if !is_single_operation(expr) => "evaluate",
            Operation::Calculate(expr) => match expr {
                Expr::Binary { op, .. } => op.name(),
                Expr::Call { function, .. } => function.name(),
                Expr::Neg(_) => "negate",
                Expr::Number(_) | Expr::Ref(_) => "value",
            },
            Operation::Convert { .. } => "convert",
            Operation::Tool { verb, .. } => verb,
        }
    }

    /// The values the step consumes (for a conversion, the value; units are in the operation).
    pub fn inputs(&self) -> Vec<StepInput> {
        match &self.operation {
            Operation::Calculate(expr) if expr.is_leaf() || !is_single_operation(expr) => {
                vec![StepInput::of(expr)]
            }
            Operation::Calculate(expr) => expr.operands().into_iter().map(StepInput::of).collect(),
            Operation::Convert { value, .. } => vec![StepInput::of(value)],
            Operation::Tool { input, .. } => {
                input.map(StepInput::of_reference).into_iter().collect()
            }
        }
    }
}

/// Whether the expression is one operation on plain values (`$0 * 3`, `round($0, 2)`), as
/// opposed to a compound one (`7 * 8 - 6`).
fn is_single_operation(expr: &Expr) -> bool {
    expr.operands().iter().all(|operand| operand.is_leaf())
}

/// How a step appears in a result's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDescription {
    pub tool: String,
    pub operation: String,
    /// Inputs as text: numbers, `$0`-style step references, `$prev`, units, tool arguments.
    pub inputs: Vec<String>,
}

/// Describes a step for a result's plan, e.g. `calculator` / `multiply` / `["$0", "3"]`.
pub fn describe(step: &Step) -> StepDescription {
    let mut inputs: Vec<String> = step.inputs().iter().map(ToString::to_string).collect();
    match &step.operation {
        Operation::Calculate(_) => {}
        Operation::Convert {
            from_unit, to_unit, ..
        } => inputs.extend(from_unit.iter().chain([to_unit]).cloned()),
        Operation::Tool { args, .. } => inputs.push(args.clone()),
    }
    StepDescription {
        tool: step.tool().to_string(),
        operation: step.operation_name().to_string(),
        inputs,
    }
}

/// The step as a result record's plan entry.
pub fn plan_step(index: usize, step: &Step, output: Option<String>) -> PlanStep {
    let StepDescription {
        tool,
        operation,
        inputs,
    } = describe(step);
    PlanStep {
        index: i32::try_from(index).unwrap_or(i32::MAX),
        tool,
        operation,
        inputs,
        output,
    }
}

//! The expression tree the parser builds and the evaluator walks.
//!
//! The tree is small and owned so that the decomposition stage can keep one per step, bind its
//! references to earlier steps, and show it back in a result's plan (its `Display` prints a
//! canonical infix form such as `7 * 8 - 6` or `round($0, 2)`).

use std::fmt;

use rust_decimal::Decimal;

/// A value that comes from outside the expression: an earlier result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reference {
    /// "that", "it", "the result", `$prev`: the result just before this expression (the
    /// session's previous answer, or the previous step once a plan binds it).
    Previous,
    /// `$0`, `$1`, ...: the output of a step of the current plan.
    Step(usize),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Previous => f.write_str("$prev"),
            Reference::Step(index) => write!(f, "${index}"),
        }
    }
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    /// Remainder of a division: `10 % 3`, `10 mod 3`.
    Modulo,
    Power,
    /// `15% of 200`: the left side as a percentage of the right.
    PercentOf,
}

impl BinaryOp {
    /// The operation's name in a plan, e.g. `multiply`.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Subtract => "subtract",
            BinaryOp::Multiply => "multiply",
            BinaryOp::Divide => "divide",
            BinaryOp::Modulo => "modulo",
            BinaryOp::Power => "power",
            BinaryOp::PercentOf => "percent_of",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
            BinaryOp::Power => "^",
            BinaryOp::PercentOf => "% of",
        }
    }

    /// Printing precedence, matching the parser's binding powers.
    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Add | BinaryOp::Subtract => 1,
            BinaryOp::Multiply | BinaryOp::Divide | BinaryOp::Modulo | BinaryOp::PercentOf => 2,
            BinaryOp::Power => 3,
        }
    }
}

/// A named function: `sqrt(16)`, `round(3.14159, 2)`, `sum of 1, 2 and 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Sqrt,
    Abs,
    Floor,
    Ceil,
    /// `round(x)` or `round(x, places)`, with the configured rounding strategy.
    Round,
    /// `x%` on its own: `x / 100`.
    Percent,
    Sum,
    Average,
    Min,
    Max,
    /// `product of 6 and 7`.
    Product,
    /// The middle value (the mean of the two middle ones for an even count).
    Median,
    /// `root(27, 3)`: the `n`th root; "cube root of 27".
    Root,
    /// `5!`, "factorial of 5", "5 factorial": whole numbers from 0 to 27.
    Factorial,
}

impl Function {
    /// The function's name in a plan and in `Display`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Sqrt => "sqrt",
            Function::Abs => "abs",
            Function::Floor => "floor",
            Function::Ceil => "ceil",
            Function::Round => "round",
            Function::Percent => "percent",
            Function::Sum => "sum",
            Function::Average => "average",
            Function::Min => "min",
            Function::Max => "max",
            Function::Product => "product",
            Function::Median => "median",
            Function::Root => "root",
            Function::Factorial => "factorial",
        }
    }

    /// How many arguments the function takes, as (fewest, most, description).
    pub(crate) fn arity(self) -> (usize, usize, &'static str) {
        match self {
            Function::Round => (1, 2, "one or two arguments"),
            Function::Sum
            | Function::Average
            | Function::Min
            | Function::Max
            | Function::Product
            | Function::Median => (1, usize::MAX, "at least one argument"),
            Function::Root => (2, 2, "two arguments (the value and which root)"),
            _ => (1, 1, "one argument"),
        }
    }
}

/// An arithmetic expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(Decimal),
    Ref(Reference),
    Neg(Box<Expr>),
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Call {
        function: Function,
        args: Vec<Expr>,
    },
}

impl Expr {
    pub fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    pub fn call(function: Function, args: Vec<Expr>) -> Expr {
        Expr::Call { function, args }
    }

    pub fn negate(operand: Expr) -> Expr {
        Expr::Neg(Box::new(operand))
    }

    /// The operands directly under the top node (none for a number or a reference).
    pub fn operands(&self) -> Vec<&Expr> {
        match self {
            Expr::Number(_) | Expr::Ref(_) => Vec::new(),
            Expr::Neg(operand) => vec![operand],
            Expr::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            Expr::Call { args, .. } => args.iter().collect(),
        }
    }

    /// Whether the expression is a single number or reference.
    pub fn is_leaf(&self) -> bool {
        matches!(self, Expr::Number(_) | Expr::Ref(_))
    }

    /// Calls `visit` on every reference in the tree, letting it rewrite the reference.
    pub fn for_each_reference_mut(&mut self, visit: &mut dyn FnMut(&mut Reference)) {
        match self {
            Expr::Number(_) => {}
            Expr::Ref(reference) => visit(reference),
            Expr::Neg(operand) => operand.for_each_reference_mut(visit),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.for_each_reference_mut(visit);
                rhs.for_each_reference_mut(visit);
            }
            Expr::Call { args, .. } => {
                for arg in args {
                    arg.for_each_reference_mut(visit);
                }
            }
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary { op, .. } => op.precedence(),
            Expr::Neg(_) => 2,
            _ => u8::MAX,
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(value) => write!(f, "{value}"),
            Expr::Ref(reference) => write!(f, "{reference}"),
            Expr::Neg(operand) => {
                f.write_str("-")?;
                write_operand(f, operand, operand.precedence() < u8::MAX)
            }
            Expr::Binary { op, lhs, rhs } => {
                let prec = op.precedence();
                // Power groups to the right, everything else to the left.
                let (lhs_parens, rhs_parens) = if *op == BinaryOp::Power {
                    (lhs.precedence() <= prec, rhs.precedence() < prec)
                } else {
                    (lhs.precedence() < prec, rhs.precedence() <= prec)
                };
                write_operand(f, lhs, lhs_parens)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, rhs, rhs_parens)
            }
            Expr::Call { function, args } => {
                write!(f, "{}(", function.name())?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

//! Evaluation of an [`Expr`] in exact decimal arithmetic.
//!
//! Every operation is checked: overflow, division by zero and results that are not real
//! numbers become [`CalcError`]s, never panics. Intermediate values keep full precision
//! (28 significant digits); the configured scale and rounding apply to the final result and
//! to explicit `round` calls.

use rust_decimal::prelude::{MathematicalOps, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};

use super::expr::{BinaryOp, Expr, Function, Reference};
use super::{CalcError, CalcOptions};

/// Most decimal places `round` accepts (a `Decimal` holds at most 28).
const MAX_ROUND_PLACES: u32 = Decimal::MAX_SCALE;

/// Newton steps allowed for a square root; it converges from an f64 estimate in a few.
const MAX_SQRT_STEPS: usize = 64;

/// Evaluates `expr`, looking references up with `lookup`, and rounds the result to the
/// configured scale.
pub fn eval(
    expr: &Expr,
    opts: &CalcOptions,
    lookup: &dyn Fn(Reference) -> Option<Decimal>,
) -> Result<Decimal, CalcError> {
    let evaluator = Evaluator { opts, lookup };
    let exact = evaluator.value(expr)?;
    Ok(present(exact, opts))
}

/// The result at the configured scale. An exact result keeps its own scale (`25.00`); a
/// rounded one drops the zeros rounding left (`1/3*3` is `1`, not `1.0000000000`).
fn present(exact: Decimal, opts: &CalcOptions) -> Decimal {
    let rounded = exact.round_dp_with_strategy(opts.scale, opts.rounding.strategy());
    if rounded == exact {
        exact
    } else {
        rounded.normalize()
    }
}

struct Evaluator<'e> {
    opts: &'e CalcOptions,
    lookup: &'e dyn Fn(Reference) -> Option<Decimal>,
}

impl Evaluator<'_> {
    fn value(&self, expr: &Expr) -> Result<Decimal, CalcError> {
        match expr {
            Expr::Number(value) => Ok(*value),
            Expr::Ref(reference) => (self.lookup)(*reference).ok_or(CalcError::NothingToReferTo {
                reference: *reference,
            }),
            Expr::Neg(operand) => Ok(-self.value(operand)?),
            Expr::Binary { op, lhs, rhs } => binary(*op, self.value(lhs)?, self.value(rhs)?),
            Expr::Call { function, args } => self.call(*function, args),
        }
    }

    fn call(&self, function: Function, args: &[Expr]) -> Result<Decimal, CalcError> {
        let first = match args.first() {
            Some(arg) => self.value(arg)?,
            None => {
                return Err(CalcError::WrongArgumentCount {
                    function: function.name(),
                    expected: function.arity().2,
                    found: 0,
                });
            }
        };
        let rest = &args[1..];
        match function {
            Function::Sqrt => square_root(first),
            Function::Abs => Ok(first.abs()),
            Function::Floor => Ok(first.floor()),
            Function::Ceil => Ok(first.ceil()),
            Function::Percent => Ok(first / Decimal::ONE_HUNDRED),
            Function::Round => self.round(first, rest.first()),
            Function::Sum => self.fold(first, rest, add),
            Function::Min => self.fold(first, rest, |a, b| Ok(a.min(b))),
            Function::Max => self.fold(first, rest, |a, b| Ok(a.max(b))),
            Function::Average => {
                let sum = self.fold(first, rest, add)?;
                divide(sum, Decimal::from(args.len()))
            }
            Function::Product => self.fold(first, rest, multiply),
            Function::Median => {
                let mut values = vec![first];
                for arg in rest {
                    values.push(self.value(arg)?);
                }
                values.sort();
                let middle = values.len() / 2;
                if values.len() % 2 == 1 {
                    Ok(values[middle])
                } else {
                    divide(add(values[middle - 1], values[middle])?, Decimal::TWO)
                }
            }
            Function::Root => {
                let degree = match rest.first() {
                    Some(arg) => self.value(arg)?,
                    None => Decimal::TWO,
                };
                nth_root(first, degree)
            }
            Function::Factorial => factorial(first),
        }
    }

    fn fold(
        &self,
        first: Decimal,
        rest: &[Expr],
        combine: impl Fn(Decimal, Decimal) -> Result<Decimal, CalcError>,
    ) -> Result<Decimal, CalcError> {
        rest.iter()
            .try_fold(first, |acc, arg| combine(acc, self.value(arg)?))
    }

    /// `round(x, places)`; negative places round to tens (-1), hundreds (-2), and so on.
    fn round(&self, value: Decimal, places: Option<&Expr>) -> Result<Decimal, CalcError> {
        let places = match places {
            Some(places) => self.value(places)?,
            None => Decimal::ZERO,
        };
        let strategy = self.opts.rounding.strategy();
        if places.is_sign_negative() && !places.is_zero() {
            let shift = decimal_places(-places)?;
            let step = integer_power(Decimal::TEN, Decimal::from(shift))?;
            let rounded = divide(value, step)?.round_dp_with_strategy(0, strategy);
            return multiply(rounded, step);
        }
        Ok(value.round_dp_with_strategy(decimal_places(places)?, strategy))
    }
}

fn binary(op: BinaryOp, a: Decimal, b: Decimal) -> Result<Decimal, CalcError> {
    match op {
        BinaryOp::Add => add(a, b),
        BinaryOp::Subtract => a.checked_sub(b).ok_or(overflow("subtraction")),
        BinaryOp::Multiply => multiply(a, b),
        BinaryOp::Divide => divide(a, b),
        BinaryOp::Modulo if b.is_zero() => Err(CalcError::DivisionByZero),
        BinaryOp::Modulo => a.checked_rem(b).ok_or(overflow("modulo")),
        BinaryOp::Power => power(a, b),
        BinaryOp::PercentOf => percent_of(a, b),
    }
}

fn overflow(operation: &'static str) -> CalcError {
    CalcError::Overflow { operation }
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, CalcError> {
    a.checked_add(b).ok_or(overflow("addition"))
}

fn multiply(a: Decimal, b: Decimal) -> Result<Decimal, CalcError> {
    a.checked_mul(b).ok_or(overflow("multiplication"))
}

/// `a`% of `b`; multiplying first keeps the result's scale plain ("15% of 200" is 30).
fn percent_of(a: Decimal, b: Decimal) -> Result<Decimal, CalcError> {
    match a.checked_mul(b) {
        Some(product) => divide(product, Decimal::ONE_HUNDRED),
        None => multiply(a / Decimal::ONE_HUNDRED, b),
    }
}

fn divide(a: Decimal, b: Decimal) -> Result<Decimal, CalcError> {
    if b.is_zero() {
        return Err(CalcError::DivisionByZero);
    }
    a.checked_div(b).ok_or(overflow("division"))
}

fn power(base: Decimal, exponent: Decimal) -> Result<Decimal, CalcError> {
    if base.is_zero() && exponent.is_sign_negative() && !exponent.is_zero() {
        return Err(CalcError::DivisionByZero);
    }
    if exponent.is_integer() {
        return integer_power(base, exponent);
    }
    if base.is_sign_negative() && !base.is_zero() {
        return Err(CalcError::DomainError {
            function: "fractional power",
            value: base,
        });
    }
    if base.is_zero() {
        return Ok(Decimal::ZERO);
    }
    // a^b = e^(b·ln a), with every step checked.
    base.checked_ln()
        .and_then(|ln| ln.checked_mul(exponent))
        .and_then(|product| product.checked_exp())
        .map(|value| value.normalize())
        .ok_or(overflow("power"))
}

fn integer_power(base: Decimal, exponent: Decimal) -> Result<Decimal, CalcError> {
    // Bases whose powers never grow are answered directly, so huge exponents are fine.
    if base == Decimal::ONE || (base.is_zero() && !exponent.is_zero()) {
        return Ok(base);
    }
    if base == Decimal::NEGATIVE_ONE {
        let odd = !(exponent % Decimal::TWO).is_zero();
        return Ok(if odd { base } else { Decimal::ONE });
    }
    let Some(exponent) = exponent.to_i64() else {
        return Err(overflow("power"));
    };
    let magnitude = base.checked_powu(exponent.unsigned_abs());
    if exponent >= 0 {
        return magnitude.ok_or(overflow("power"));
    }
    match magnitude {
        // |base| > 1 raised that high: the reciprocal is below the smallest decimal.
        None => Ok(Decimal::ZERO),
        Some(power) if power.is_zero() => Err(overflow("power")),
        Some(power) => divide(Decimal::ONE, power),
    }
}

/// Square root by Newton's method from an f64 estimate, with a bounded number of steps
/// (the library's own loop asserts on inputs where it oscillates).
/// The `degree`th root (a whole number from 2 to 100); odd roots of negatives are negative.
/// Exact when the root is a decimal of at most 12 places ("cube root of 27" is 3, not
/// 2.9999…), else Newton's method to the last digit.
fn nth_root(value: Decimal, degree: Decimal) -> Result<Decimal, CalcError> {
    let invalid = |reason: String| CalcError::InvalidArgument {
        function: "root",
        reason,
    };
    if !degree.is_integer() || degree < Decimal::TWO || degree > Decimal::ONE_HUNDRED {
        return Err(invalid(format!(
            "which root must be a whole number from 2 to 100, not {degree}"
        )));
    }
    let n = degree.to_u32().unwrap_or(2);
    if n == 2 {
        return square_root(value);
    }
    let negative = value.is_sign_negative() && !value.is_zero();
    if negative && n.is_multiple_of(2) {
        return Err(CalcError::DomainError {
            function: "even root",
            value,
        });
    }
    if value.is_zero() {
        return Ok(Decimal::ZERO);
    }
    let magnitude = value.abs();
    let estimate = magnitude
        .to_f64()
        .map(|v| v.powf(1.0 / f64::from(n)))
        .and_then(Decimal::from_f64_retain)
        .filter(|r| !r.is_zero())
        .unwrap_or(Decimal::ONE);
    let exact = (0..=12).find_map(|places| {
        let candidate = estimate.round_dp(places);
        (candidate.checked_powu(u64::from(n)) == Some(magnitude)).then_some(candidate)
    });
    let root = match exact {
        Some(root) => root,
        None => {
            // Newton: r ← r − (rⁿ − x) / (n·rⁿ⁻¹).
            let mut root = estimate;
            let degree = Decimal::from(n);
            for _ in 0..MAX_SQRT_STEPS {
                let below = root
                    .checked_powu(u64::from(n - 1))
                    .ok_or(overflow("root"))?;
                let power = below.checked_mul(root).ok_or(overflow("root"))?;
                let slope = below.checked_mul(degree).ok_or(overflow("root"))?;
                let Some(step) = (power - magnitude).checked_div(slope) else {
                    break;
                };
                let next = root - step;
                if next == root {
                    break;
                }
                root = next;
            }
            root
        }
    };
    let root = root.normalize();
    Ok(if negative { -root } else { root })
}

/// n! for a whole n from 0 to 27 (28! does not fit an exact decimal).
fn factorial(value: Decimal) -> Result<Decimal, CalcError> {
    if !value.is_integer() || value.is_sign_negative() && !value.is_zero() {
        return Err(CalcError::InvalidArgument {
            function: "factorial",
            reason: format!("needs a whole number of at least 0, not {value}"),
        });
    }
    let n = value
        .to_u32()
        .filter(|n| *n <= 27)
        .ok_or(overflow("factorial"))?;
    (2..=n).try_fold(Decimal::ONE, |acc, k| {
        acc.checked_mul(Decimal::from(k))
            .ok_or(overflow("factorial"))
    })
}

fn square_root(value: Decimal) -> Result<Decimal, CalcError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(CalcError::DomainError {
            function: "square root",
            value,
        });
    }
    if value.is_zero() {
        return Ok(Decimal::ZERO);
    }
    let estimate = value
        .to_f64()
        .map(f64::sqrt)
        .and_then(Decimal::from_f64_retain);
    let mut root = estimate.filter(|r| !r.is_zero()).unwrap_or(value);
    for _ in 0..MAX_SQRT_STEPS {
        let next = root
            .checked_add(value.checked_div(root).ok_or(overflow("square root"))?)
            .ok_or(overflow("square root"))?
            / Decimal::TWO;
        if next == root {
            break;
        }
        root = next;
    }
    Ok(root.normalize())
}

/// Decimal places for `round`: a whole number from 0 to 28.
fn decimal_places(places: Decimal) -> Result<u32, CalcError> {
    places
        .to_u32()
        .filter(|p| places.is_integer() && *p <= MAX_ROUND_PLACES)
        .ok_or_else(|| CalcError::InvalidArgument {
            function: "round",
            reason: format!(
                "decimal places must be a whole number from 0 to {MAX_ROUND_PLACES}, not {places}"
            ),
        })
}

impl super::Rounding {
    /// The library's rounding strategy for this rounding mode.
    pub fn strategy(self) -> RoundingStrategy {
        use super::Rounding;
        match self {
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfDown => RoundingStrategy::MidpointTowardZero,
            Rounding::Down => RoundingStrategy::ToZero,
            Rounding::Up => RoundingStrategy::AwayFromZero,
            Rounding::Floor => RoundingStrategy::ToNegativeInfinity,
            Rounding::Ceiling => RoundingStrategy::ToPositiveInfinity,
        }
    }
}

//! Precedence-climbing (Pratt) parser: tokens to an [`Expr`].
//!
//! Symbols and their English words share one operator table ("times", "multiplied by",
//! "to the power of" are `*`, `*`, `^`), so `7 times 8 minus 6` follows the usual precedence.
//! Phrases that are not infix ("add 2 and 3", "subtract 250 from 1000", "sum of 1, 2 and 3",
//! "round 3.14159 to 2 decimals", "half of 30") are read where an operand is expected. Every
//! recursion passes through [`Parser::expression`], which enforces the nesting limit, so no
//! input can exhaust the stack.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::expr::{BinaryOp, Expr, Function, Reference};
use super::lexer::{Tok, Token};
use super::vocabulary::{
    LEADING_PHRASES, REFERENCE_WORDS, is_known, multiplier, small_number, starts_number_words,
};
use super::{CalcError, char_position};

/// Binding powers, weakest first: "rounded to" applies to everything before it; unary minus
/// and functions written without parentheses bind tighter than `*` but looser than `^`, so
/// `-2^2` is -4 and `sqrt 16 + 9` is 13.
const ROUNDED_BP: u8 = 2;
const ADD_BP: u8 = 10;
const MUL_BP: u8 = 20;
const PREFIX_BP: u8 = 30;
const POW_BP: u8 = 40;
const POSTFIX_BP: u8 = 50;

#[derive(Debug, Clone, Copy)]
enum OperatorKind {
    Infix(BinaryOp),
    /// "5 subtracted from 20", "3 less than 10": the operands in the other order.
    Reversed(BinaryOp),
    Squared,
    Cubed,
    Percent,
    Factorial,
    RoundedTo,
}

impl OperatorKind {
    /// (left, right) binding power; power groups to the right, the rest to the left.
    fn binding_power(self) -> (u8, u8) {
        match self {
            OperatorKind::Infix(BinaryOp::Add | BinaryOp::Subtract) => (ADD_BP, ADD_BP + 1),
            OperatorKind::Infix(BinaryOp::Power) => (POW_BP + 1, POW_BP),
            OperatorKind::Infix(_) => (MUL_BP, MUL_BP + 1),
            OperatorKind::Reversed(_) => (ADD_BP, ADD_BP + 1),
            OperatorKind::Squared
            | OperatorKind::Cubed
            | OperatorKind::Percent
            | OperatorKind::Factorial => (POSTFIX_BP, 0),
            OperatorKind::RoundedTo => (ROUNDED_BP, 0),
        }
    }
}

/// Operators written in words; a longer phrase comes before any phrase it starts with.
const WORD_OPERATORS: &[(&[&str], OperatorKind)] = &[
    (&["plus"], OperatorKind::Infix(BinaryOp::Add)),
    (&["added", "to"], OperatorKind::Infix(BinaryOp::Add)),
    (&["increased", "by"], OperatorKind::Infix(BinaryOp::Add)),
    (&["more", "than"], OperatorKind::Infix(BinaryOp::Add)),
    (&["minus"], OperatorKind::Infix(BinaryOp::Subtract)),
    (&["take", "away"], OperatorKind::Infix(BinaryOp::Subtract)),
    (
        &["decreased", "by"],
        OperatorKind::Infix(BinaryOp::Subtract),
    ),
    (&["reduced", "by"], OperatorKind::Infix(BinaryOp::Subtract)),
    (
        &["subtracted", "from"],
        OperatorKind::Reversed(BinaryOp::Subtract),
    ),
    (
        &["taken", "away", "from"],
        OperatorKind::Reversed(BinaryOp::Subtract),
    ),
    (
        &["taken", "from"],
        OperatorKind::Reversed(BinaryOp::Subtract),
    ),
    (
        &["less", "than"],
        OperatorKind::Reversed(BinaryOp::Subtract),
    ),
    (
        &["fewer", "than"],
        OperatorKind::Reversed(BinaryOp::Subtract),
    ),
    (&["less"], OperatorKind::Infix(BinaryOp::Subtract)),
    (
        &["multiplied", "with"],
        OperatorKind::Infix(BinaryOp::Multiply),
    ),
    (&["factorial"], OperatorKind::Factorial),
    (&["times"], OperatorKind::Infix(BinaryOp::Multiply)),
    (&["x"], OperatorKind::Infix(BinaryOp::Multiply)),
    (
        &["multiplied", "by"],
        OperatorKind::Infix(BinaryOp::Multiply),
    ),
    (&["divided", "by"], OperatorKind::Infix(BinaryOp::Divide)),
    (&["over"], OperatorKind::Infix(BinaryOp::Divide)),
    (&["mod"], OperatorKind::Infix(BinaryOp::Modulo)),
    (&["modulo"], OperatorKind::Infix(BinaryOp::Modulo)),
    (&["percent", "of"], OperatorKind::Infix(BinaryOp::PercentOf)),
    (
        &["per", "cent", "of"],
        OperatorKind::Infix(BinaryOp::PercentOf),
    ),
    (&["percent"], OperatorKind::Percent),
    (&["per", "cent"], OperatorKind::Percent),
    (
        &["to", "the", "power", "of"],
        OperatorKind::Infix(BinaryOp::Power),
    ),
    (
        &["to", "the", "power"],
        OperatorKind::Infix(BinaryOp::Power),
    ),
    (
        &["raised", "to", "the", "power", "of"],
        OperatorKind::Infix(BinaryOp::Power),
    ),
    (&["raised", "to"], OperatorKind::Infix(BinaryOp::Power)),
    (&["power"], OperatorKind::Infix(BinaryOp::Power)),
    (&["squared"], OperatorKind::Squared),
    (&["cubed"], OperatorKind::Cubed),
    (&["rounded", "to"], OperatorKind::RoundedTo),
];

/// An operator found after an operand, with the number of tokens it spans.
struct Operator {
    kind: OperatorKind,
    tokens: usize,
}

pub(crate) struct Parser<'t, 'a> {
    tokens: &'t [Token<'a>],
    /// The lowercased text, for error positions and excerpts.
    text: &'a str,
    at: usize,
    depth: u32,
    max_depth: u32,
}

impl<'t, 'a> Parser<'t, 'a> {
    pub(crate) fn new(tokens: &'t [Token<'a>], text: &'a str, max_depth: u32) -> Self {
        Parser {
            tokens,
            text,
            at: 0,
            depth: 0,
            max_depth,
        }
    }

    /// Parses the whole token list, after any leading phrasing ("what is").
    pub(crate) fn parse_request(mut self) -> Result<Expr, CalcError> {
        self.skip_leading_phrases();
        if self.at == self.tokens.len() {
            return Err(CalcError::Empty);
        }
        let expr = self.expression(0)?;
        match self.tokens.get(self.at) {
            None => Ok(expr),
            Some(token) => Err(self.unexpected(token)),
        }
    }

    fn skip_leading_phrases(&mut self) {
        while let Some(phrase) = LEADING_PHRASES.iter().find(|p| self.words_ahead(p)) {
            self.at += phrase.len();
        }
    }

    // ---- token access -------------------------------------------------------------------

    fn peek_tok(&self, ahead: usize) -> Option<Tok<'a>> {
        self.tokens.get(self.at + ahead).map(|t| t.tok)
    }

    fn peek_word_at(&self, ahead: usize) -> Option<&'a str> {
        match self.peek_tok(ahead) {
            Some(Tok::Word(word)) => Some(word),
            _ => None,
        }
    }

    fn peek_word(&self) -> Option<&'a str> {
        self.peek_word_at(0)
    }

    fn words_ahead(&self, words: &[&str]) -> bool {
        words
            .iter()
            .enumerate()
            .all(|(i, w)| self.peek_word_at(i) == Some(*w))
    }

    fn eat_words(&mut self, words: &[&str]) -> bool {
        let found = self.words_ahead(words);
        if found {
            self.at += words.len();
        }
        found
    }

    fn eat_word(&mut self, word: &str) -> bool {
        self.eat_words(&[word])
    }

    fn eat(&mut self, tok: Tok<'_>) -> bool {
        let found = self.peek_tok(0) == Some(tok);
        if found {
            self.at += 1;
        }
        found
    }

    fn next_token(&mut self) -> Option<Token<'a>> {
        let token = self.tokens.get(self.at).copied();
        self.at += usize::from(token.is_some());
        token
    }

    fn expect(&mut self, tok: Tok<'_>, expected: &'static str) -> Result<(), CalcError> {
        if self.eat(tok) {
            return Ok(());
        }
        Err(match self.tokens.get(self.at) {
            Some(token) => self.unexpected(token),
            None => CalcError::UnexpectedEnd { expected },
        })
    }

    fn unexpected(&self, token: &Token<'_>) -> CalcError {
        let pos = char_position(self.text, token.start);
        match token.tok {
            Tok::Word(word) if !is_known(word) => CalcError::UnknownWord {
                pos,
                word: word.to_string(),
            },
            _ => CalcError::UnexpectedToken {
                pos,
                found: self.text[token.start..token.end].to_string(),
            },
        }
    }

    // ---- expressions ----------------------------------------------------------------------

    /// An expression whose operators bind at least as tightly as `min_bp`.
    fn expression(&mut self, min_bp: u8) -> Result<Expr, CalcError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(CalcError::TooDeep {
                limit: self.max_depth,
            });
        }
        let mut lhs = self.prefix()?;
        loop {
            // "1/3 of 90", "3/4 of 200": a written fraction of an amount.
            if is_fraction(&lhs) && self.eat_word("of") {
                lhs = Expr::binary(BinaryOp::Multiply, lhs, self.operand()?);
                continue;
            }
            let Some(operator) = self.operator() else {
                break;
            };
            let (left_bp, right_bp) = operator.kind.binding_power();
            if left_bp < min_bp {
                break;
            }
            self.at += operator.tokens;
            lhs = self.apply(operator.kind, lhs, right_bp)?;
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn apply(&mut self, kind: OperatorKind, lhs: Expr, right_bp: u8) -> Result<Expr, CalcError> {
        Ok(match kind {
            OperatorKind::Infix(op) => Expr::binary(op, lhs, self.expression(right_bp)?),
            OperatorKind::Reversed(op) => Expr::binary(op, self.expression(right_bp)?, lhs),
            OperatorKind::Factorial => Expr::call(Function::Factorial, vec![lhs]),
            OperatorKind::Squared => Expr::binary(BinaryOp::Power, lhs, number(2)),
            OperatorKind::Cubed => Expr::binary(BinaryOp::Power, lhs, number(3)),
            OperatorKind::Percent => Expr::call(Function::Percent, vec![lhs]),
            OperatorKind::RoundedTo => self.round_places(lhs)?,
        })
    }

    /// The operator at the current token, if the token continues an expression.
    fn operator(&self) -> Option<Operator> {
        let infix = |op, tokens| {
            Some(Operator {
                kind: OperatorKind::Infix(op),
                tokens,
            })
        };
        match self.peek_tok(0)? {
            Tok::Plus => infix(BinaryOp::Add, 1),
            Tok::Minus => infix(BinaryOp::Subtract, 1),
            Tok::Star => infix(BinaryOp::Multiply, 1),
            Tok::Slash => infix(BinaryOp::Divide, 1),
            Tok::Caret => infix(BinaryOp::Power, 1),
            Tok::Percent => Some(self.percent_sign()),
            // "2 to the 5th", "3 to the fourth power".
            Tok::Word("to") if self.words_ahead(&["to", "the"]) && self.ordinal_at(2).is_some() => {
                infix(BinaryOp::Power, 2)
            }
            Tok::Word(_) => WORD_OPERATORS
                .iter()
                .find(|(phrase, _)| self.words_ahead(phrase))
                .map(|(phrase, kind)| Operator {
                    kind: *kind,
                    tokens: phrase.len(),
                }),
            _ => None,
        }
    }

    /// `%` is "percent of" before "of", modulo before an operand, and a percentage otherwise.
    fn percent_sign(&self) -> Operator {
        let (kind, tokens) = if self.peek_word_at(1) == Some("of") {
            (OperatorKind::Infix(BinaryOp::PercentOf), 2)
        } else if self.operand_follows(1) {
            (OperatorKind::Infix(BinaryOp::Modulo), 1)
        } else {
            (OperatorKind::Percent, 1)
        };
        Operator { kind, tokens }
    }

    fn operand_follows(&self, ahead: usize) -> bool {
        match self.peek_tok(ahead) {
            Some(Tok::Number(_) | Tok::LParen | Tok::Ref(_)) => true,
            Some(Tok::Word(word)) => starts_number_words(word),
            _ => false,
        }
    }

    /// An ordinal at `ahead`: "5th" (a number and its suffix) or "fifth"; its value and how
    /// many tokens it spans.
    fn ordinal_at(&self, ahead: usize) -> Option<(u32, usize)> {
        match self.peek_tok(ahead)? {
            Tok::Number(value) if self.peek_word_at(ahead + 1).is_some_and(is_ordinal_suffix) => {
                value.to_u32().map(|v| (v, 2))
            }
            Tok::Word(word) => ordinal_word(word).map(|v| (v, 1)),
            _ => None,
        }
    }

    /// After a whole number: "two thirds (of 90)", "3 quarters", "1 and a half".
    /// `written_with_multiplier`: the number was "2 hundred", "7 thousand", so "and fifty"
    /// continues it (after a bare "200", "and five" is a second operand).
    fn number_tail(
        &mut self,
        value: Expr,
        written_with_multiplier: bool,
    ) -> Result<Expr, CalcError> {
        if let Some(denominator) = self.peek_word().and_then(denominator) {
            self.at += 1;
            if self.eat_word("of") {
                let whole = Expr::binary(BinaryOp::Multiply, value, self.operand()?);
                return Ok(Expr::binary(BinaryOp::Divide, whole, number(denominator)));
            }
            return Ok(Expr::binary(BinaryOp::Divide, value, number(denominator)));
        }
        if self.words_ahead(&["and", "a", "half"]) {
            self.at += 3;
            return Ok(Expr::binary(
                BinaryOp::Add,
                value,
                Expr::Number(Decimal::new(5, 1)),
            ));
        }
        if self.words_ahead(&["and", "a", "quarter"]) {
            self.at += 3;
            return Ok(Expr::binary(
                BinaryOp::Add,
                value,
                Expr::Number(Decimal::new(25, 2)),
            ));
        }
        // "the 4th (power)": the suffix of an ordinal says nothing more.
        if self.peek_word().is_some_and(is_ordinal_suffix) {
            self.at += 1;
            // "the 4th power of 3".
            if self.eat_words(&["power", "of"]) {
                return Ok(Expr::binary(BinaryOp::Power, self.operand()?, value));
            }
            self.eat_word("power");
        }
        // "2 hundred and fifty": a number in digits continued in words.
        if written_with_multiplier && self.peek_word() == Some("and") && self.small_number_at(1) {
            self.at += 1;
            let word = self.peek_word().unwrap_or_default();
            self.at += 1;
            let rest = self.number_words(word)?;
            return Ok(Expr::binary(BinaryOp::Add, value, rest));
        }
        Ok(value)
    }

    /// What can start an operand: a number, a reference, a bracket, a sign or a word form.
    fn prefix(&mut self) -> Result<Expr, CalcError> {
        // "its square root": the function of the result before (see `function`).
        while self.eat_word("the") || self.eat_word("its") {}
        let Some(token) = self.next_token() else {
            return Err(CalcError::UnexpectedEnd {
                expected: "a number",
            });
        };
        match token.tok {
            Tok::Number(value) => {
                let with_multiplier = self.peek_word().and_then(multiplier).is_some();
                let value = self.scaled(value)?;
                self.number_tail(value, with_multiplier)
            }
            Tok::Ref(reference) => Ok(Expr::Ref(reference)),
            Tok::LParen => {
                let inner = self.expression(0)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(inner)
            }
            Tok::Minus => Ok(Expr::negate(self.expression(PREFIX_BP)?)),
            Tok::Plus => self.expression(PREFIX_BP),
            Tok::Word(word) => self.word_prefix(word, &token),
            _ => Err(self.unexpected(&token)),
        }
    }

    /// A number followed by multiplier words: "1.2 million", "2 dozen".
    fn scaled(&mut self, mut value: Decimal) -> Result<Expr, CalcError> {
        while let Some(factor) = self.peek_word().and_then(multiplier) {
            self.at += 1;
            value = value
                .checked_mul(Decimal::from(factor))
                .ok_or(CalcError::Overflow {
                    operation: "number",
                })?;
        }
        Ok(Expr::Number(value))
    }

    fn word_prefix(&mut self, word: &'a str, token: &Token<'_>) -> Result<Expr, CalcError> {
        if starts_number_words(word) {
            let value = self.number_words(word)?;
            return self.number_tail(value, false);
        }
        if let Some(degree) = ordinal_word(word) {
            // "fourth root of 16"; a bare ordinal is a number only after "to the".
            if self.eat_word("root") {
                return self.root(degree);
            }
            let value = number(degree);
            // "the fourth power of 3".
            if self.eat_words(&["power", "of"]) {
                return Ok(Expr::binary(BinaryOp::Power, self.operand()?, value));
            }
            self.eat_word("power");
            return Ok(value);
        }
        if REFERENCE_WORDS.contains(&word) {
            return Ok(Expr::Ref(Reference::Previous));
        }
        match word {
            "a" | "an" => self.article(token),
            "previous" | "last" => {
                let _ =
                    self.eat_word("result") || self.eat_word("answer") || self.eat_word("value");
                Ok(Expr::Ref(Reference::Previous))
            }
            "minus" | "negative" | "negate" => Ok(Expr::negate(self.operand()?)),
            "sqrt" => self.function(Function::Sqrt),
            "square" if self.eat_word("root") => self.function(Function::Sqrt),
            "root" => self.function(Function::Sqrt),
            "cube" if self.eat_word("root") => self.root(3),
            "square" | "cube" => {
                let exponent = number(if word == "square" { 2 } else { 3 });
                self.eat_word("of");
                let base = if self.at == self.tokens.len() {
                    Expr::Ref(Reference::Previous)
                } else {
                    self.operand()?
                };
                Ok(Expr::binary(BinaryOp::Power, base, exponent))
            }
            "factorial" => self.function(Function::Factorial),
            "product" => self.list_function(Function::Product),
            "median" => self.list_function(Function::Median),
            // "the difference between 3.6 and 10" is 6.4, whichever comes first.
            "difference" => Ok(Expr::call(
                Function::Abs,
                vec![self.pair(BinaryOp::Subtract)?],
            )),
            "quotient" => self.pair(BinaryOp::Divide),
            "ratio" => self.pair(BinaryOp::Divide),
            "remainder" => self.remainder(),
            "largest" | "biggest" | "greatest" | "highest" | "larger" | "bigger" | "greater" => {
                self.list_function(Function::Max)
            }
            "smallest" | "lowest" | "least" | "smaller" | "lesser" => {
                self.list_function(Function::Min)
            }
            "halve" => self.times_fraction(BinaryOp::Divide, 2),
            "take" => self.take(),
            "add" if self.eat_word("up") => self.list_function(Function::Sum),
            "abs" => self.function(Function::Abs),
            "absolute" if self.eat_word("value") => self.function(Function::Abs),
            "floor" => self.function(Function::Floor),
            "ceil" | "ceiling" => self.function(Function::Ceil),
            "round" => self.round(),
            "sum" | "total" => {
                self.eat_word("up");
                self.list_function(Function::Sum)
            }
            "average" | "avg" | "mean" => self.list_function(Function::Average),
            "min" | "minimum" => self.list_function(Function::Min),
            "max" | "maximum" => self.list_function(Function::Max),
            "half" => self.times_fraction(BinaryOp::Divide, 2),
            "double" | "twice" => self.times_fraction(BinaryOp::Multiply, 2),
            "triple" | "thrice" => self.times_fraction(BinaryOp::Multiply, 3),
            "quadruple" => self.times_fraction(BinaryOp::Multiply, 4),
            "add" => self.verb(BinaryOp::Add, &["and", "to"], &[]),
            "subtract" => self.verb(BinaryOp::Subtract, &[], &["from"]),
            "multiply" => self.verb(BinaryOp::Multiply, &["by", "and"], &[]),
            "divide" => self.verb(BinaryOp::Divide, &["by"], &[]),
            "raise" => self.raise(),
            _ => Err(self.unexpected(token)),
        }
    }

    /// An operand after a word form: binds like unary minus ("half of 30 + 2" is 17).
    fn operand(&mut self) -> Result<Expr, CalcError> {
        self.expression(PREFIX_BP)
    }

    /// "a dozen", "a million", "a half of 30".
    fn article(&mut self, token: &Token<'_>) -> Result<Expr, CalcError> {
        match self.peek_word() {
            Some(word) if multiplier(word).is_some() => {
                self.at += 1;
                self.number_words(word)
            }
            Some("half") => {
                self.at += 1;
                self.times_fraction(BinaryOp::Divide, 2)
            }
            // "a third of 90", "a quarter of 80".
            Some(word) if denominator(word).is_some() => {
                self.at += 1;
                let parts = denominator(word).unwrap_or(1);
                self.times_fraction(BinaryOp::Divide, parts)
            }
            // "an apple": the noun is the problem, not the article.
            Some(word) if !is_known(word) => Err(self.unexpected(&self.tokens[self.at])),
            _ => Err(self.unexpected(token)),
        }
    }

    /// A number in words, whose first word is already taken: "forty two", "one hundred and
    /// five", "two million three hundred thousand", "a dozen".
    fn number_words(&mut self, first: &'a str) -> Result<Expr, CalcError> {
        let overflow = || CalcError::Overflow {
            operation: "number",
        };
        let (mut total, mut current) = (0u128, 0u128);
        let mut word = first;
        loop {
            if let Some(value) = small_number(word) {
                current = current.checked_add(value.into()).ok_or_else(overflow)?;
            } else if let Some(factor) = multiplier(word) {
                let scaled = current
                    .max(1)
                    .checked_mul(factor.into())
                    .ok_or_else(overflow)?;
                if factor >= 1_000 {
                    total = total.checked_add(scaled).ok_or_else(overflow)?;
                    current = 0;
                } else {
                    current = scaled;
                }
            }
            match self.peek_word() {
                Some(next) if starts_number_words(next) => word = next,
                // "one hundred and five": "and" inside a number, not between two.
                Some("and") if (total > 0 || current >= 100) && self.small_number_at(1) => {
                    self.at += 1;
                    word = self.peek_word().unwrap_or_default();
                }
                _ => break,
            }
            self.at += 1;
        }
        let value = total.checked_add(current).ok_or_else(overflow)?;
        let value = i128::try_from(value).map_err(|_| overflow())?;
        Decimal::try_from_i128_with_scale(value, 0)
            .map(Expr::Number)
            .map_err(|_| overflow())
    }

    fn small_number_at(&self, ahead: usize) -> bool {
        self.peek_word_at(ahead).and_then(small_number).is_some()
    }

    /// A one-argument function: `sqrt(16)`, `sqrt 16`, `square root of 16`.
    fn function(&mut self, function: Function) -> Result<Expr, CalcError> {
        // "then take the square root": of the result before.
        if self.at == self.tokens.len() {
            return call(function, vec![Expr::Ref(Reference::Previous)]);
        }
        let args = if self.eat(Tok::LParen) {
            self.call_arguments()?
        } else {
            self.eat_word("of");
            vec![self.operand()?]
        };
        call(function, args)
    }

    /// `min(4, 2, 9)`, `sum of 1, 2 and 3`, `max of 4 and 9`.
    fn list_function(&mut self, function: Function) -> Result<Expr, CalcError> {
        let args = if self.eat(Tok::LParen) {
            self.call_arguments()?
        } else {
            let _ = self.eat_words(&["number", "in"])
                || self.eat_words(&["number", "of"])
                || self.eat_words(&["value", "in"])
                || self.eat_words(&["value", "of"])
                || self.eat_words(&["one", "of"])
                || self.eat_words(&["number", "out", "of"])
                || self.eat_words(&["out", "of"]);
            let _ = self.eat_word("of") || self.eat_word("between") || self.eat_word("in");
            let _ = self.eat_words(&["the", "numbers"]) || self.eat_words(&["the", "list"]);
            self.spoken_list()?
        };
        call(function, args)
    }

    /// "difference between 90 and 35", "quotient of 144 and 12": two operands, in order.
    fn pair(&mut self, op: BinaryOp) -> Result<Expr, CalcError> {
        let _ = self.eat_word("of") || self.eat_word("between");
        let first = self.expression(0)?;
        if !(self.eat_word("and") || self.eat(Tok::Comma) || self.eat_word("by")) {
            return Err(match self.tokens.get(self.at) {
                Some(token) => self.unexpected(token),
                None => CalcError::UnexpectedEnd { expected: "'and'" },
            });
        }
        Ok(Expr::binary(op, first, self.expression(0)?))
    }

    /// "remainder of 17 divided by 5", "remainder when 17 is divided by 5", "remainder of
    /// 17 and 5".
    fn remainder(&mut self) -> Result<Expr, CalcError> {
        let _ = self.eat_word("of") || self.eat_word("when");
        let dividend = self.expression(MUL_BP + 1)?;
        self.eat_word("is");
        let divided = self.eat_words(&["divided", "by"])
            || self.eat(Tok::Slash)
            || self.eat_word("and")
            || self.eat_word("by")
            || self.eat_word("over");
        if !divided {
            return Err(match self.tokens.get(self.at) {
                Some(token) => self.unexpected(token),
                None => CalcError::UnexpectedEnd {
                    expected: "'divided by'",
                },
            });
        }
        Ok(Expr::binary(BinaryOp::Modulo, dividend, self.operand()?))
    }

    /// "cube root of 27", "4th root of 16", `cube root(27)`.
    fn root(&mut self, degree: u32) -> Result<Expr, CalcError> {
        let value = if self.eat(Tok::LParen) {
            let inner = self.expression(0)?;
            self.expect(Tok::RParen, "')'")?;
            inner
        } else {
            self.eat_word("of");
            self.operand()?
        };
        Ok(Expr::call(Function::Root, vec![value, number(degree)]))
    }

    /// Arguments after `(`, up to and including `)`.
    fn call_arguments(&mut self) -> Result<Vec<Expr>, CalcError> {
        let mut args = Vec::new();
        if self.eat(Tok::RParen) {
            return Ok(args);
        }
        loop {
            args.push(self.expression(0)?);
            if !self.eat(Tok::Comma) {
                break;
            }
        }
        self.expect(Tok::RParen, "')'")?;
        Ok(args)
    }

    /// Items separated by commas and "and": "1, 2 and 3", "4 and 9", "1, 2, and 3".
    fn spoken_list(&mut self) -> Result<Vec<Expr>, CalcError> {
        let mut items = vec![self.expression(0)?];
        while self.eat(Tok::Comma) | self.eat_word("and") | self.eat_word("or") {
            // "1, 2, and 3"
            self.eat_word("and");
            items.push(self.expression(0)?);
        }
        Ok(items)
    }

    /// "half of 30", "double 21", "twice 8".
    fn times_fraction(&mut self, op: BinaryOp, factor: u32) -> Result<Expr, CalcError> {
        self.eat_word("of");
        Ok(Expr::binary(op, self.operand()?, number(factor)))
    }

    /// `round(3.14159, 2)`, "round 3.14159 to 2 decimals", "round to 2 decimals" (the
    /// previous result), "round 2.5".
    fn round(&mut self) -> Result<Expr, CalcError> {
        // "round down 3.7", "round 3.7 down": floor; "round up": ceiling; "round up 4.01 to
        // the nearest whole number", "round down 2.678 to 2 decimals".
        for (word, function) in [("down", Function::Floor), ("up", Function::Ceil)] {
            if self.eat_word(word) {
                let value = self.expression(ROUNDED_BP + 1)?;
                if !self.eat_word("to") {
                    return Ok(Expr::call(function, vec![value]));
                }
                return self.directed_places(function, value);
            }
        }
        if self.eat(Tok::LParen) {
            let args = self.call_arguments()?;
            return call(Function::Round, args);
        }
        let value = if self.peek_word() == Some("to") {
            Expr::Ref(Reference::Previous)
        } else {
            self.expression(ROUNDED_BP + 1)?
        };
        if self.eat_word("down") {
            return Ok(Expr::call(Function::Floor, vec![value]));
        }
        if self.eat_word("up") {
            return Ok(Expr::call(Function::Ceil, vec![value]));
        }
        if self.eat_word("to") {
            self.round_places(value)
        } else {
            Ok(Expr::call(Function::Round, vec![value]))
        }
    }

    /// After "round … to" or "rounded to": "2 decimals", "2 decimal places", "2 dp",
    /// "the nearest whole number", "a whole number", "the nearest tenth", "the nearest ten",
    /// "the nearest 100", "the nearest 5".
    fn round_places(&mut self, value: Expr) -> Result<Expr, CalcError> {
        let nearest = self.eat_words(&["the", "nearest"]) || self.eat_word("nearest");
        if !nearest {
            let _ = self.eat_word("a") || self.eat_word("the");
        }
        if let Some(places) = self.place_word() {
            return Ok(Expr::call(Function::Round, vec![value, places]));
        }
        if !nearest {
            let places = self.operand()?;
            self.eat_place_unit();
            return Ok(Expr::call(Function::Round, vec![value, places]));
        }
        // "the nearest 5": to a multiple of the number.
        let step = self.operand()?;
        let units = Expr::binary(BinaryOp::Divide, value, step.clone());
        Ok(Expr::binary(
            BinaryOp::Multiply,
            Expr::call(Function::Round, vec![units]),
            step,
        ))
    }

    /// Floor or ceiling at the places that follow "to": a whole number, or n decimals
    /// (x scaled up by 10ⁿ, floored or ceiled, scaled back: exact in decimals).
    fn directed_places(&mut self, function: Function, value: Expr) -> Result<Expr, CalcError> {
        let nearest = self.eat_words(&["the", "nearest"]) || self.eat_word("nearest");
        if !nearest {
            let _ = self.eat_word("a") || self.eat_word("the");
        }
        let places = match self.place_word() {
            Some(places) => places,
            None => {
                let places = self.operand()?;
                self.eat_place_unit();
                places
            }
        };
        let scale = Expr::binary(BinaryOp::Power, number(10), places);
        let scaled = Expr::binary(BinaryOp::Multiply, value, scale.clone());
        Ok(Expr::binary(
            BinaryOp::Divide,
            Expr::call(function, vec![scaled]),
            scale,
        ))
    }

    /// "whole number", "integer", "tenth", "ten", "hundred", "thousand": the decimal places
    /// to round to (negative for tens and up).
    fn place_word(&mut self) -> Option<Expr> {
        const UNITS: &[(&[&str], i64)] = &[
            (&["whole", "number"], 0),
            (&["whole"], 0),
            (&["integer"], 0),
            (&["unit"], 0),
            (&["tenth"], 1),
            (&["hundredth"], 2),
            (&["thousandth"], 3),
            (&["ten"], -1),
            (&["hundred"], -2),
            (&["thousand"], -3),
            (&["million"], -6),
        ];
        let (words, places) = UNITS.iter().find(|(words, _)| self.words_ahead(words))?;
        self.at += words.len();
        Some(Expr::Number(Decimal::from(*places)))
    }

    fn eat_place_unit(&mut self) {
        self.eat_word("decimal");
        let _ = ["decimals", "places", "place", "digits", "dp"]
            .iter()
            .any(|unit| self.eat_word(unit));
    }

    /// "add 2 and 3", "subtract 250 from 1000", "multiply 6 by 7", "divide 100 by 25".
    ///
    /// `binders` introduce the second operand, `reversing` ones introduce it as the first
    /// ("from"). Without a first operand ("multiply by 3") or a second one ("add 5"), the
    /// previous result stands in for the missing one.
    fn verb(
        &mut self,
        op: BinaryOp,
        binders: &[&str],
        reversing: &[&str],
    ) -> Result<Expr, CalcError> {
        let is_binder = |word: &str| binders.contains(&word) || reversing.contains(&word);
        let first = if self.peek_word().is_some_and(is_binder) {
            Expr::Ref(Reference::Previous)
        } else {
            self.expression(0)?
        };
        // "add 10, 20 and 30": a list to sum.
        if op == BinaryOp::Add && self.peek_tok(0) == Some(Tok::Comma) {
            let mut items = vec![first];
            while self.eat(Tok::Comma) | self.eat_word("and") {
                self.eat_word("and");
                items.push(self.expression(0)?);
            }
            return Ok(Expr::call(Function::Sum, items));
        }
        let Some(binder) = self.peek_word().filter(|word| is_binder(word)) else {
            return Ok(Expr::binary(op, Expr::Ref(Reference::Previous), first));
        };
        self.at += 1;
        let second = self.expression(0)?;
        Ok(if reversing.contains(&binder) {
            Expr::binary(op, second, first)
        } else {
            Expr::binary(op, first, second)
        })
    }

    /// "take 63 away from 100", "take 5 from 20", "take away 5" (from the result before),
    /// "take 100" (a starting value), "take the square root" (of the result before).
    fn take(&mut self) -> Result<Expr, CalcError> {
        if self.eat_word("away") || self.eat_word("off") {
            let amount = self.expression(ADD_BP + 1)?;
            return Ok(Expr::binary(
                BinaryOp::Subtract,
                Expr::Ref(Reference::Previous),
                amount,
            ));
        }
        let first = self.expression(ADD_BP + 1)?;
        if self.eat_words(&["away", "from"]) || self.eat_word("from") {
            let whole = self.expression(ADD_BP + 1)?;
            return Ok(Expr::binary(BinaryOp::Subtract, whole, first));
        }
        if self.eat_word("away") {
            return Ok(Expr::binary(
                BinaryOp::Subtract,
                Expr::Ref(Reference::Previous),
                first,
            ));
        }
        Ok(first)
    }

    /// "raise 2 to the power of 10", "raise 2 to 10".
    fn raise(&mut self) -> Result<Expr, CalcError> {
        let base = self.expression(POW_BP + 2)?;
        self.expect(Tok::Word("to"), "'to'")?;
        let _ = self.eat_words(&["the", "power", "of"]) || self.eat_words(&["the", "power"]);
        Ok(Expr::binary(BinaryOp::Power, base, self.operand()?))
    }
}

fn number(value: u32) -> Expr {
    Expr::Number(Decimal::from(value))
}

/// A written fraction: `1/3`, `3 / 4` (whole numbers over a whole number).
fn is_fraction(expr: &Expr) -> bool {
    matches!(expr, Expr::Binary { op: BinaryOp::Divide, lhs, rhs }
        if matches!((&**lhs, &**rhs), (Expr::Number(a), Expr::Number(b)) if a.is_integer() && b.is_integer()))
}

/// "st", "nd", "rd", "th": the suffix of an ordinal written in digits.
fn is_ordinal_suffix(word: &str) -> bool {
    matches!(word, "st" | "nd" | "rd" | "th")
}

/// "second" … "twelfth" as numbers (for "to the fifth", "fourth root").
fn ordinal_word(word: &str) -> Option<u32> {
    const ORDINALS: [&str; 11] = [
        "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
        "eleventh", "twelfth",
    ];
    ORDINALS
        .iter()
        .position(|w| *w == word)
        .map(|i| i as u32 + 2)
}

/// The parts a fraction word divides into: "halves" 2, "third(s)" 3, "quarter(s)" 4, …
fn denominator(word: &str) -> Option<u32> {
    let singular = word.strip_suffix('s').unwrap_or(word);
    match singular {
        "halve" | "half" => Some(2),
        "quarter" => Some(4),
        // "second" is a unit of time far more often than a fraction.
        "second" => None,
        other => ordinal_word(other),
    }
}

/// A call, once its argument count is checked.
fn call(function: Function, args: Vec<Expr>) -> Result<Expr, CalcError> {
    let (fewest, most, expected) = function.arity();
    if args.len() < fewest || args.len() > most {
        return Err(CalcError::WrongArgumentCount {
            function: function.name(),
            expected,
            found: args.len(),
        });
    }
    Ok(Expr::call(function, args))
}

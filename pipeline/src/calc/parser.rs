//! Precedence-climbing (Pratt) parser: tokens to an [`Expr`].
//!
//! Symbols and their English words share one operator table ("times", "multiplied by",
//! "to the power of" are `*`, `*`, `^`), so `7 times 8 minus 6` follows the usual precedence.
//! Phrases that are not infix ("add 2 and 3", "subtract 250 from 1000", "sum of 1, 2 and 3",
//! "round 3.14159 to 2 decimals", "half of 30") are read where an operand is expected. Every
//! recursion passes through [`Parser::expression`], which enforces the nesting limit, so no
//! input can exhaust the stack.

use rust_decimal::Decimal;

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
    Squared,
    Cubed,
    Percent,
    RoundedTo,
}

impl OperatorKind {
    /// (left, right) binding power; power groups to the right, the rest to the left.
    fn binding_power(self) -> (u8, u8) {
        match self {
            OperatorKind::Infix(BinaryOp::Add | BinaryOp::Subtract) => (ADD_BP, ADD_BP + 1),
            OperatorKind::Infix(BinaryOp::Power) => (POW_BP + 1, POW_BP),
            OperatorKind::Infix(_) => (MUL_BP, MUL_BP + 1),
            OperatorKind::Squared | OperatorKind::Cubed | OperatorKind::Percent => (POSTFIX_BP, 0),
            OperatorKind::RoundedTo => (ROUNDED_BP, 0),
        }
    }
}

/// Operators written in words; a longer phrase comes before any phrase it starts with.
const WORD_OPERATORS: &[(&[&str], OperatorKind)] = &[
    (&["plus"], OperatorKind::Infix(BinaryOp::Add)),
    (&["minus"], OperatorKind::Infix(BinaryOp::Subtract)),
    (&["less"], OperatorKind::Infix(BinaryOp::Subtract)),
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
    (&["percent"], OperatorKind::Percent),
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
        while let Some(operator) = self.operator() {
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

    /// What can start an operand: a number, a reference, a bracket, a sign or a word form.
    fn prefix(&mut self) -> Result<Expr, CalcError> {
        while self.eat_word("the") {}
        let Some(token) = self.next_token() else {
            return Err(CalcError::UnexpectedEnd {
                expected: "a number",
            });
        };
        match token.tok {
            Tok::Number(value) => self.scaled(value),
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
            return self.number_words(word);
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
            "square" => Ok(Expr::binary(BinaryOp::Power, self.operand()?, number(2))),
            "cube" => Ok(Expr::binary(BinaryOp::Power, self.operand()?, number(3))),
            "abs" => self.function(Function::Abs),
            "absolute" if self.eat_word("value") => self.function(Function::Abs),
            "floor" => self.function(Function::Floor),
            "ceil" | "ceiling" => self.function(Function::Ceil),
            "round" => self.round(),
            "sum" | "total" => self.list_function(Function::Sum),
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
            self.eat_word("of");
            self.spoken_list()?
        };
        call(function, args)
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
        while self.eat(Tok::Comma) | self.eat_word("and") {
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
        if self.eat(Tok::LParen) {
            let args = self.call_arguments()?;
            return call(Function::Round, args);
        }
        let value = if self.peek_word() == Some("to") {
            Expr::Ref(Reference::Previous)
        } else {
            self.expression(ROUNDED_BP + 1)?
        };
        if self.eat_word("to") {
            self.round_places(value)
        } else {
            Ok(Expr::call(Function::Round, vec![value]))
        }
    }

    /// After "round … to" or "rounded to": "2 decimals", "2 decimal places", "2 dp",
    /// "the nearest whole number", "the nearest tenth".
    fn round_places(&mut self, value: Expr) -> Result<Expr, CalcError> {
        let places = if self.eat_words(&["the", "nearest"]) || self.eat_word("nearest") {
            number(self.nearest_unit()?)
        } else {
            let places = self.operand()?;
            self.eat_place_unit();
            places
        };
        Ok(Expr::call(Function::Round, vec![value, places]))
    }

    fn nearest_unit(&mut self) -> Result<u32, CalcError> {
        const UNITS: &[(&[&str], u32)] = &[
            (&["whole", "number"], 0),
            (&["integer"], 0),
            (&["tenth"], 1),
            (&["hundredth"], 2),
            (&["thousandth"], 3),
        ];
        if let Some((words, places)) = UNITS.iter().find(|(words, _)| self.words_ahead(words)) {
            self.at += words.len();
            return Ok(*places);
        }
        Err(match self.tokens.get(self.at) {
            Some(token) => self.unexpected(token),
            None => CalcError::UnexpectedEnd {
                expected: "'whole number', 'tenth' or 'hundredth'",
            },
        })
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

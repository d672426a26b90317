//! Tokenizer: splits request text into numbers, words, references and operator symbols.
//!
//! It works on an ASCII-lowercased copy of the text (byte offsets stay those of the
//! original), reads numbers exactly (`1,250`, `1.5`, `2.5k`, `1e28`), maps the typographic
//! operators (`×`, `÷`, `−`, `·`, `²`, `√`) onto plain ones, and rejects control characters.
//! Words are left for the parser, which knows the vocabulary.

use std::borrow::Cow;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::{CalcError, MAX_NUMBER_CHARS, Reference, char_position};

/// One kind of token. Words borrow from the lowercased text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tok<'a> {
    Number(Decimal),
    Word(&'a str),
    Ref(Reference),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    Percent,
    LParen,
    RParen,
    Comma,
}

/// A token and the byte range of the text it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub start: usize,
    pub end: usize,
}

/// Splits `lower` (the ASCII-lowercased request) into tokens.
pub(crate) fn tokenize(lower: &str) -> Result<Vec<Token<'_>>, CalcError> {
    let mut lexer = Lexer {
        text: lower,
        at: 0,
        tokens: Vec::with_capacity(8),
    };
    while let Some(c) = lexer.peek_char() {
        lexer.token(c)?;
    }
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    text: &'a str,
    at: usize,
    tokens: Vec<Token<'a>>,
}

impl<'a> Lexer<'a> {
    fn peek_char(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.text.get(at..).and_then(|rest| rest.chars().next())
    }

    fn byte_at(&self, at: usize) -> u8 {
        self.text.as_bytes().get(at).copied().unwrap_or(0)
    }

    fn push(&mut self, tok: Tok<'a>, start: usize, end: usize) {
        self.tokens.push(Token { tok, start, end });
        self.at = end;
    }

    fn token(&mut self, c: char) -> Result<(), CalcError> {
        let start = self.at;
        let end = start + c.len_utf8();
        if c.is_whitespace() {
            self.at = end;
            return Ok(());
        }
        if c.is_control() {
            return Err(CalcError::ControlCharacter {
                pos: char_position(self.text, start),
                code: c as u32,
            });
        }
        if c.is_ascii_digit() || (c == '.' && self.byte_at(end).is_ascii_digit()) {
            return self.number(start);
        }
        if c.is_alphabetic() {
            self.word(start);
            return Ok(());
        }
        if c == '$' {
            return self.reference(start);
        }
        if c == '-' && self.joins_words(start, end) {
            // "forty-two": the hyphen only separates two words.
            self.at = end;
            return Ok(());
        }
        if c == '*' && self.byte_at(end) == b'*' {
            self.push(Tok::Caret, start, end + 1);
            return Ok(());
        }
        let tok = match c {
            '+' => Tok::Plus,
            '-' | '−' | '–' => Tok::Minus,
            '*' | '×' | '·' | '⋅' | '∙' => Tok::Star,
            '/' | '÷' | '∕' => Tok::Slash,
            '^' => Tok::Caret,
            '%' => Tok::Percent,
            '(' | '[' => Tok::LParen,
            ')' | ']' => Tok::RParen,
            ',' => Tok::Comma,
            // "5!": a factorial after a number or a bracket; elsewhere an exclamation.
            '!' if matches!(
                self.tokens.last().map(|t| t.tok),
                Some(Tok::Number(_) | Tok::RParen)
            ) =>
            {
                Tok::Word("factorial")
            }
            '!' => {
                self.at = end;
                return Ok(());
            }
            '²' => Tok::Word("squared"),
            '³' => Tok::Word("cubed"),
            '√' => Tok::Word("sqrt"),
            _ => {
                return Err(CalcError::UnexpectedCharacter {
                    pos: char_position(self.text, start),
                    found: c,
                });
            }
        };
        self.push(tok, start, end);
        Ok(())
    }

    /// Whether the hyphen at `start..end` sits between two letters.
    fn joins_words(&self, start: usize, end: usize) -> bool {
        let before = self.text[..start].chars().next_back();
        let after = self.char_at(end);
        before.is_some_and(char::is_alphabetic) && after.is_some_and(char::is_alphabetic)
    }

    /// A word: letters, with apostrophes inside ("what's").
    fn word(&mut self, start: usize) {
        let mut end = start;
        for (offset, c) in self.text[start..].char_indices() {
            let inner_apostrophe = (c == '\'' || c == '’')
                && self
                    .char_at(start + offset + c.len_utf8())
                    .is_some_and(char::is_alphabetic);
            if !(c.is_alphabetic() || inner_apostrophe) {
                break;
            }
            end = start + offset + c.len_utf8();
        }
        self.push(Tok::Word(&self.text[start..end]), start, end);
    }

    /// `$0`, `$12`, `$prev`.
    fn reference(&mut self, start: usize) -> Result<(), CalcError> {
        let rest = &self.text[start + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let reference = if digits > 0 {
            rest[..digits].parse().ok().map(Reference::Step)
        } else if rest.starts_with("prev") {
            Some(Reference::Previous)
        } else {
            None
        };
        let len = if digits > 0 { digits } else { 4 };
        match reference {
            Some(reference) => {
                self.push(Tok::Ref(reference), start, start + 1 + len);
                Ok(())
            }
            None => Err(CalcError::UnexpectedCharacter {
                pos: char_position(self.text, start),
                found: '$',
            }),
        }
    }

    /// A number: digits with optional `,ddd` thousands groups, a fraction, an exponent
    /// (`1e28`) and a `k` suffix (`2.5k`).
    fn number(&mut self, start: usize) -> Result<(), CalcError> {
        let mut end = self.digits(start);
        let mut grouped = false;
        while self.is_thousands_group(end) {
            grouped = true;
            end = self.digits(end + 1);
        }
        if self.byte_at(end) == b'.' && self.byte_at(end + 1).is_ascii_digit() {
            end = self.digits(end + 1);
        }
        let mantissa_end = end;
        if let Some(exponent_end) = self.exponent(end) {
            end = exponent_end;
        }
        let literal = &self.text[start..end];
        let mut value = self.parse_literal(literal, start, grouped, mantissa_end - start)?;
        if self.byte_at(end) == b'k' && !self.byte_at(end + 1).is_ascii_alphanumeric() {
            value = value
                .checked_mul(Decimal::ONE_THOUSAND)
                .ok_or_else(|| self.out_of_range(start, literal))?;
            end += 1;
        }
        self.push(Tok::Number(value), start, end);
        Ok(())
    }

    fn digits(&self, from: usize) -> usize {
        from + self.text.as_bytes()[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    /// `,ddd` not followed by a further digit: a thousands separator, not a list comma.
    fn is_thousands_group(&self, at: usize) -> bool {
        self.byte_at(at) == b','
            && (1..=3).all(|i| self.byte_at(at + i).is_ascii_digit())
            && !self.byte_at(at + 4).is_ascii_digit()
    }

    /// The end of an exponent such as `e28` or `e-3` starting at `at`, if there is one.
    fn exponent(&self, at: usize) -> Option<usize> {
        if self.byte_at(at) != b'e' {
            return None;
        }
        let sign = usize::from(matches!(self.byte_at(at + 1), b'+' | b'-'));
        let first_digit = at + 1 + sign;
        self.byte_at(first_digit)
            .is_ascii_digit()
            .then(|| self.digits(first_digit))
    }

    fn parse_literal(
        &self,
        literal: &str,
        start: usize,
        grouped: bool,
        mantissa_len: usize,
    ) -> Result<Decimal, CalcError> {
        if literal.len() > MAX_NUMBER_CHARS {
            return Err(self.out_of_range(start, literal));
        }
        let digits: Cow<'_, str> = if grouped {
            Cow::Owned(literal.replace(',', ""))
        } else {
            Cow::Borrowed(literal)
        };
        let parsed = if literal.len() > mantissa_len {
            Decimal::from_scientific(&digits).ok()
        } else {
            Decimal::from_str(&digits).ok()
        };
        parsed.ok_or_else(|| self.out_of_range(start, literal))
    }

    fn out_of_range(&self, start: usize, literal: &str) -> CalcError {
        const SHOWN: usize = 24;
        let shown = if literal.len() > SHOWN {
            format!("{}…", &literal[..SHOWN])
        } else {
            literal.to_string()
        };
        CalcError::NumberOutOfRange {
            pos: char_position(self.text, start),
            literal: shown,
        }
    }
}

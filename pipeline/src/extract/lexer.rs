//! The single pass that splits a request into tokens for every rule of the extractor.
//!
//! Tokens are words (letters, with inner apostrophes), numbers (digits with valid thousands
//! groups and an optional decimal part) and single punctuation characters. Each token keeps
//! its byte span and whether whitespace precedes it, so rules can tell "5km" from "5 km".
//! Words are matched against an ASCII-lowercased copy of the text made once per request.

use super::measure;
use super::numeral::{self, Numeral};
use super::value::Grain;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TokenKind {
    Word,
    /// A numeral in digits; `value` is `None` when it is too long to be a quantity (an id).
    Number {
        value: Option<f64>,
        /// Written as plain digits: no thousands separator and no decimal part.
        plain: bool,
    },
    Punct(char),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
    /// Whitespace (or the start of the text) comes right before this token.
    pub spaced: bool,
}

/// Numerals with more significant digits than this are identifiers, not quantities.
const MAX_DIGITS: usize = 15;

/// A tokenized request.
pub(crate) struct Lexed<'t> {
    pub text: &'t str,
    pub lower: String,
    pub tokens: Vec<Token>,
    /// What starts at each token, computed once: the measure and time rules ask for the same
    /// positions many times.
    facts: Vec<Facts>,
}

/// The numeral, ordinal and amount of time starting at one token.
#[derive(Clone, Copy)]
struct Facts {
    numeral: Option<Numeral>,
    ordinal: Option<Numeral>,
    duration: Option<(f64, Grain, usize)>,
}

impl<'t> Lexed<'t> {
    pub fn new(text: &'t str) -> Self {
        let mut lx = Lexed {
            text,
            lower: text.to_ascii_lowercase(),
            tokens: tokenize(text),
            facts: Vec::new(),
        };
        let facts = (0..lx.tokens.len())
            .map(|i| Facts {
                numeral: numeral::compute_numeral_at(&lx, i),
                ordinal: numeral::compute_ordinal_at(&lx, i),
                duration: None,
            })
            .collect();
        lx.facts = facts;
        // Amounts of time are built on the numerals, so they come second.
        for i in 0..lx.facts.len() {
            let d = measure::compute_duration_at(&lx, i);
            lx.facts[i].duration = d;
        }
        lx
    }

    /// The numeral starting exactly at token `i` (see [`numeral::compute_numeral_at`]).
    pub fn numeral(&self, i: usize) -> Option<Numeral> {
        self.facts.get(i).and_then(|f| f.numeral)
    }

    /// The ordinal starting exactly at token `i` (see [`numeral::compute_ordinal_at`]).
    pub fn ordinal(&self, i: usize) -> Option<Numeral> {
        self.facts.get(i).and_then(|f| f.ordinal)
    }

    /// The amount of time starting exactly at token `i` (see
    /// [`measure::compute_duration_at`]).
    pub fn duration(&self, i: usize) -> Option<(f64, Grain, usize)> {
        self.facts.get(i).and_then(|f| f.duration)
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The lowercased word at `i`, or `None` if `i` is not a word.
    pub fn word(&self, i: usize) -> Option<&str> {
        let t = self.tokens.get(i)?;
        (t.kind == TokenKind::Word).then(|| &self.lower[t.start..t.end])
    }

    /// Whether token `i` is the word `w` (lowercase).
    pub fn is_word(&self, i: usize, w: &str) -> bool {
        self.word(i) == Some(w)
    }

    /// The word at `i` as written.
    pub fn raw(&self, i: usize) -> &'t str {
        let t = &self.tokens[i];
        &self.text[t.start..t.end]
    }

    pub fn is_punct(&self, i: usize, c: char) -> bool {
        matches!(self.tokens.get(i), Some(Token { kind: TokenKind::Punct(p), .. }) if *p == c)
    }

    /// The numeric value of a digits token.
    pub fn number(&self, i: usize) -> Option<f64> {
        match self.tokens.get(i)?.kind {
            TokenKind::Number { value, .. } => value,
            _ => None,
        }
    }

    /// The value of a plain-digits integer token and its digit count ("09" → (9, 2)).
    pub fn plain_int(&self, i: usize) -> Option<(u32, usize)> {
        let t = self.tokens.get(i)?;
        match t.kind {
            TokenKind::Number {
                value: Some(v),
                plain: true,
            } if t.end - t.start <= 9 => Some((v as u32, t.end - t.start)),
            _ => None,
        }
    }

    /// Token `i` exists and follows the previous token with no whitespace between.
    pub fn glued(&self, i: usize) -> bool {
        self.tokens.get(i).is_some_and(|t| !t.spaced)
    }

    pub fn start(&self, i: usize) -> usize {
        self.tokens[i].start
    }

    /// Byte end of the token before `end` (a half-open token range's last byte).
    pub fn end_before(&self, end: usize) -> usize {
        self.tokens[end - 1].end
    }
}

fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(text.len() / 4 + 1);
    let mut pos = 0;
    let mut spaced = true;
    while pos < text.len() {
        let c = text[pos..].chars().next().unwrap_or(' ');
        if c.is_whitespace() || c.is_control() {
            spaced = true;
            pos += c.len_utf8();
            continue;
        }
        let (kind, end) = if bytes[pos].is_ascii_digit() {
            scan_number(bytes, pos)
        } else if c.is_alphabetic() {
            (TokenKind::Word, scan_word(text, pos))
        } else {
            (TokenKind::Punct(c), pos + c.len_utf8())
        };
        tokens.push(Token {
            kind,
            start: pos,
            end,
            spaced,
        });
        spaced = false;
        pos = end;
    }
    tokens
}

fn scan_word(text: &str, start: usize) -> usize {
    let mut end = start;
    let mut chars = text[start..].char_indices().peekable();
    while let Some((off, c)) = chars.next() {
        // "o'clock" is one word; a possessive "'s" is not part of "Friday's".
        let inner_apostrophe = (c == '\'' || c == '’')
            && chars.peek().is_some_and(|(_, n)| n.is_alphabetic())
            && !is_possessive(&text[start + off + c.len_utf8()..]);
        if c.is_alphabetic() || inner_apostrophe {
            end = start + off + c.len_utf8();
        } else {
            break;
        }
    }
    end
}

fn is_possessive(after_apostrophe: &str) -> bool {
    let mut rest = after_apostrophe.chars();
    matches!(rest.next(), Some('s' | 'S')) && !rest.next().is_some_and(char::is_alphabetic)
}

fn count_digits(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

/// Digits, then ",ddd" groups (only when the leading group has at most three digits), then an
/// optional ".d+" part.
fn scan_number(bytes: &[u8], start: usize) -> (TokenKind, usize) {
    let lead = count_digits(bytes, start);
    let mut end = start + lead;
    let mut plain = true;
    if lead <= 3 {
        while end + 4 <= bytes.len() && bytes[end] == b',' && count_digits(bytes, end + 1) == 3 {
            end += 4;
            plain = false;
        }
    }
    if end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit() {
        end += 1 + count_digits(bytes, end + 1);
        plain = false;
    }
    let digits = &bytes[start..end];
    let significant = digits.iter().filter(|b| b.is_ascii_digit()).count();
    let value = if significant > MAX_DIGITS {
        None
    } else {
        parse_digits(digits)
    };
    (TokenKind::Number { value, plain }, end)
}

fn parse_digits(digits: &[u8]) -> Option<f64> {
    let mut clean = [0u8; 32];
    let mut n = 0;
    for &b in digits.iter().filter(|&&b| b != b',') {
        *clean.get_mut(n)? = b;
        n += 1;
    }
    std::str::from_utf8(&clean[..n]).ok()?.parse().ok()
}

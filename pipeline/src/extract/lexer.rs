//! The single pass that splits a request into tokens for every rule of the extractor.
//!
//! Tokens are words (letters, with inner apostrophes), numbers (digits with valid thousands
//! groups and an optional decimal part) and single punctuation characters. Each token keeps
//! its byte span and whether whitespace precedes it, so rules can tell "5km" from "5 km".
//! Words are matched against an ASCII-lowercased copy of the text made once per request, in
//! which a few common misspellings ("fourty", "wendesday") read as spelt right.

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
    /// Where the word, lowercased and spelt right, is in [`Lexed::lower`]: the token's own
    /// span, or for a misspelt word ("fourty") its right spelling, appended after the text.
    word_start: usize,
    word_end: usize,
}

/// Numerals with more significant digits than this are identifiers, not quantities.
const MAX_DIGITS: usize = 15;

/// A tokenized request.
pub(crate) struct Lexed<'t> {
    pub text: &'t str,
    /// The text lowercased, then the right spellings of its misspelt words.
    lower: String,
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
        // Spelling first: every rule reads words through it.
        for t in lx.tokens.iter_mut() {
            if t.kind == TokenKind::Word
                && let Some(right) = respell(&lx.lower[t.start..t.end])
            {
                t.word_start = lx.lower.len();
                lx.lower.push_str(right);
                t.word_end = lx.lower.len();
            }
        }
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

    /// The lowercased word at `i`, spelt right ("fourty" reads "forty"), or `None` if `i`
    /// is not a word.
    #[inline]
    pub fn word(&self, i: usize) -> Option<&str> {
        let t = self.tokens.get(i)?;
        if t.kind != TokenKind::Word {
            return None;
        }
        Some(&self.lower[t.word_start..t.word_end])
    }

    /// Whether token `i` is the word `w` (lowercase).
    #[inline]
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
            word_start: pos,
            word_end: end,
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

/// Weekday and full month names, which [`respell`] corrects when one typo away.
const CALENDAR_NAMES: [&str; 16] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The set of letters of an ASCII lowercase word, one bit a letter.
const fn letter_set(w: &[u8]) -> u32 {
    let mut set = 0;
    let mut k = 0;
    while k < w.len() {
        set |= 1 << (w[k].wrapping_sub(b'a') & 31);
        k += 1;
    }
    set
}

/// The letter set of each of [`CALENDAR_NAMES`].
const CALENDAR_LETTERS: [u32; CALENDAR_NAMES.len()] = {
    let mut sets = [0; CALENDAR_NAMES.len()];
    let mut k = 0;
    while k < CALENDAR_NAMES.len() {
        sets[k] = letter_set(CALENDAR_NAMES[k].as_bytes());
        k += 1;
    }
    sets
};

/// The right spelling of a lowercased word that is a common misspelling, labelled as if spelt
/// right: a number word from a fixed list ("fourty", "ninty", "twelth"), or a weekday or full
/// month name with one typo ("wendesday", "thrusday", "novmber", "aprill": one letter added,
/// dropped, changed, or two neighbours swapped). Only words of six to ten letters are
/// compared with the names (so "june", "july" and "may" never are), and real words that
/// close to one are left alone ("sundae", "sundry", "Augusta", and plurals such as
/// "mondays").
fn respell(w: &str) -> Option<&'static str> {
    let b = w.as_bytes();
    // Every word corrected has five to ten letters; most words are shorter.
    if !(5..=10).contains(&b.len()) {
        return None;
    }
    if matches!(b[0], b'e' | b'f' | b'n' | b't') {
        let fixed = match w {
            "fourty" => Some("forty"),
            "ninty" | "nintey" => Some("ninety"),
            "ninteen" => Some("nineteen"),
            "eightteen" => Some("eighteen"),
            "twelth" => Some("twelfth"),
            "nineth" => Some("ninth"),
            "ninteenth" => Some("nineteenth"),
            "fourtieth" => Some("fortieth"),
            "nintieth" => Some("ninetieth"),
            _ => None,
        };
        if fixed.is_some() {
            return fixed;
        }
    }
    if b.len() < 6 {
        return None;
    }
    let mut set = 0;
    for &c in b {
        if !c.is_ascii_lowercase() {
            return None;
        }
        set |= 1 << (c - b'a');
    }
    // One edit changes at most one letter of the set each way: a cheap test before the
    // real one.
    let right = CALENDAR_NAMES
        .iter()
        .zip(CALENDAR_LETTERS)
        .find(|(name, letters)| {
            let name = name.as_bytes();
            name.len().abs_diff(b.len()) <= 1
                && at_most_one_bit(set & !letters)
                && at_most_one_bit(letters & !set)
                && !(b.len() == name.len() + 1 && b.starts_with(name) && b.ends_with(b"s"))
                && one_edit_apart(b, name)
        })
        .map(|(name, _)| *name)?;
    // Real words one edit from a name.
    (!matches!(w, "sundae" | "sundas" | "sundry" | "augusta" | "marche")).then_some(right)
}

fn at_most_one_bit(x: u32) -> bool {
    x & x.wrapping_sub(1) == 0
}

/// Whether `a` becomes `b` by exactly one insertion, deletion, substitution or swap of two
/// neighbouring letters (Damerau–Levenshtein distance 1).
fn one_edit_apart(a: &[u8], b: &[u8]) -> bool {
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[same..], &b[same..]);
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Greater => ra[1..] == *rb,
        std::cmp::Ordering::Less => *ra == rb[1..],
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
    }
}

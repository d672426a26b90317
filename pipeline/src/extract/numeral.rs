//! Numerals and ordinals, in digits and in English words.
//!
//! "42", "-5", "1,250", "19.99", "2.5k", "1.2 million", "forty-two", "a dozen",
//! "one hundred and twenty"; ordinals "3rd", "third", "twenty-first". Every other rule
//! (money, units, durations, times) starts from the numerals found here.

use super::lexer::{Lexed, TokenKind};

/// A number found in the text, spanning tokens `start..end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Numeral {
    pub value: f64,
    pub start: usize,
    pub end: usize,
}

/// All numerals, left to right, longest first at each position, never overlapping.
pub(crate) fn scan_numerals(lx: &Lexed) -> Vec<Numeral> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < lx.len() {
        match numeral_at(lx, i) {
            Some(n) => {
                i = n.end;
                found.push(n);
            }
            None => i += 1,
        }
    }
    found
}

/// All ordinals, left to right, never overlapping.
pub(crate) fn scan_ordinals(lx: &Lexed) -> Vec<Numeral> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < lx.len() {
        match ordinal_at(lx, i) {
            Some(n) => {
                i = n.end;
                found.push(n);
            }
            None => i += 1,
        }
    }
    found
}

/// The numeral starting exactly at token `i`.
pub(crate) fn numeral_at(lx: &Lexed, i: usize) -> Option<Numeral> {
    match lx.tokens.get(i)?.kind {
        TokenKind::Number { .. } => digits_numeral(lx, i),
        TokenKind::Punct('-') => negative_numeral(lx, i),
        TokenKind::Word => word_numeral(lx, i),
        TokenKind::Punct(_) => None,
    }
}

/// A cleaned-up value: `1.2 * 1e6` prints as 1200000, not 1199999.9999999998.
fn tidy(v: f64) -> f64 {
    let r = (v * 1e6).round() / 1e6;
    if (v - r).abs() <= 1e-9 * v.abs().max(1.0) {
        r
    } else {
        v
    }
}

/// "-5": a minus sign right before digits, not after another number ("100-25" is a range).
fn negative_numeral(lx: &Lexed, i: usize) -> Option<Numeral> {
    let after_number = i > 0 && matches!(lx.tokens[i - 1].kind, TokenKind::Number { .. });
    if after_number || !lx.tokens[i].spaced || !lx.glued(i + 1) {
        return None;
    }
    let n = digits_numeral(lx, i + 1)?;
    Some(Numeral {
        value: -n.value,
        start: i,
        end: n.end,
    })
}

/// Digits, with an optional multiplier: "2.5k", "5M", "1.2 million", "3 dozen".
fn digits_numeral(lx: &Lexed, i: usize) -> Option<Numeral> {
    let value = lx.number(i)?;
    let glued_to_word = i > 0 && lx.tokens[i].spaced.eq(&false) && lx.word(i - 1).is_some();
    if glued_to_word {
        // "A123", "Q3", "v2": part of an identifier, not a quantity.
        return None;
    }
    let mut end = i + 1;
    let mut value = value;
    if lx.glued(end) && lx.word(end).is_some() {
        if let Some(m) = suffix_multiplier(lx.raw(end)) {
            value *= m;
            end += 1;
        }
    } else if let Some(m) = lx.word(end).and_then(scale_word) {
        value *= m;
        end += 1;
    }
    Some(Numeral {
        value: tidy(value),
        start: i,
        end,
    })
}

/// A multiplier glued to digits: "2.5k", "5M", "3bn".
fn suffix_multiplier(raw: &str) -> Option<f64> {
    match raw {
        "k" | "K" => Some(1e3),
        "M" | "mn" => Some(1e6),
        "bn" => Some(1e9),
        _ => None,
    }
}

fn scale_word(w: &str) -> Option<f64> {
    match w {
        "hundred" => Some(1e2),
        "thousand" => Some(1e3),
        "million" | "millions" => Some(1e6),
        "billion" | "billions" => Some(1e9),
        "trillion" => Some(1e12),
        "dozen" => Some(12.0),
        _ => None,
    }
}

fn small_number(w: &str) -> Option<f64> {
    let v = match w {
        "zero" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    };
    Some(f64::from(v))
}

fn tens_number(w: &str) -> Option<f64> {
    let v = match w {
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    };
    Some(f64::from(v))
}

/// What the previous word of a word numeral was, to reject "one two" or "twenty thirty".
#[derive(Clone, Copy, PartialEq)]
enum Last {
    Nothing,
    Small,
    Tens,
    Hundred,
    Scale,
}

/// Numbers in words, read left to right without backtracking.
fn word_numeral(lx: &Lexed, i: usize) -> Option<Numeral> {
    let mut j = i;
    let mut current = 0.0;
    let mut total = 0.0;
    let mut last = Last::Nothing;
    let mut last_scale = f64::INFINITY;
    let mut end = i;
    if lx.is_word(i, "a") && lx.word(i + 1).and_then(scale_word).is_some() {
        // "a dozen", "a hundred", "a million".
        current = 1.0;
        last = Last::Small;
        j += 1;
    }
    while let Some(w) = lx.word(j) {
        if let Some(v) = small_number(w) {
            if matches!(last, Last::Small) || (last == Last::Tens && (v >= 10.0 || v == 0.0)) {
                break;
            }
            current += v;
            last = Last::Small;
        } else if let Some(v) = tens_number(w) {
            if matches!(last, Last::Small | Last::Tens) {
                break;
            }
            current += v;
            last = Last::Tens;
        } else if w == "hundred" {
            if !matches!(last, Last::Small) || current >= 100.0 {
                break;
            }
            current *= 100.0;
            last = Last::Hundred;
        } else if w == "dozen" {
            if !matches!(last, Last::Small) {
                break;
            }
            current *= 12.0;
            end = j + 1;
            break;
        } else if let Some(scale) = scale_word(w) {
            if current == 0.0 || scale >= last_scale {
                break;
            }
            total += current * scale;
            current = 0.0;
            last_scale = scale;
            last = Last::Scale;
        } else if w == "and" && matches!(last, Last::Hundred | Last::Scale) {
            let continues = lx
                .word(j + 1)
                .is_some_and(|n| small_number(n).is_some() || tens_number(n).is_some());
            if !continues {
                break;
            }
            j += 1;
            continue;
        } else {
            break;
        }
        j += 1;
        end = j;
        // "forty-two": a hyphen glued between the tens and the unit.
        if last == Last::Tens
            && lx.is_punct(j, '-')
            && lx.glued(j)
            && lx.glued(j + 1)
            && lx.word(j + 1).and_then(small_number).is_some()
        {
            j += 1;
        }
    }
    if end == i || (end == i + 1 && lx.is_word(i, "a")) {
        return None;
    }
    let (fraction, end) = spoken_decimals(lx, end);
    Some(Numeral {
        value: tidy(total + current + fraction),
        start: i,
        end,
    })
}

/// "point five", "point two five" after a word numeral: (the fraction, the new end).
fn spoken_decimals(lx: &Lexed, at: usize) -> (f64, usize) {
    if !lx.is_word(at, "point") {
        return (0.0, at);
    }
    let mut fraction = 0.0;
    let mut scale = 0.1;
    let mut j = at + 1;
    while let Some(d) = lx.word(j).and_then(small_number).filter(|d| *d < 10.0) {
        fraction += d * scale;
        scale /= 10.0;
        j += 1;
    }
    if j == at + 1 {
        (0.0, at)
    } else {
        (fraction, j)
    }
}

fn small_ordinal(w: &str) -> Option<f64> {
    let v = match w {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        "thirteenth" => 13,
        "fourteenth" => 14,
        "fifteenth" => 15,
        "sixteenth" => 16,
        "seventeenth" => 17,
        "eighteenth" => 18,
        "nineteenth" => 19,
        "twentieth" => 20,
        "thirtieth" => 30,
        "fortieth" => 40,
        "fiftieth" => 50,
        "sixtieth" => 60,
        "seventieth" => 70,
        "eightieth" => 80,
        "ninetieth" => 90,
        "hundredth" => 100,
        _ => return None,
    };
    Some(f64::from(v))
}

/// The ordinal starting exactly at token `i`: "3rd", "third", "twenty-first".
pub(crate) fn ordinal_at(lx: &Lexed, i: usize) -> Option<Numeral> {
    if let Some((n, _)) = lx.plain_int(i) {
        let suffixed = lx.glued(i + 1)
            && matches!(lx.word(i + 1), Some("st" | "nd" | "rd" | "th"))
            && !(i > 0 && lx.glued(i) && lx.word(i - 1).is_some());
        return suffixed.then_some(Numeral {
            value: f64::from(n),
            start: i,
            end: i + 2,
        });
    }
    let w = lx.word(i)?;
    if w == "second" && i > 0 && matches!(lx.word(i - 1), Some("per" | "a" | "each" | "every")) {
        // "per second" is a rate, not the ordinal 2.
        return None;
    }
    if let Some(v) = small_ordinal(w) {
        return Some(Numeral {
            value: v,
            start: i,
            end: i + 1,
        });
    }
    let tens = tens_number(w)?;
    let unit_at = if lx.is_punct(i + 1, '-') && lx.glued(i + 1) && lx.glued(i + 2) {
        i + 2
    } else {
        i + 1
    };
    let unit = lx
        .word(unit_at)
        .and_then(small_ordinal)
        .filter(|u| *u < 10.0)?;
    Some(Numeral {
        value: tens + unit,
        start: i,
        end: unit_at + 1,
    })
}

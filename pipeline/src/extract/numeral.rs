//! Numerals and ordinals, in digits and in English words.
//!
//! "42", "-5", "minus 3", "1,250", "19.99", "2.5k", "1.2 million", "forty-two", "a dozen",
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

/// The numeral starting exactly at token `i` (computed once per request by the lexer).
pub(crate) fn numeral_at(lx: &Lexed, i: usize) -> Option<Numeral> {
    lx.numeral(i)
}

/// The numeral starting exactly at token `i`, computed; [`numeral_at`] reads it from the
/// lexer's per-request table.
#[inline]
pub(crate) fn compute_numeral_at(lx: &Lexed, i: usize) -> Option<Numeral> {
    let n = match lx.tokens.get(i)?.kind {
        TokenKind::Number { .. } => digits_numeral(lx, i),
        TokenKind::Punct('-') => negative_numeral(lx, i),
        TokenKind::Word if matches!(lx.word(i), Some("minus" | "negative")) => {
            spoken_negative(lx, i)
        }
        TokenKind::Word => word_numeral(lx, i),
        TokenKind::Punct(_) => None,
    }?;
    (!pronoun_one(lx, &n)).then_some(n)
}

/// "minus 3", "negative twelve": a spoken sign, unless it follows a number or a closing
/// parenthesis, where it is the operator ("10 minus 4" is 10 and 4; Duckling reads -4, which
/// no calculator user means).
#[inline(never)]
fn spoken_negative(lx: &Lexed, i: usize) -> Option<Numeral> {
    if i > 0 && ends_operand(lx, i - 1) {
        return None;
    }
    let n = match lx.tokens.get(i + 1)?.kind {
        TokenKind::Number { .. } => digits_numeral(lx, i + 1)?,
        TokenKind::Word => word_numeral(lx, i + 1)?,
        TokenKind::Punct(_) => return None,
    };
    Some(Numeral {
        value: -n.value,
        start: i,
        end: n.end,
    })
}

/// Whether token `i` can end an arithmetic operand: digits, a number word, ")".
fn ends_operand(lx: &Lexed, i: usize) -> bool {
    match lx.tokens[i].kind {
        TokenKind::Number { .. } => true,
        TokenKind::Punct(c) => c == ')',
        TokenKind::Word => lx.word(i).is_some_and(|w| {
            small_number(w).is_some()
                || tens_number(w).is_some()
                || scale_word(w).is_some()
                || suffix_multiplier(lx.raw(i)).is_some()
        }),
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
    if house_number(lx, i) || identifier(lx, i) {
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

/// Digits that name rather than count: "#4412", "worker-3", "COVID-19" (glued to a "#" or
/// to a word by a hyphen), a version after a product name ("python 3.12", "version 2",
/// "iPhone 15", "upgrade node to 20.11"), a build or pull-request number ("build 77",
/// "PR 1187"), a status or error code ("error 404", "HTTP 500", "returns 502", "a 404
/// error"), and a long number after a noun that numbers things ("order 88231", "ticket
/// 10234") when no word after it says what it would count ("order 300 units" is a quantity).
fn identifier(lx: &Lexed, i: usize) -> bool {
    if i == 0 {
        return status_code(lx, i) && code_noun_after(lx, i + 1);
    }
    if !lx.tokens[i].spaced {
        return lx.is_punct(i - 1, '#')
            || (lx.is_punct(i - 1, '-')
                && !lx.tokens[i - 1].spaced
                && i >= 2
                && lx.word(i - 2).is_some());
    }
    if status_code(lx, i) && code_noun_after(lx, i + 1) {
        return true;
    }
    let Some(kind) = lx.word(i - 1).and_then(namer) else {
        return false;
    };
    match kind {
        Namer::Product => !super::measure::unit_follows(lx, i + 1),
        Namer::Series => nothing_counted_after(lx, i + 1),
        Namer::Reference => {
            lx.plain_int(i).is_some_and(|(_, digits)| digits >= 3)
                && nothing_counted_after(lx, i + 1)
        }
        Namer::StatusVerb => status_code(lx, i) && nothing_counted_after(lx, i + 1),
        Namer::Link(link) => {
            if !nothing_counted_after(lx, i + 1) || i < 2 {
                return false;
            }
            let is = |k: usize, want: Namer| lx.word(k).and_then(namer) == Some(want);
            match link {
                // "responded with 503".
                "with" => status_code(lx, i) && is(i - 2, Namer::StatusVerb),
                // "upgrade node to 20.11", "python from 3.11 to 3.12", "from node 18 to 20".
                _ => {
                    is(i - 2, Namer::Product)
                        || (link == "to"
                            && i >= 4
                            && lx.number(i - 2).is_some()
                            && (is(i - 3, Namer::Product)
                                || (lx.is_word(i - 3, "from") && is(i - 4, Namer::Product))))
                }
            }
        }
    }
}

/// What a word says of the number after it.
#[derive(Clone, Copy, PartialEq)]
enum Namer {
    /// A product, language or system, whose version follows ("python 3.12", "iPhone 15").
    Product,
    /// A noun that names one of a series by its number, however short ("build 77", "PR 12",
    /// "release 3"), or a status or error code ("error 404", "HTTP 500", "status code 201").
    Series,
    /// A noun followed by a reference number ("order 88231", "ticket 4521"); three digits at
    /// least ("ticket 12 is open" counts).
    Reference,
    /// A verb whose object is a status code ("returns 502").
    StatusVerb,
    /// "to", "from" or "with", which may link a version or a code to the word before.
    Link(&'static str),
}

/// One lookup for every word that can make the number after it a name.
fn namer(w: &str) -> Option<Namer> {
    Some(match w {
        "version" | "python" | "node" | "nodejs" | "java" | "ruby" | "php" | "perl" | "rust"
        | "kotlin" | "scala" | "typescript" | "ios" | "android" | "ubuntu" | "debian"
        | "fedora" | "windows" | "macos" | "kernel" | "postgres" | "postgresql" | "mysql"
        | "redis" | "django" | "rails" | "react" | "angular" | "gcc" | "clang" | "llvm"
        | "firmware" | "iphone" | "ipad" | "ipados" | "watchos" | "pixel" | "galaxy" | "xbox"
        | "playstation" | "chrome" | "firefox" | "safari" | "dotnet" | "docker" | "kubernetes"
        | "terraform" | "openssl" | "jdk" | "npm" | "pip" | "vue" | "nextjs" | "elasticsearch"
        | "kafka" | "nginx" | "centos" | "rhel" | "mongodb" | "mariadb" | "sqlite" | "gradle"
        | "webpack" | "tensorflow" | "pytorch" | "cuda" => Namer::Product,
        "build" | "pr" | "release" | "patch" | "sprint" | "rfc" | "pep" | "milestone" | "error"
        | "status" | "code" | "http" | "https" | "errno" => Namer::Series,
        "order" | "ticket" | "invoice" | "issue" | "incident" | "case" | "bug" | "job"
        | "account" | "ref" | "reference" | "id" | "tracking" | "confirmation" | "po" | "sku"
        | "serial" | "room" | "flight" => Namer::Reference,
        "return" | "returns" | "returned" | "returning" | "respond" | "responds" | "responded"
        | "responding" | "throw" | "throws" | "threw" | "throwing" => Namer::StatusVerb,
        "to" => Namer::Link("to"),
        "from" => Namer::Link("from"),
        "with" => Namer::Link("with"),
        _ => return None,
    })
}

/// A three-digit number in the range of HTTP status codes one reports (200–599; "returns
/// 100" is more likely a value than "100 Continue").
fn status_code(lx: &Lexed, i: usize) -> bool {
    lx.plain_int(i)
        .is_some_and(|(n, digits)| digits == 3 && (200..600).contains(&n))
}

/// "a 404 error", "a 503 response": a singular noun that makes the code before it a name
/// ("500 errors" counts them).
fn code_noun_after(lx: &Lexed, j: usize) -> bool {
    matches!(
        lx.word(j),
        Some("error" | "response" | "status" | "page" | "code")
    )
}

/// Whether the phrase ends at token `j`: the text ends, sentence punctuation, or a
/// closed-class word, so nothing there names what a number before it counts.
fn nothing_counted_after(lx: &Lexed, j: usize) -> bool {
    let Some(t) = lx.tokens.get(j) else {
        return true;
    };
    match t.kind {
        TokenKind::Punct(c) => matches!(c, ',' | '.' | '!' | '?' | ';' | ':' | ')' | '"'),
        TokenKind::Number { .. } => false,
        TokenKind::Word => matches!(
            lx.word(j),
            Some(
                "and"
                    | "or"
                    | "but"
                    | "is"
                    | "was"
                    | "has"
                    | "had"
                    | "for"
                    | "from"
                    | "to"
                    | "in"
                    | "on"
                    | "at"
                    | "by"
                    | "with"
                    | "please"
                    | "now"
                    | "then"
                    | "again"
                    | "instead"
                    | "when"
                    | "if"
                    | "once"
                    | "after"
                    | "before"
                    | "until"
                    | "since"
                    | "so"
                    | "because"
                    | "as"
                    | "yet"
                    | "still"
                    | "too"
                    | "also"
                    | "already"
                    | "today"
                    | "tomorrow"
                    | "tonight"
                    | "yesterday"
                    | "later"
                    | "soon"
                    | "asap"
            )
        ),
    }
}

/// "one" as a pronoun, not the number 1: "one of them", "which one", "this one", "the ninth
/// one", "a 16 inch one". Only the bare word; "one hundred" and "one day" are numbers.
fn pronoun_one(lx: &Lexed, n: &Numeral) -> bool {
    let i = n.start;
    if n.end != i + 1 || !lx.is_word(i, "one") {
        return false;
    }
    let of_them = lx.is_word(i + 1, "of")
        && matches!(
            lx.word(i + 2),
            Some(
                "them"
                    | "us"
                    | "you"
                    | "the"
                    | "these"
                    | "those"
                    | "my"
                    | "our"
                    | "your"
                    | "their"
                    | "his"
                    | "her"
                    | "its"
            )
        );
    if of_them || i == 0 {
        return of_them;
    }
    let Some(before) = lx.word(i - 1) else {
        return false;
    };
    let determiner = matches!(
        before,
        "which"
            | "the"
            | "this"
            | "that"
            | "each"
            | "every"
            | "any"
            | "another"
            | "no"
            | "either"
            | "neither"
            | "other"
            | "same"
    );
    // "the ninth one", "a 16 inch one": an ordinal or a measure is the adjective of a noun
    // left out, when nothing after "one" is counted.
    let adjective = small_ordinal(before).is_some()
        || (i >= 2 && lx.number(i - 2).is_some() && super::measure::unit_follows(lx, i - 1));
    determiner || (adjective && nothing_counted_after(lx, i + 1))
}

/// "221B Baker Street", "12A Main Road": digits glued to one capital letter and followed by a
/// capitalized name are a house or flat number, an identifier like "A123", not a quantity
/// ("512B" alone stays 512 bytes; "5M Users" is still five million).
fn house_number(lx: &Lexed, i: usize) -> bool {
    let letter = i + 1;
    lx.glued(letter)
        && lx.word(letter).is_some()
        && lx.raw(letter).len() == 1
        && lx.raw(letter).bytes().all(|b| b.is_ascii_uppercase())
        && suffix_multiplier(lx.raw(letter)).is_none()
        && lx.word(letter + 1).is_some()
        && lx
            .raw(letter + 1)
            .chars()
            .next()
            .is_some_and(char::is_uppercase)
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

/// Whether the word is a number below 100 in words ("seven", "twenty").
pub(crate) fn is_number_word(w: &str) -> bool {
    small_number(w).is_some() || tens_number(w).is_some()
}

/// Whether the word multiplies the number before it ("10 million", "3 dozen").
pub(crate) fn is_scale_word(w: &str) -> bool {
    scale_word(w).is_some()
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

/// The ordinal starting exactly at token `i` (computed once per request by the lexer).
pub(crate) fn ordinal_at(lx: &Lexed, i: usize) -> Option<Numeral> {
    lx.ordinal(i)
}

/// The ordinal starting exactly at token `i`, computed: "3rd", "third", "twenty-first".
#[inline]
pub(crate) fn compute_ordinal_at(lx: &Lexed, i: usize) -> Option<Numeral> {
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

//! Normalising a request before it is read: what a person adds around a request that
//! carries no meaning ("hey", "please", "can you tell me", a closing "?"), the tenant's
//! synonyms, typographic quotes and dashes, and numbers glued to their units ("5km").
//!
//! The result keeps the request's case (unit symbols need it: `MB` is not `Mb`); the
//! phrases are matched case-insensitively as whole words. Nothing here guesses: a word that
//! is not filler stays, and the grammar that reads the result must account for every word.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use crate::registry::Language;

/// Phrases that may open a request without meaning anything, tried repeatedly and longest
/// first ("hey, can you please tell me what is …").
const LEADING: &[&str] = &[
    "hey there",
    "hi there",
    "hello there",
    "hey",
    "hi",
    "hello",
    "yo",
    "ok so",
    "okay so",
    "ok",
    "okay",
    "so",
    "um",
    "uh",
    "hmm",
    "quick question",
    "question",
    "quick one",
    "please",
    "pls",
    "plz",
    "kindly",
    "can you please",
    "could you please",
    "would you please",
    "can you",
    "could you",
    "would you",
    "will you",
    "can u",
    "could u",
    "would you mind",
    "i need you to",
    "i need to know",
    "i need to",
    "i need",
    "i want to know",
    "i want to",
    "i want",
    "i'd like to know",
    "i would like to know",
    "i'd like to",
    "i would like to",
    "i'm wondering",
    "i was wondering",
    "i wonder",
    "do you know",
    "tell me",
    "let me know",
    "help me",
    "show me",
    "give me",
    "just",
    "quickly",
    "real quick",
    "calculate",
    "compute",
    "evaluate",
    "work out",
    "figure out",
    "find out",
    "find",
    "determine",
    "solve",
    "what is",
    "what's",
    "whats",
    "what are",
    "what's the result of",
    "what is the result of",
    "what is the value of",
    "do",
    "what's the value of",
    "what do you get if you",
    "what do you get when you",
    "what do i get if i",
    "what do i get when i",
    "what do you get if",
    "what does it come to if you",
    "how much is",
    "how much are",
    "how far is",
    "how long is",
    "how heavy is",
    "how hot is",
    "how cold is",
    "how big is",
    "how fast is",
    "which is",
    "which one is",
    "which number is",
    "which is the result of",
    "the result of",
    "the value of",
    "the answer to",
];

/// [`LEADING`] by first word, each list longest phrase first ("what is the result of"
/// wins over "what is"): a request is compared only with the phrases that start like it.
static LEADING_BY_FIRST_WORD: LazyLock<HashMap<&'static str, Vec<&'static str>>> =
    LazyLock::new(|| index_by(LEADING, |phrase| phrase.split(' ').next()));

/// [`TRAILING`] by last word, longest first.
static TRAILING_BY_LAST_WORD: LazyLock<HashMap<&'static str, Vec<&'static str>>> =
    LazyLock::new(|| index_by(TRAILING, |phrase| phrase.rsplit(' ').next()));

fn index_by(
    phrases: &[&'static str],
    key: impl Fn(&'static str) -> Option<&'static str>,
) -> HashMap<&'static str, Vec<&'static str>> {
    let mut index: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
    for phrase in phrases {
        if let Some(word) = key(phrase) {
            index.entry(word).or_default().push(phrase);
        }
    }
    for list in index.values_mut() {
        list.sort_by_key(|p| std::cmp::Reverse(p.len()));
    }
    index
}

/// The first (or last) word of `text`, lowercased into `buffer`: letters, digits and
/// apostrophes ("what's"), or one symbol ("=").
fn edge_word<'b>(text: &str, last: bool, buffer: &'b mut String) -> &'b str {
    buffer.clear();
    let is_word = |c: char| c.is_alphanumeric() || c == '\'';
    let word = if last {
        let start = text
            .char_indices()
            .rev()
            .find(|(_, c)| !is_word(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        &text[start..]
    } else {
        let end = text.find(|c: char| !is_word(c)).unwrap_or(text.len());
        &text[..end]
    };
    let word = match (word.is_empty(), last) {
        (false, _) => word,
        (true, true) => text
            .chars()
            .next_back()
            .map_or("", |c| &text[text.len() - c.len_utf8()..]),
        (true, false) => text.chars().next().map_or("", |c| &text[..c.len_utf8()]),
    };
    buffer.extend(word.chars().flat_map(char::to_lowercase));
    buffer
}

/// Phrases that may close a request: "… please", "… thanks", "… for me".
const TRAILING: &[&str] = &[
    "please",
    "pls",
    "plz",
    "thanks",
    "thank you",
    "thx",
    "cheers",
    "again",
    "for me",
    "real quick",
    "quickly",
    "exactly",
    "equals what",
    "as a decimal",
    "as a decimal number",
    "in decimal form",
    "in decimals",
    "equal what",
    "is what",
    "is equal to what",
    "comes to what",
    "=",
];

/// Characters that may sit at either end of a request or between words with no meaning.
fn is_edge_punctuation(c: char) -> bool {
    matches!(c, '?' | '.' | ',' | ':' | ';' | '…') || c.is_whitespace()
}

/// Drops edge punctuation, and a closing "!" unless it is a factorial ("5!").
fn trim_edges(text: &str) -> &str {
    let mut text = text.trim_matches(is_edge_punctuation);
    loop {
        let stripped = text
            .strip_suffix('!')
            .filter(|head| !head.ends_with(|c: char| c.is_ascii_digit() || c == ')'));
        match stripped {
            Some(head) => text = head.trim_matches(is_edge_punctuation),
            None => return text.trim_start_matches('!'),
        }
    }
}

/// The request as the grammar reads it.
pub(crate) fn normalize<'t>(text: &'t str, language: &Language) -> Cow<'t, str> {
    let mut text: Cow<'t, str> = Cow::Borrowed(text);
    if text.contains(['’', '‘', '“', '”', '–', '—', '\u{a0}']) {
        text = Cow::Owned(
            text.replace(['’', '‘'], "'")
                .replace(['“', '”'], "\"")
                .replace(['–', '—'], "-")
                .replace('\u{a0}', " "),
        );
    }
    for (phrase, meaning) in &language.synonyms {
        if let Some(replaced) = replace_phrase(&text, phrase, meaning) {
            text = Cow::Owned(replaced);
        }
    }
    // "which is biggest: 0.45, 0.5": a colon after a word only introduces what follows.
    if text.contains(": ") {
        text = Cow::Owned(text.replace(": ", " "));
    }
    let trimmed = strip_edges(&text, language);
    let unglued = unglue_units(trimmed);
    match (unglued, text) {
        (Some(owned), _) => Cow::Owned(owned),
        (None, Cow::Borrowed(original)) => Cow::Borrowed(strip_edges(original, language)),
        (None, Cow::Owned(owned)) => Cow::Owned(strip_edges(&owned, language).to_string()),
    }
}

/// Drops filler phrases and punctuation at both ends, repeatedly; "what … is" around a
/// request ("can you tell me what 56 plus 89 is") goes too.
pub(crate) fn strip_edges<'t>(mut text: &'t str, language: &Language) -> &'t str {
    loop {
        if let Some(inner) = strip_word_prefix(text, "what")
            && let Some(core) = ["is", "equals", "would be", "comes to", "makes"]
                .iter()
                .find_map(|end| strip_word_suffix(inner.trim(), end))
        {
            text = core.trim();
        }
        let before = text.len();
        text = trim_edges(text);
        let mut word = String::new();
        let leading = LEADING_BY_FIRST_WORD.get(edge_word(text, false, &mut word));
        for phrase in language
            .fillers
            .iter()
            .map(String::as_str)
            .chain(leading.into_iter().flatten().copied())
        {
            if let Some(rest) = strip_word_prefix(text, phrase) {
                text = rest;
                break;
            }
        }
        text = trim_edges(text);
        let trailing = TRAILING_BY_LAST_WORD.get(edge_word(text, true, &mut word));
        for phrase in language
            .fillers
            .iter()
            .map(String::as_str)
            .chain(trailing.into_iter().flatten().copied())
        {
            if let Some(rest) = strip_word_suffix(text, phrase) {
                text = rest;
                break;
            }
        }
        if text.len() == before {
            return text;
        }
    }
}

/// `text` without `phrase` at its start, when the phrase ends at a word boundary and
/// something follows it.
fn strip_word_prefix<'t>(text: &'t str, phrase: &str) -> Option<&'t str> {
    // Most phrases differ in the first letter: the cheap test first (every request is
    // tried against every phrase).
    let first = *text.as_bytes().first()?;
    if !phrase.as_bytes().first()?.eq_ignore_ascii_case(&first) {
        return None;
    }
    let head = text.get(..phrase.len())?;
    if !head.eq_ignore_ascii_case(phrase) {
        return None;
    }
    let rest = &text[phrase.len()..];
    let boundary = rest
        .chars()
        .next()
        .is_some_and(|c| !c.is_alphanumeric() && c != '\'');
    (boundary && !trim_edges(rest).is_empty()).then_some(rest)
}

fn strip_word_suffix<'t>(text: &'t str, phrase: &str) -> Option<&'t str> {
    let last = *text.as_bytes().last()?;
    if !phrase.as_bytes().last()?.eq_ignore_ascii_case(&last) {
        return None;
    }
    let at = text.len().checked_sub(phrase.len())?;
    let tail = text.get(at..)?;
    if !tail.eq_ignore_ascii_case(phrase) {
        return None;
    }
    let rest = &text[..at];
    let boundary = phrase.starts_with(|c: char| !c.is_alphanumeric())
        || rest
            .chars()
            .next_back()
            .is_some_and(|c| !c.is_alphanumeric());
    (boundary && !trim_edges(rest).is_empty()).then_some(rest)
}

/// Every whole-word occurrence of `phrase` (lowercase) replaced by `meaning`, if any.
fn replace_phrase(text: &str, phrase: &str, meaning: &str) -> Option<String> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() || !lower.contains(phrase) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut found = false;
    for (at, _) in lower.match_indices(phrase) {
        if at < last {
            continue;
        }
        let before = lower[..at].chars().next_back();
        let after = lower[at + phrase.len()..].chars().next();
        let word_edge = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if word_edge(before) && word_edge(after) {
            out.push_str(&text[last..at]);
            out.push_str(meaning);
            last = at + phrase.len();
            found = true;
        }
    }
    found.then(|| {
        out.push_str(&text[last..]);
        out
    })
}

/// "5km" → "5 km", "100°F" → "100 °F", "2.5L" → "2.5 L": a number glued to letters that
/// name a unit. Ordinals ("5th") and exponents ("1e5") are not units and stay glued.
fn unglue_units(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    for i in 1..bytes.len() {
        let glued = bytes[i - 1].is_ascii_digit()
            && (bytes[i].is_ascii_alphabetic() || text[i..].starts_with('°'));
        if !glued {
            continue;
        }
        let end = text[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | '?' | '!' | ';' | ')'))
            .map_or(text.len(), |n| i + n);
        let word = text[i..end].trim_end_matches('.');
        let is_unit = !matches!(
            word.to_ascii_lowercase().as_str(),
            "st" | "nd" | "rd" | "th" | "e" | "x" | "k"
        ) && crate::tools::units::find(word).is_some();
        if is_unit {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 4));
            out.push_str(&text[copied..i]);
            out.push(' ');
            copied = i;
        }
    }
    out.map(|mut out| {
        out.push_str(&text[copied..]);
        out
    })
}

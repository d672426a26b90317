//! The English words the calculator understands: number words, the leading phrasing it
//! strips ("what is", "calculate"), and the full word list used to tell an unknown word
//! ("zorp") from a known word in the wrong place.

/// Phrases that may open a request without being part of the expression, tried in order
/// and repeatedly ("please calculate", "can you tell me what is").
pub(crate) const LEADING_PHRASES: &[&[&str]] = &[
    &["please"],
    &["can", "you"],
    &["could", "you"],
    &["would", "you"],
    &["tell", "me"],
    &["give", "me"],
    &["calculate"],
    &["compute"],
    &["evaluate"],
    &["solve"],
    &["work", "out"],
    &["figure", "out"],
    &["find"],
    &["what", "is"],
    &["what", "are"],
    &["what's"],
    &["what’s"],
    &["whats"],
    &["how", "much", "is"],
];

/// Words that only name the previous result: "that", "it", "the result".
pub(crate) const REFERENCE_WORDS: &[&str] = &["that", "it", "this", "result", "answer", "ans"];

/// The value of a number word below one hundred ("seven", "forty"), if it is one.
pub(crate) fn small_number(word: &str) -> Option<u32> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(value) = ONES.iter().position(|w| *w == word) {
        return Some(value as u32);
    }
    TENS.iter()
        .position(|w| *w == word)
        .map(|i| (i as u32 + 2) * 10)
}

/// Words that multiply what comes before them: "hundred", "dozen", "million".
pub(crate) fn multiplier(word: &str) -> Option<u64> {
    match word {
        "dozen" => Some(12),
        "hundred" => Some(100),
        "thousand" => Some(1_000),
        "million" => Some(1_000_000),
        "billion" => Some(1_000_000_000),
        "trillion" => Some(1_000_000_000_000),
        _ => None,
    }
}

/// Whether the word can begin a number written in words.
pub(crate) fn starts_number_words(word: &str) -> bool {
    small_number(word).is_some() || multiplier(word).is_some()
}

/// Every word with a meaning somewhere in the grammar, besides number words.
const KNOWN_WORDS: &[&str] = &[
    "a",
    "added",
    "away",
    "again",
    "between",
    "bigger",
    "biggest",
    "decreased",
    "difference",
    "down",
    "factorial",
    "fewer",
    "greater",
    "greatest",
    "halve",
    "higher",
    "highest",
    "increased",
    "larger",
    "largest",
    "lesser",
    "least",
    "is",
    "its",
    "lowest",
    "median",
    "more",
    "or",
    "product",
    "quotient",
    "ratio",
    "reduced",
    "remainder",
    "smaller",
    "smallest",
    "subtracted",
    "take",
    "taken",
    "than",
    "up",
    "when",
    "with",
    "absolute",
    "add",
    "and",
    "average",
    "avg",
    "by",
    "ceil",
    "ceiling",
    "cube",
    "cubed",
    "decimal",
    "decimals",
    "digits",
    "divide",
    "divided",
    "double",
    "dp",
    "floor",
    "from",
    "half",
    "integer",
    "last",
    "less",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "minus",
    "mod",
    "modulo",
    "multiplied",
    "multiply",
    "nearest",
    "negate",
    "negative",
    "number",
    "of",
    "over",
    "percent",
    "place",
    "places",
    "plus",
    "pow",
    "power",
    "previous",
    "quadruple",
    "raise",
    "raised",
    "root",
    "round",
    "rounded",
    "sqrt",
    "square",
    "squared",
    "subtract",
    "sum",
    "the",
    "thrice",
    "times",
    "to",
    "total",
    "triple",
    "twice",
    "value",
    "whole",
    "x",
];

/// Whether the calculator knows the word at all (so a misplaced one is not "unknown").
pub(crate) fn is_known(word: &str) -> bool {
    is_expression_word(word) || LEADING_PHRASES.iter().any(|phrase| phrase.contains(&word))
}

/// Whether the word belongs to an expression (not merely to the phrasing around one).
pub(crate) fn is_expression_word(word: &str) -> bool {
    starts_number_words(word) || KNOWN_WORDS.contains(&word) || REFERENCE_WORDS.contains(&word)
}

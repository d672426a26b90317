//! Splitting a request into clauses, one per step.
//!
//! Separators are ";", the end of a sentence, "then" (also "and then", ", then"), "after
//! that", and "and" or "," where the next clause starts with an operation verb, so "add 2
//! and 3" stays one clause while "subtract 250 from 1000 and divide the result by 5" becomes
//! two. After a comma an operation word also starts a clause ("5 plus 3, times 2"), which
//! is how people mark that the first part is done.

/// Verbs that start a new step after "and" or ",". Arithmetic verbs that also read as
/// adjectives or nouns ("double", "sum") are left out: "add 2 and double 3" is one clause.
const STEP_VERBS: &[&str] = &[
    "add",
    "subtract",
    "multiply",
    "divide",
    "round",
    "convert",
    "calculate",
    "compute",
    "raise",
    "process",
    "email",
    "send",
    "generate",
    "create",
    "make",
    "fetch",
    "get",
    "notify",
    "save",
    "export",
    "import",
    "upload",
    "download",
    "schedule",
    "book",
    "print",
    "store",
    "update",
    "delete",
    "check",
    "search",
    "translate",
    "summarize",
    "summarise",
    "format",
    "post",
    "publish",
    "archive",
    "sort",
    "filter",
    "list",
    "report",
    "look",
    "open",
    "close",
    "start",
    "stop",
    "run",
    "forward",
    "share",
    "post",
    "text",
    "call",
    "remind",
    "log",
    "halve",
    "increase",
    "decrease",
    "reduce",
];

/// Words that start a new step after a comma (besides the step verbs): operations on the
/// result so far.
const COMMA_OPERATIONS: &[&str] = &[
    "times",
    "plus",
    "minus",
    "divided",
    "multiplied",
    "squared",
    "cubed",
    "double",
    "triple",
    "take",
    "square",
    "cube",
    "x",
    "over",
    "less",
    "finally",
    "next",
    "now",
    "find",
    "get",
];

/// A whitespace-separated chunk of the text, with its byte range.
struct Chunk<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

impl Chunk<'_> {
    /// The chunk without surrounding punctuation, for comparing with a word.
    fn bare(&self) -> &str {
        self.text
            .trim_matches(|c: char| matches!(c, ',' | ':' | '.' | '!' | '?' | '"' | '\''))
    }

    fn is(&self, word: &str) -> bool {
        self.bare().eq_ignore_ascii_case(word)
    }

    fn is_step_verb(&self) -> bool {
        STEP_VERBS.iter().any(|verb| self.is(verb))
    }

    fn starts_operation(&self) -> bool {
        self.is_step_verb() || COMMA_OPERATIONS.iter().any(|word| self.is(word))
    }
}

/// The request's clauses in order, trimmed and without their separators.
pub(crate) fn clauses(text: &str) -> Vec<&str> {
    let mut clauses = Vec::new();
    let mut offset = 0;
    for segment in text.split_inclusive(is_sentence_end) {
        let body = segment.strip_suffix(is_sentence_end).unwrap_or(segment);
        split_segment(text, offset, body, &mut clauses);
        offset += segment.len();
    }
    clauses
}

/// ";" always ends a clause; so does a sentence's "." or "?" (a decimal point has no
/// space after it, so "3.5" stays whole).
fn is_sentence_end(c: char) -> bool {
    c == ';'
}

/// Splits one segment at "then" and "after that", and at "and" / "," before a step verb.
fn split_segment<'t>(text: &'t str, offset: usize, segment: &str, clauses: &mut Vec<&'t str>) {
    let chunks = chunks(segment, offset);
    let mut first = 0;
    let mut i = 0;
    while i < chunks.len() {
        let chunk = &chunks[i];
        let next = chunks.get(i + 1);
        let verb_follows = next.is_some_and(Chunk::is_step_verb);
        let sentence_ends = chunk.text.len() > 1
            && (chunk.text.ends_with('.') || chunk.text.ends_with('?'))
            && next.is_some();
        if chunk.is("then") || (chunk.is("and") && verb_follows) {
            push_clause(text, &chunks[first..i], clauses);
            first = i + 1;
        } else if chunk.is("after") && next.is_some_and(|n| n.is("that") || n.is("this")) {
            push_clause(text, &chunks[first..i], clauses);
            first = i + 2;
            i += 1;
        } else if chunk.is("afterwards") || chunk.is("finally") {
            push_clause(text, &chunks[first..i], clauses);
            first = i + 1;
        } else if sentence_ends
            || (chunk.text.ends_with(',') && next.is_some_and(Chunk::starts_operation))
        {
            push_clause(text, &chunks[first..=i], clauses);
            first = i + 1;
        }
        i += 1;
    }
    push_clause(text, &chunks[first..], clauses);
}

fn chunks(segment: &str, offset: usize) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = None;
    for (i, c) in segment.char_indices().chain([(segment.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                chunks.push(Chunk {
                    text: &segment[s..i],
                    start: offset + s,
                    end: offset + i,
                });
                start = None;
            }
            _ => {}
        }
    }
    chunks
}

/// Adds the clause spanning `chunks`, minus a dangling "and" ("… and then …") and
/// trailing punctuation; empty clauses are dropped.
fn push_clause<'t>(text: &'t str, mut chunks: &[Chunk<'_>], clauses: &mut Vec<&'t str>) {
    if chunks.last().is_some_and(|c| c.is("and")) {
        chunks = &chunks[..chunks.len() - 1];
    }
    let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
        return;
    };
    let clause = text[first.start..last.end]
        .trim_end_matches(|c: char| matches!(c, ',' | '.' | '!' | '?') || c.is_whitespace())
        .trim_start_matches(|c: char| matches!(c, ',' | ':') || c.is_whitespace());
    if !clause.is_empty() {
        clauses.push(clause);
    }
}

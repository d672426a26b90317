//! Splitting a request into clauses, one per step.
//!
//! Separators are ";", "then" (also "and then", ", then"), and "and" or "," where the next
//! clause starts with an operation verb, so "add 2 and 3" stays one clause while
//! "subtract 250 from 1000 and divide the result by 5" becomes two.

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
}

/// The request's clauses in order, trimmed and without their separators.
pub(crate) fn clauses(text: &str) -> Vec<&str> {
    let mut clauses = Vec::new();
    let mut offset = 0;
    for segment in text.split(';') {
        split_segment(text, offset, segment, &mut clauses);
        offset += segment.len() + 1;
    }
    clauses
}

/// Splits one ";"-free segment at "then", and at "and" / "," before a step verb.
fn split_segment<'t>(text: &'t str, offset: usize, segment: &str, clauses: &mut Vec<&'t str>) {
    let chunks = chunks(segment, offset);
    let mut first = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let verb_follows = chunks.get(i + 1).is_some_and(Chunk::is_step_verb);
        if chunk.is("then") || (chunk.is("and") && verb_follows) {
            push_clause(text, &chunks[first..i], clauses);
            first = i + 1;
        } else if chunk.text.ends_with(',') && verb_follows {
            push_clause(text, &chunks[first..=i], clauses);
            first = i + 1;
        }
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
        .trim_end_matches(|c: char| matches!(c, ',' | '.' | '!' | '?') || c.is_whitespace());
    if !clause.is_empty() {
        clauses.push(clause);
    }
}

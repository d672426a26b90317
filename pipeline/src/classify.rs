//! Classification: which tool or workflow serves a request.
//!
//! The first stage after decoding. One scan of the text with each of the compiled registry's
//! `RegexSet` shards finds every matching pattern; the winner is the highest priority, then the
//! longest match, then the earliest in definition order. When nothing matches, the result
//! lists a few close candidates (definitions sharing the most words with the request) so the
//! `unclassified` answer can suggest what was meant. Extraction and decomposition come next
//! and read the matched target from the [`Classification`].

use std::collections::HashMap;

use crate::registry::{CompiledRegistry, Definitions, Target};

/// Most candidates an unclassified result lists, whatever the routing config says.
const MAX_CANDIDATES: usize = 10;

/// What classification found for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    Matched {
        /// `name:pattern-index` of the winning pattern, e.g. `arithmetic:0`.
        rule: String,
        /// Index of that pattern in [`CompiledRegistry::rules`], for captures and explanation.
        rule_index: usize,
        target: Target,
        priority: i32,
    },
    Unclassified {
        /// Names of up to `routing.unclassified_candidates` definitions close to the request.
        candidates: Vec<String>,
    },
}

/// Classifies `text` against one registry snapshot.
pub fn classify(registry: &CompiledRegistry, text: &str) -> Classification {
    let rules = registry.rules();
    // (priority, match length, rule index) of the best so far.
    let mut best: Option<(i32, usize, usize)> = None;
    for index in registry.matching_rules(text) {
        let rule = &rules[index];
        if best.is_some_and(|(priority, _, _)| rule.priority < priority) {
            continue;
        }
        // The set says the pattern matches; measure it only when it could still win.
        let length = rule
            .regex()
            .and_then(|r| r.find(text))
            .map_or(0, |m| m.len());
        let better = match best {
            None => true,
            // Then the longer match, then the earlier definition.
            Some((priority, best_length, best_index)) => {
                (rule.priority, length, std::cmp::Reverse(index))
                    > (priority, best_length, std::cmp::Reverse(best_index))
            }
        };
        if better {
            best = Some((rule.priority, length, index));
        }
    }
    match best {
        Some((priority, _, index)) => Classification::Matched {
            rule: rules[index].id.clone(),
            rule_index: index,
            target: rules[index].target,
            priority,
        },
        None => {
            let limit = (registry.routing.unclassified_candidates as usize).min(MAX_CANDIDATES);
            Classification::Unclassified {
                candidates: registry.candidates().closest(text, limit),
            }
        }
    }
}

/// Words of each definition's name, description and examples, for suggesting candidates.
#[derive(Debug, Default)]
pub(crate) struct CandidateIndex {
    /// Names of the definitions that have patterns, in the registry's definition order.
    names: Vec<String>,
    /// Word to the definitions using it, with the weight of the use (a name word counts more).
    words: HashMap<String, Vec<(u32, u32)>>,
}

/// Words that say nothing about what a request is for.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "give",
    "how", "in", "into", "is", "it", "me", "my", "of", "on", "or", "please", "show", "tell",
    "that", "the", "then", "this", "to", "what", "when", "with", "you", "your",
];

/// Lowercase words of `text` without stop words and numbers, plural `s` dropped.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 2 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_string(),
            _ => w,
        })
}

impl CandidateIndex {
    pub(crate) fn build(definitions: &Definitions) -> Self {
        let mut index = CandidateIndex::default();
        let tools = definitions
            .tools
            .iter()
            .map(|t| (&t.name, &t.patterns, &t.description, &t.examples));
        let workflows = definitions
            .workflows
            .iter()
            .map(|w| (&w.name, &w.patterns, &w.description, &w.examples));
        for (name, patterns, description, examples) in tools.chain(workflows) {
            // A definition without patterns (a workflow step) cannot be asked for directly.
            if patterns.is_empty() {
                continue;
            }
            let ordinal = index.names.len() as u32;
            index.names.push(name.clone());
            let mut weights: HashMap<String, u32> = HashMap::new();
            for word in words(name) {
                weights.insert(word, 3);
            }
            let texts = std::iter::once(description).chain(examples.iter());
            for word in texts.flat_map(|t| words(t)) {
                weights.entry(word).or_insert(1);
            }
            for (word, weight) in weights {
                index.words.entry(word).or_default().push((ordinal, weight));
            }
        }
        index
    }

    /// Up to `limit` definition names sharing the most (weighted) words with `text`; ties go
    /// to definition order.
    pub(crate) fn closest(&self, text: &str, limit: usize) -> Vec<String> {
        let mut scores: HashMap<u32, u32> = HashMap::new();
        let mut seen: Vec<String> = Vec::new();
        for word in words(text) {
            if seen.contains(&word) {
                continue;
            }
            if let Some(uses) = self.words.get(&word) {
                for &(ordinal, weight) in uses {
                    *scores.entry(ordinal).or_default() += weight;
                }
            }
            seen.push(word);
        }
        let mut ranked: Vec<(u32, u32)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(limit)
            .map(|(ordinal, _)| self.names[ordinal as usize].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_words_drop_stop_words_numbers_and_plurals() {
        let got: Vec<String> = words("Convert the 5 Reports, please: kms & Miles!").collect();
        assert_eq!(got, ["convert", "report", "kms", "mile"]);
    }
}

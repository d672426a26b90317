//! The `lookup` kind: a key → value table kept in the config repository ("what is the
//! capital of France", "price of SKU-1042").
//!
//! The key is found in the request text case-insensitively: by default as a whole word or
//! phrase anywhere in the text (the leftmost key, and the longest one there: "new york city"
//! before "new york"); or the whole text must be a key (`match: exact`); or it is the body of
//! an extracted entity of one dimension (`key_entity: email`). All keys are compiled into one
//! regex when the registry version is built, so a run is one scan of the text.

use std::collections::{BTreeMap, HashMap};

use regex::{Regex, RegexBuilder};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Tool, ToolContext, ToolError, ToolOutput, ToolSpecError};
use crate::extract::Dimension;

/// `kind: lookup`.
///
/// ```yaml
/// tool:
///   kind: lookup
///   table: { France: Paris, Japan: Tokyo, "United Kingdom": London }
///   match: phrase                # phrase (default) or exact
///   not_found: "I only know the capitals of France, Japan and the United Kingdom."
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSpec {
    /// Key → value (text or numbers); keys match case-insensitively, with any run of
    /// spaces as one.
    #[serde(deserialize_with = "super::number::scalar_map")]
    pub table: BTreeMap<String, String>,
    /// How the key is found in the text.
    #[serde(default, rename = "match")]
    pub match_mode: KeyMatch,
    /// Take the key from entities of this dimension instead of the text.
    #[serde(default)]
    pub key_entity: Option<Dimension>,
    /// The error message when no key is found.
    #[serde(default)]
    pub not_found: Option<String>,
}

/// How a lookup finds its key in the request text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyMatch {
    /// A key anywhere in the text, as whole words.
    #[default]
    Phrase,
    /// The whole text (without closing punctuation) is the key.
    Exact,
}

/// Largest compiled key regex, in bytes; a table this big belongs in a database.
const MAX_REGEX_BYTES: usize = 64 << 20;

/// A compiled `lookup` tool.
#[derive(Debug, Clone)]
pub struct LookupTable {
    /// Normalized key → (key as written, value).
    entries: HashMap<String, (String, String)>,
    /// Every key, longest first, for `KeyMatch::Phrase`.
    keys: Option<Regex>,
    key_entity: Option<Dimension>,
    not_found: String,
}

impl LookupTable {
    pub fn new(spec: &LookupSpec) -> Result<Self, ToolSpecError> {
        if spec.table.is_empty() {
            return Err(ToolSpecError::new("lookup", "table", "is empty"));
        }
        let mut entries = HashMap::with_capacity(spec.table.len());
        for (key, value) in &spec.table {
            let normalized = normalize(key);
            if normalized.is_empty() {
                return Err(ToolSpecError::new("lookup", "table", "has an empty key"));
            }
            if let Some((other, _)) = entries.insert(normalized, (key.clone(), value.clone())) {
                return Err(ToolSpecError::new(
                    "lookup",
                    format!("table.{key}"),
                    format!("is the same key as '{other}' (keys ignore case and spacing)"),
                ));
            }
        }
        let keys = match (spec.match_mode, spec.key_entity) {
            (KeyMatch::Phrase, None) => Some(key_regex(entries.keys())?),
            _ => None,
        };
        Ok(LookupTable {
            entries,
            keys,
            key_entity: spec.key_entity,
            not_found: spec
                .not_found
                .clone()
                .unwrap_or_else(|| "no entry of the lookup table matches the request".into()),
        })
    }

    fn get(&self, written: &str) -> Option<&(String, String)> {
        self.entries.get(&normalize(written))
    }
}

/// One regex that finds any key as whole words, longest keys first.
fn key_regex<'k>(keys: impl Iterator<Item = &'k String>) -> Result<Regex, ToolSpecError> {
    let mut keys: Vec<&String> = keys.collect();
    keys.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    let alternatives: Vec<String> = keys
        .iter()
        .map(|key| {
            let words: Vec<String> = key.split(' ').map(regex::escape).collect();
            let starts_word = key.starts_with(|c: char| c.is_alphanumeric() || c == '_');
            let ends_word = key.ends_with(|c: char| c.is_alphanumeric() || c == '_');
            format!(
                "{}{}{}",
                if starts_word { r"\b" } else { "" },
                words.join(r"\s+"),
                if ends_word { r"\b" } else { "" }
            )
        })
        .collect();
    RegexBuilder::new(&format!("(?:{})", alternatives.join("|")))
        .case_insensitive(true)
        .size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|e| ToolSpecError::new("lookup", "table", format!("cannot be compiled: {e}")))
}

/// Lowercase, with runs of whitespace as one space and closing punctuation dropped.
fn normalize(text: &str) -> String {
    let text = text.trim().trim_end_matches(['.', '?', '!']);
    let mut normalized = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !normalized.is_empty() {
            normalized.push(' ');
        }
        normalized.extend(word.chars().flat_map(char::to_lowercase));
    }
    normalized
}

impl Tool for LookupTable {
    fn run(&self, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        if ctx.text.trim().is_empty() {
            return Err(ToolError::Empty);
        }
        let found = match (self.key_entity, &self.keys) {
            (Some(dim), _) => ctx
                .entities
                .iter()
                .filter(|entity| entity.dim == dim)
                .find_map(|entity| self.get(&entity.body)),
            (None, Some(keys)) => keys.find(ctx.text).and_then(|m| self.get(m.as_str())),
            (None, None) => self.get(ctx.text),
        };
        let (key, value) = found.ok_or_else(|| ToolError::NotFound {
            message: self.not_found.clone(),
        })?;
        Ok(ToolOutput {
            value: Decimal::from_str_exact(value.trim()).ok(),
            unit: None,
            answer: value.clone(),
            data: Some(serde_json::json!({ "key": key, "value": value })),
        })
    }
}

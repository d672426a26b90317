//! Scoring extractions against a labelled set (`benches/data/extract_eval.jsonl`).
//!
//! One JSON object per line: `{"text", "ref_time", "split"?, "entities": [...]}`. An
//! extracted entity matches a labelled one when dim, start, end and value are all equal;
//! a time's `values` list is left out of the comparison (Duckling fills it with alternative
//! readings). The same rule scores Duckling in `benches/duckling_baseline.py`.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;

use super::{Entity, ExtractOptions, extract};

/// One labelled request.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalCase {
    pub text: String,
    pub ref_time: String,
    #[serde(default)]
    pub split: Option<String>,
    pub entities: Vec<Value>,
}

impl EvalCase {
    pub fn is_heldout(&self) -> bool {
        self.split.as_deref() == Some("heldout")
    }

    /// Options that resolve times against this case's reference time, in UTC.
    pub fn options(&self) -> Result<ExtractOptions, String> {
        let reference_time = DateTime::parse_from_rfc3339(&self.ref_time)
            .map_err(|e| format!("bad ref_time {:?}: {e}", self.ref_time))?;
        Ok(ExtractOptions {
            reference_time,
            tz: chrono_tz::UTC,
            dims: None,
        })
    }
}

/// Parses the JSON-lines file, skipping blank lines.
pub fn parse_cases(jsonl: &str) -> Result<Vec<EvalCase>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

/// True/false positives and false negatives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub true_pos: usize,
    pub false_pos: usize,
    pub false_neg: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Overall and per-dimension counts.
#[derive(Debug, Clone, Default)]
pub struct Score {
    pub all: Counts,
    pub per_dim: BTreeMap<String, Counts>,
    /// Human-readable misses and spurious entities, for failure messages.
    pub errors: Vec<String>,
}

/// The part of an entity that must match: (dim, start, end, value without `values`).
fn match_key(e: &Value) -> (String, u64, u64, Value) {
    let mut value = e.get("value").cloned().unwrap_or(Value::Null);
    if let Value::Object(m) = &mut value {
        m.remove("values");
    }
    (
        e.get("dim")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        e.get("start").and_then(Value::as_u64).unwrap_or(u64::MAX),
        e.get("end").and_then(Value::as_u64).unwrap_or(u64::MAX),
        value,
    )
}

impl Score {
    /// Adds one request's labelled (`expected`) and extracted (`got`) entities.
    pub fn add(&mut self, text: &str, expected: &[Value], got: &[Value]) {
        self.add_without(text, expected, got, &[]);
    }

    /// Like [`Score::add`], leaving out the `skipped` dimensions: their labels, and extracted
    /// entities that overlap those labels (to compare with an extractor lacking those dims).
    pub fn add_without(&mut self, text: &str, expected: &[Value], got: &[Value], skipped: &[&str]) {
        let is_skipped = |e: &Value| skipped.contains(&e["dim"].as_str().unwrap_or(""));
        let span = |e: &Value| {
            (
                e["start"].as_u64().unwrap_or(0),
                e["end"].as_u64().unwrap_or(0),
            )
        };
        let skipped_spans: Vec<_> = expected
            .iter()
            .filter(|e| is_skipped(e))
            .map(span)
            .collect();
        let overlaps_skipped = |e: &Value| {
            let (s, t) = span(e);
            skipped_spans.iter().any(|(a, b)| s < *b && *a < t)
        };
        let mut unmatched: Vec<_> = got
            .iter()
            .filter(|g| !is_skipped(g) && !overlaps_skipped(g))
            .map(match_key)
            .collect();
        for e in expected.iter().filter(|e| !is_skipped(e)) {
            let key = match_key(e);
            let counts = self.per_dim.entry(key.0.clone()).or_default();
            if let Some(pos) = unmatched.iter().position(|g| *g == key) {
                unmatched.swap_remove(pos);
                counts.true_pos += 1;
                self.all.true_pos += 1;
            } else {
                counts.false_neg += 1;
                self.all.false_neg += 1;
                self.errors.push(format!("missed   {text:?}: {e}"));
            }
        }
        for g in unmatched {
            self.per_dim.entry(g.0.clone()).or_default().false_pos += 1;
            self.all.false_pos += 1;
            self.errors.push(format!(
                "spurious {text:?}: {} {}..{} {}",
                g.0, g.1, g.2, g.3
            ));
        }
    }

    /// A table of per-dimension precision, recall and F1.
    pub fn report(&self) -> String {
        let mut out = format!(
            "all: P {:.3} R {:.3} F1 {:.3} ({:?})\n",
            self.all.precision(),
            self.all.recall(),
            self.all.f1(),
            self.all
        );
        for (dim, c) in &self.per_dim {
            out += &format!(
                "  {dim:<16} P {:.3} R {:.3} F1 {:.3}  tp {} fp {} fn {}\n",
                c.precision(),
                c.recall(),
                c.f1(),
                c.true_pos,
                c.false_pos,
                c.false_neg
            );
        }
        out
    }
}

/// Our extractor's entities as JSON, as they would be sent to a client.
pub fn to_json(entities: &[Entity]) -> Vec<Value> {
    entities
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect()
}

/// Scores our extractor over the cases selected by `keep`.
pub fn score_extractor(
    cases: &[EvalCase],
    keep: impl Fn(&EvalCase) -> bool,
) -> Result<Score, String> {
    score_extractor_without(cases, keep, &[])
}

/// Scores our extractor over the cases selected by `keep`, leaving out the `skipped` dims.
pub fn score_extractor_without(
    cases: &[EvalCase],
    keep: impl Fn(&EvalCase) -> bool,
    skipped: &[&str],
) -> Result<Score, String> {
    let mut score = Score::default();
    for case in cases.iter().filter(|c| keep(c)) {
        let got = to_json(&extract(&case.text, &case.options()?));
        score.add_without(&case.text, &case.entities, &got, skipped);
    }
    Ok(score)
}

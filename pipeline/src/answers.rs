//! Scoring the fast path's answers against a labelled set (`benches/data/answers_*.jsonl`).
//!
//! One JSON object per line: `{"category", "text", "value", "unit", "tolerance"}`, each
//! request with one exact answer. A request is answered *right* when the result is `ok`,
//! its value is within the tolerance of the label, and its unit is the labelled one (units
//! are compared by what they mean, so "metre" and "m" agree; a label with a unit the table
//! does not know, such as "people", checks the value only, and a label with no unit wants
//! none of the table's: "7 millilitre" for a count of cans is wrong). It is *wrong*
//! when the result is `ok` with another value or unit, and *declined* otherwise
//! (`unclassified`, an error, or no value). Wrong answers are the ones that matter most: a
//! declined request says so, a wrong one misleads.
//!
//! The bench `benches/answers.rs` prints the table; `tests/answers.rs` holds the floor.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::fast_path::FastPath;
use crate::model::{Request, RequestResult, Status};
use crate::tools::units;

/// One labelled request.
#[derive(Debug, Clone, Deserialize)]
pub struct AnswerCase {
    pub category: String,
    pub text: String,
    pub value: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub tolerance: String,
}

/// How one request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Right,
    Wrong,
    Declined,
}

/// Reads a JSON-lines set; blank lines are skipped.
pub fn parse_cases(jsonl: &str) -> Result<Vec<AnswerCase>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Scores one result against its label.
pub fn score(case: &AnswerCase, result: &RequestResult) -> Outcome {
    let Some(value) = result
        .value
        .as_deref()
        .filter(|_| result.status == Status::Ok)
    else {
        return Outcome::Declined;
    };
    let (Ok(actual), Ok(expected)) = (Decimal::from_str(value), Decimal::from_str(&case.value))
    else {
        return Outcome::Wrong;
    };
    let tolerance = Decimal::from_str(&case.tolerance).unwrap_or_default();
    let value_right = (actual - expected).abs() <= tolerance;
    if value_right && unit_agrees(&case.unit, result.unit.as_deref()) {
        Outcome::Right
    } else {
        Outcome::Wrong
    }
}

/// Whether the answer's unit is the labelled one; see the module head.
fn unit_agrees(expected: &str, actual: Option<&str>) -> bool {
    if expected.trim().is_empty() {
        return actual.and_then(units::find).is_none();
    }
    let Some(wanted) = units::find(expected) else {
        return true;
    };
    actual
        .and_then(units::find)
        .is_some_and(|found| found.name == wanted.name)
}

/// Right, wrong and declined counts of one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub right: usize,
    pub wrong: usize,
    pub declined: usize,
}

impl Tally {
    pub fn total(&self) -> usize {
        self.right + self.wrong + self.declined
    }

    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Right => self.right += 1,
            Outcome::Wrong => self.wrong += 1,
            Outcome::Declined => self.declined += 1,
        }
    }
}

/// One case with its result and outcome, for a report of what went wrong.
#[derive(Debug, Clone)]
pub struct Scored {
    pub case: AnswerCase,
    pub result: RequestResult,
    pub outcome: Outcome,
}

/// A whole set's scores, by category (and in total under `"all"`).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub by_category: BTreeMap<String, Tally>,
    pub all: Tally,
    pub scored: Vec<Scored>,
}

/// Answers every case, each as a request of its own (no session), with `fast_path`.
pub fn run(fast_path: &mut FastPath, cases: &[AnswerCase]) -> Report {
    let mut report = Report::default();
    for (i, case) in cases.iter().enumerate() {
        let request = Request {
            id: format!("answers-{i}"),
            tenant: "main".into(),
            session_id: None,
            text: case.text.clone(),
            submitted_at: 0,
            reply_topic: None,
            headers: Default::default(),
        };
        let result = fast_path.process(&request);
        let outcome = score(case, &result);
        report
            .by_category
            .entry(case.category.clone())
            .or_default()
            .add(outcome);
        report.all.add(outcome);
        report.scored.push(Scored {
            case: case.clone(),
            result,
            outcome,
        });
    }
    report
}

impl Report {
    /// The table the README carries: right / wrong / declined per category.
    pub fn table(&self) -> String {
        let mut out = String::from("| category | right | wrong | declined | right % |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
        let rows = self
            .by_category
            .iter()
            .map(|(name, tally)| (name.as_str(), tally))
            .chain([("all", &self.all)]);
        for (name, tally) in rows {
            let percent = if tally.total() == 0 {
                0.0
            } else {
                100.0 * tally.right as f64 / tally.total() as f64
            };
            out.push_str(&format!(
                "| {name} | {} | {} | {} | {percent:.1} |\n",
                tally.right, tally.wrong, tally.declined
            ));
        }
        out
    }
}

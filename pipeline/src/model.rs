//! The records that flow through Volcano: a [`Request`] in, a [`RequestResult`] out.
//!
//! These are the in-process shapes of the Avro records in `schemas/` (`Request.avsc`,
//! `Result.avsc`). Field names match the schemas exactly so that the connectors can map them
//! with serde; the stages never see bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A short text request, as produced to `volcano.requests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Unique id chosen by the producer; results are keyed and deduplicated by it.
    pub id: String,
    /// Tenant whose registry serves the request (`main` when none is given).
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Conversation the request belongs to, so "multiply that by 2" can refer to the last answer.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The request text, e.g. "Calculate 42 + 58".
    pub text: String,
    /// When the producer submitted the request, milliseconds since the Unix epoch.
    #[serde(default)]
    pub submitted_at: i64,
    /// Topic the result should also be produced to, besides `volcano.results`.
    #[serde(default)]
    pub reply_topic: Option<String>,
    /// Free-form headers carried through to the result's audit trail.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

pub fn default_tenant() -> String {
    "main".to_string()
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Answered; `value`/`answer` hold the answer.
    Ok,
    /// The request was understood but could not be answered; `error_kind` says why.
    Error,
    /// No tool or workflow matched the request.
    Unclassified,
    /// Taken on the durable path; the final result follows when the workflow ends.
    Accepted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Unclassified => "unclassified",
            Status::Accepted => "accepted",
        }
    }
}

/// One step of a request's plan: which tool ran, on what, and what it gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// Position in the plan, from 0.
    pub index: i32,
    /// Tool that executes the step (e.g. `calculator`).
    pub tool: String,
    /// What the step does, e.g. `add` or `convert`.
    pub operation: String,
    /// Inputs as text; `$0`, `$1`, ... refer to earlier steps' outputs, `$prev` to the session's
    /// previous answer.
    pub inputs: Vec<String>,
    /// The step's output once executed.
    pub output: Option<String>,
}

/// Time spent in one stage, for the result's timings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageTiming {
    pub stage: String,
    pub micros: i64,
}

/// The answer to one request, as produced to `volcano.results` keyed by `request_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestResult {
    pub request_id: String,
    pub tenant: String,
    pub status: Status,
    /// Exact decimal value where the answer is numeric, e.g. "100" or "3.11".
    pub value: Option<String>,
    /// Unit of `value`, e.g. "mile"; none for plain numbers.
    pub unit: Option<String>,
    /// Human-readable answer or explanation.
    pub answer: String,
    pub plan: Vec<PlanStep>,
    /// Rule (tool or workflow pattern) that classified the request.
    pub matched_rule: Option<String>,
    /// Tool or workflow that served the request.
    pub tool: Option<String>,
    /// Route taken: `fast` or `durable`, with the reason after a colon.
    pub route: Option<String>,
    /// Registry commit whose definitions produced this result.
    pub registry_commit: String,
    pub timings: Vec<StageTiming>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    /// Workflow id when the request went durable.
    pub workflow_id: Option<String>,
    /// For a durable result: the tenant's registry commit when the workflow ended. It differs
    /// from `registry_commit` (whose definitions the workflow ran) when a commit landed while
    /// the workflow was running.
    #[serde(default)]
    pub current_commit: Option<String>,
    /// When the result was produced, milliseconds since the Unix epoch.
    pub produced_at: i64,
}

impl RequestResult {
    /// A result with nothing filled in but identity and status.
    pub fn new(request: &Request, status: Status, registry_commit: &str) -> Self {
        RequestResult {
            request_id: request.id.clone(),
            tenant: request.tenant.clone(),
            status,
            value: None,
            unit: None,
            answer: String::new(),
            plan: Vec::new(),
            matched_rule: None,
            tool: None,
            route: None,
            registry_commit: registry_commit.to_string(),
            timings: Vec::new(),
            error_kind: None,
            error_message: None,
            workflow_id: None,
            current_commit: None,
            produced_at: 0,
        }
    }

    /// An error result that says what is wrong.
    pub fn error(request: &Request, registry_commit: &str, kind: &str, message: String) -> Self {
        let mut r = RequestResult::new(request, Status::Error, registry_commit);
        r.answer = message.clone();
        r.error_kind = Some(kind.to_string());
        r.error_message = Some(message);
        r
    }
}

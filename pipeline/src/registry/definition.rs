//! The typed shapes of `tools/*.yaml` and `workflows/*.yaml` (format version 1).
//!
//! These are plain serde records with `deny_unknown_fields`; the checks that need more than a
//! type (name syntax, bounds, references, pattern syntax) live in `load`. A tool's
//! kind-specific part is kept as a [`ToolBody`] (its `kind` plus the rest of the mapping),
//! checked by `build_tool` against the tool kinds' typed spec (`crate::tools::ToolSpec`).

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// The only definition format version this build reads.
pub const DEFINITION_VERSION: u32 = 1;
/// Lowest and highest `priority` a tool or workflow may have.
pub const MIN_PRIORITY: i32 = -1000;
pub const MAX_PRIORITY: i32 = 1000;

/// The builtin tool kinds a definition may name.
pub const TOOL_KINDS: [&str; 8] = [
    "calculator",
    "unit_convert",
    "currency",
    "datetime",
    "lookup",
    "template",
    "transform",
    "http",
];

/// A tool: one builtin kind with its parameters, and the patterns that route requests to it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolDef {
    /// Format version; must be 1.
    pub version: u32,
    /// Unique among the tenant's tools and workflows; `^[a-z0-9][a-z0-9_-]*$`.
    pub name: String,
    /// One sentence for people (and for suggesting candidates when nothing matches).
    #[serde(default)]
    pub description: String,
    /// Regular expressions (case-insensitive unless they say `(?-i)`); any match routes here.
    /// A tool with no patterns is only reachable as a workflow step.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Higher wins when several definitions match.
    #[serde(default)]
    pub priority: i32,
    /// Run this tool as a durable workflow rather than on the fast path.
    #[serde(default)]
    pub durable: bool,
    /// Requests this tool is meant for; tests check that each classifies to it.
    #[serde(default)]
    pub examples: Vec<String>,
    /// The kind and its parameters.
    pub tool: ToolBody,
    /// Path of the file the definition came from (not part of the format).
    #[serde(skip)]
    pub source: String,
}

/// A multi-step durable job. Workflows always take the durable route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDef {
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub patterns: Vec<String>,
    #[serde(default)]
    pub priority: i32,
    /// Requests this workflow is meant for; tests check that each classifies to it.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Run in order; a failed step runs the compensations of the steps before it, newest first.
    pub steps: Vec<Step>,
    #[serde(skip)]
    pub source: String,
}

/// One step of a workflow. It is also part of a durable job's input (serialized), so a
/// running workflow keeps the steps it started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique within the workflow; later steps refer to its output by it.
    pub name: String,
    /// Name of the tool that runs the step.
    pub tool: String,
    /// The tool's input: literal values, or strings referring to the request and earlier
    /// steps (e.g. `"{{ request.text }}"`, `"{{ steps.extract.output }}"`).
    #[serde(default)]
    pub input: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Longest one attempt may take.
    #[serde(default = "default_step_timeout_ms")]
    pub timeout_ms: u64,
    /// Longest silence from a running attempt before it counts as failed; none for short steps.
    #[serde(default)]
    pub heartbeat_ms: Option<u64>,
    /// Run the step's tool as a Temporal *local* activity (in the worker that runs the
    /// workflow, recorded as a marker: no round trip through the server's task queue) or as
    /// a regular activity. Unset: local when the tool runs in-process (every kind but `http`)
    /// and the step has no heartbeat; see [`Step::runs_local`].
    #[serde(default)]
    pub local: Option<bool>,
    /// Tool that undoes this step when a later step fails.
    #[serde(default)]
    pub compensation: Option<String>,
    /// Wait for a named signal (e.g. an approval) before running the step.
    #[serde(default)]
    pub wait_for_signal: Option<SignalWait>,
    /// Condition under which the step runs, e.g. `steps.lookup.output.amount > 100`;
    /// the step always runs when none is given.
    #[serde(default)]
    pub when: Option<String>,
    /// Where the step's `tool:` and `compensation:` values are written (line, column), for
    /// diagnostics (not part of the format).
    #[serde(skip)]
    pub(crate) tool_at: (usize, usize),
    #[serde(skip)]
    pub(crate) compensation_at: (usize, usize),
}

impl Step {
    /// Whether `tool` (this step's tool or its compensation, of kind `kind`) runs as a local
    /// activity: as `local:` says, else when the tool is in-process and nothing heartbeats.
    /// A local activity has no heartbeat and no task queue of its own; a slow or external
    /// call (`http`) is better as a regular activity, which any worker may pick up and which
    /// Temporal times out on its own.
    pub fn runs_local(&self, kind: Option<&str>) -> bool {
        self.local
            .unwrap_or(self.heartbeat_ms.is_none() && kind != Some("http"))
    }
}

fn default_step_timeout_ms() -> u64 {
    30_000
}

/// How a failed step attempt is retried (Temporal's retry policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Wait before the first retry.
    pub initial_interval_ms: u64,
    /// Factor by which the wait grows after each retry (at least 1).
    pub backoff: f64,
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// Error kinds that fail the step at once.
    pub non_retryable: Vec<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_interval_ms: 1_000,
            backoff: 2.0,
            max_attempts: 3,
            non_retryable: Vec::new(),
        }
    }
}

/// A named signal a step waits for, and how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalWait {
    pub name: String,
    /// The step (and so the workflow) fails when no signal came in this time.
    #[serde(default = "default_signal_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_signal_timeout_ms() -> u64 {
    24 * 60 * 60 * 1000
}

/// The kind-specific part of a tool definition: `kind` and the rest of the `tool:` mapping.
///
/// Kept as JSON while the file is parsed so that a problem in the parameters is reported by
/// `build_tool` with the file's line; [`ToolBody::spec`] gives the typed spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolBody {
    pub kind: String,
    /// Every other key of the mapping, as a JSON object.
    pub params: serde_json::Value,
}

impl ToolBody {
    /// The mapping as written, `kind` included, e.g. to deserialize a typed spec from it.
    pub fn to_value(&self) -> serde_json::Value {
        let mut map = match &self.params {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        map.insert(
            "kind".to_string(),
            serde_json::Value::String(self.kind.clone()),
        );
        serde_json::Value::Object(map)
    }
}

impl<'de> Deserialize<'de> for ToolBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let kind = match map.remove("kind") {
            Some(serde_json::Value::String(kind)) => kind,
            Some(other) => {
                return Err(de::Error::custom(format!(
                    "tool `kind` must be a string, found {other}"
                )));
            }
            None => return Err(de::Error::missing_field("kind")),
        };
        Ok(ToolBody {
            kind,
            params: serde_json::Value::Object(map),
        })
    }
}

/// Checks that a tool's kind-specific part parses as its kind's typed spec and builds into a
/// runnable tool (parameters in range, templates and jq programs compile, URLs parse).
pub(crate) fn build_tool(body: &ToolBody) -> Result<(), String> {
    if !TOOL_KINDS.contains(&body.kind.as_str()) {
        return Err(format!(
            "unknown tool kind `{}`; expected one of: {}",
            body.kind,
            TOOL_KINDS.join(", ")
        ));
    }
    let spec = body.spec()?;
    crate::tools::build(&spec)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl ToolBody {
    /// The typed spec of this tool's kind.
    pub fn spec(&self) -> Result<crate::tools::ToolSpec, String> {
        serde_json::from_value(self.to_value())
            .map_err(|e| format!("invalid `{}` tool parameters: {e}", self.kind))
    }
}

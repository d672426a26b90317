//! The durable path's pure half: the job a workflow run carries, and how its steps' inputs and
//! conditions are evaluated.
//!
//! When the router sends a request down the durable path, [`DurableJob::new`] freezes what the
//! run needs from the registry snapshot that routed it: the workflow's steps, the definitions
//! of every tool its steps and compensations use, the tenant's allowed hosts and the registry
//! commit. A running workflow therefore never sees a later commit (Temporal replays it from
//! this input), new requests get the newest definitions, and a Temporal worker needs no
//! registry of its own. The connectors crate's `durable` module is the Temporal side: the
//! generic workflow that walks these steps, and the activity that runs one with
//! [`StepTool::run`].
//!
//! A step's `input` maps names to literals or to strings with `{{ path }}` placeholders; a
//! `when` condition is `path`, or `path <op> literal` with `==`, `!=`, `>`, `>=`, `<`, `<=`.
//! Paths start at `request` (`id`, `tenant`, `text`, `session_id`, `submitted_at`, `date`),
//! `entities` (the first entity of each dimension, e.g. `entities.number.value`), `captures`
//! (named groups of the pattern that matched) or `steps.<name>` (`output`, `answer`) of an
//! earlier step. A path that leads nowhere is `null`; a placeholder that is the whole string
//! keeps its JSON type.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::extract::{self, ExtractOptions};
use crate::model::{PlanStep, Request, RequestResult, Status};
use crate::registry::{CompiledRegistry, RetryPolicy, Step, Target};
use crate::tools::{self, Tool, ToolContext, ToolError, ToolServices, ToolSpec};

/// Everything one workflow run needs, fixed when the request was routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DurableJob {
    pub request: Request,
    /// The workflow (or durable tool) that serves the request.
    pub definition: String,
    /// Registry commit that routed the request; its definitions are the ones that run.
    pub registry_commit: String,
    /// Pattern that classified the request (`name:index`).
    pub matched_rule: String,
    /// Why the request went durable.
    pub route: String,
    pub steps: Vec<Step>,
    /// Tool definitions (`kind` and parameters) of every step and compensation, by name.
    pub tools: BTreeMap<String, Value>,
    /// Named groups of the matched pattern.
    pub captures: BTreeMap<String, String>,
    /// Hosts the tenant's `http` tools may reach.
    pub allowed_hosts: Vec<String>,
}

/// Why a job could not be made from a registry snapshot (a definition refers to a missing
/// tool: validation prevents it, so this is defensive).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct JobError(pub String);

impl DurableJob {
    /// The job for `request`, routed by `registry` to `target` through the pattern
    /// `rule_index` (named groups of that pattern become `captures`).
    pub fn new(
        request: &Request,
        registry: &CompiledRegistry,
        target: Target,
        rule_index: Option<usize>,
        route: &str,
    ) -> Result<DurableJob, JobError> {
        let steps = match target {
            Target::Workflow(i) => registry
                .workflow(i)
                .ok_or_else(|| JobError(format!("workflow #{i} is not in the registry")))?
                .steps
                .clone(),
            Target::Tool(i) => {
                let tool = registry
                    .tool(i)
                    .ok_or_else(|| JobError(format!("tool #{i} is not in the registry")))?;
                vec![single_step(&tool.name)]
            }
        };
        let mut tools = BTreeMap::new();
        for name in steps
            .iter()
            .flat_map(|s| std::iter::once(&s.tool).chain(s.compensation.as_ref()))
        {
            let Some(Target::Tool(i)) = registry.find(name) else {
                return Err(JobError(format!("step tool `{name}` is not defined")));
            };
            let def = registry.tool(i).expect("found above");
            tools.insert(name.clone(), def.tool.to_value());
        }
        let mut captures = BTreeMap::new();
        if let Some(regex) = rule_index
            .and_then(|i| registry.rules().get(i))
            .and_then(|r| r.regex())
            && let Some(caps) = regex.captures(&request.text)
        {
            for name in regex.capture_names().flatten() {
                if let Some(m) = caps.name(name) {
                    captures.insert(name.to_string(), m.as_str().to_string());
                }
            }
        }
        Ok(DurableJob {
            request: request.clone(),
            definition: registry.target_name(target).to_string(),
            registry_commit: registry.commit.clone(),
            matched_rule: rule_index
                .and_then(|i| registry.rules().get(i))
                .map(|r| r.id.clone())
                .unwrap_or_default(),
            route: route.to_string(),
            steps,
            tools,
            captures,
            allowed_hosts: registry.security.allowed_hosts.clone(),
        })
    }

    /// When the request was submitted (its `submitted_at`, or the epoch when unset).
    pub fn submitted_at(&self) -> DateTime<FixedOffset> {
        Utc.timestamp_millis_opt(self.request.submitted_at)
            .single()
            .unwrap_or_default()
            .fixed_offset()
    }

    /// The values paths resolve against before any step ran; [`Scope::record`] adds each
    /// step's output as it completes (the request's entities are extracted once).
    pub fn scope(&self) -> Scope {
        let submitted = self.submitted_at();
        let entities = extract::extract(
            &self.request.text,
            &ExtractOptions {
                reference_time: submitted,
                tz: chrono_tz::UTC,
                dims: None,
            },
        );
        let mut by_dim = Map::new();
        for e in &entities {
            by_dim
                .entry(e.dim.as_str().to_string())
                .or_insert_with(|| serde_json::to_value(&e.value).unwrap_or(Value::Null));
        }
        // "The request's date": the first date it names, else the day it was submitted.
        let date = by_dim
            .get("time")
            .and_then(|t| t.get("value"))
            .and_then(Value::as_str)
            .and_then(|s| s.get(..10))
            .map(str::to_string)
            .unwrap_or_else(|| submitted.format("%Y-%m-%d").to_string());
        Scope(json!({
            "request": {
                "id": self.request.id,
                "tenant": self.request.tenant,
                "text": self.request.text,
                "session_id": self.request.session_id,
                "submitted_at": submitted.to_rfc3339(),
                "date": date,
            },
            "entities": by_dim,
            "captures": self.captures,
            "steps": {},
        }))
    }
}

/// What a workflow's paths resolve against: the request, its entities and captures, and the
/// outputs of the steps done so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope(Value);

impl Scope {
    /// Makes a completed step's `output` and `answer` visible to later steps.
    pub fn record(&mut self, step: &str, out: &StepOutput) {
        self.0["steps"][step] = json!({ "output": out.output, "answer": out.answer });
    }

    pub fn value(&self) -> &Value {
        &self.0
    }
}

/// The one step a tool marked `durable` runs as.
fn single_step(tool: &str) -> Step {
    Step {
        name: tool.to_string(),
        tool: tool.to_string(),
        input: BTreeMap::new(),
        retry: RetryPolicy::default(),
        timeout_ms: 30_000,
        heartbeat_ms: None,
        local: None,
        compensation: None,
        wait_for_signal: None,
        when: None,
        tool_at: (0, 0),
        compensation_at: (0, 0),
    }
}

/// A step's input or condition refers to something that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

/// The step's input with every placeholder resolved against `scope`.
pub fn render_input(input: &BTreeMap<String, Value>, scope: &Value) -> Result<Value, MappingError> {
    let mut out = Map::new();
    for (key, value) in input {
        out.insert(key.clone(), render_value(value, scope)?);
    }
    Ok(Value::Object(out))
}

fn render_value(value: &Value, scope: &Value) -> Result<Value, MappingError> {
    Ok(match value {
        Value::String(s) => render_string(s, scope)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, scope)?)))
                .collect::<Result<_, MappingError>>()?,
        ),
        other => other.clone(),
    })
}

/// The pieces of a string: literal text and `{{ path }}` placeholders.
enum Piece<'a> {
    Text(&'a str),
    Path(&'a str),
}

fn pieces(s: &str) -> Result<Vec<Piece<'_>>, MappingError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| MappingError(format!("`{s}`: a `{{{{` is never closed")))?;
        let path = after[..close].trim();
        check_path_syntax(path).map_err(|e| MappingError(format!("`{s}`: {e}")))?;
        out.push(Piece::Path(path));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn render_string(s: &str, scope: &Value) -> Result<Value, MappingError> {
    let pieces = pieces(s)?;
    if let [Piece::Path(path)] = pieces.as_slice() {
        return Ok(resolve(path, scope).clone());
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Path(path) => match resolve(path, scope) {
                Value::Null => {}
                Value::String(v) => out.push_str(v),
                other => out.push_str(&other.to_string()),
            },
        }
    }
    Ok(Value::String(out))
}

const ROOTS: [&str; 4] = ["request", "entities", "captures", "steps"];

fn check_path_syntax(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("an empty `{{ }}`".into());
    }
    let mut segments = path.split('.');
    let root = segments.next().unwrap_or_default();
    if !ROOTS.contains(&root) {
        return Err(format!(
            "`{path}` must start with one of {}",
            ROOTS.join(", ")
        ));
    }
    for segment in segments {
        let ok = !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(format!("`{path}` has an invalid segment `{segment}`"));
        }
    }
    Ok(())
}

static NULL: Value = Value::Null;

/// The value at a dotted path; numeric segments index arrays; `null` where it leads nowhere.
fn resolve<'a>(path: &str, scope: &'a Value) -> &'a Value {
    let mut at = scope;
    for segment in path.split('.') {
        at = match at {
            Value::Object(map) => map.get(segment).unwrap_or(&NULL),
            Value::Array(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .unwrap_or(&NULL),
            _ => &NULL,
        };
    }
    at
}

/// A step's `when`: a path that must be truthy, or a comparison with a literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    path: String,
    test: Option<(Op, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, MappingError> {
        let text = text.trim();
        // Two-character operators first, so `>=` is not read as `>`.
        for (symbol, op) in [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
        ] {
            if let Some(at) = text.find(symbol) {
                let path = text[..at].trim();
                let literal = text[at + symbol.len()..].trim();
                check_path_syntax(path).map_err(|e| MappingError(format!("`{text}`: {e}")))?;
                let value = parse_literal(literal).ok_or_else(|| {
                    MappingError(format!(
                        "`{text}`: `{literal}` is not a number, a quoted string, true, false or null"
                    ))
                })?;
                return Ok(Condition {
                    path: path.to_string(),
                    test: Some((op, value)),
                });
            }
        }
        check_path_syntax(text).map_err(|e| MappingError(format!("`{text}`: {e}")))?;
        Ok(Condition {
            path: text.to_string(),
            test: None,
        })
    }

    /// The path the condition reads.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn holds(&self, scope: &Value) -> Result<bool, MappingError> {
        let value = resolve(&self.path, scope);
        let Some((op, literal)) = &self.test else {
            return Ok(truthy(value));
        };
        match op {
            Op::Eq => Ok(loosely_equal(value, literal)),
            Op::Ne => Ok(!loosely_equal(value, literal)),
            _ => {
                let (Some(a), Some(b)) = (number(value), number(literal)) else {
                    return Err(MappingError(format!(
                        "`{}` is {value}, which cannot be compared with {literal}",
                        self.path
                    )));
                };
                Ok(match op {
                    Op::Gt => a > b,
                    Op::Ge => a >= b,
                    Op::Lt => a < b,
                    _ => a <= b,
                })
            }
        }
    }
}

fn parse_literal(text: &str) -> Option<Value> {
    match text {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "null" => return Some(Value::Null),
        _ => {}
    }
    if let Some(inner) = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')))
    {
        return Some(Value::String(inner.to_string()));
    }
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(|n| json!(n))
}

/// Numbers, and strings that hold one (an HTTP API may send amounts as strings).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Checks a workflow step's mapping and condition against the steps before it: placeholders
/// parse and start at a known root, and `steps.<name>` names an earlier step. Returns
/// messages for the registry's diagnostics.
pub fn check_step_mapping(step: &Step, earlier: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut paths = Vec::new();
    for value in step.input.values() {
        collect_paths(value, &mut paths, &mut problems);
    }
    if let Some(when) = &step.when {
        match Condition::parse(when) {
            Ok(c) => paths.push(c.path.clone()),
            Err(e) => problems.push(format!("`when` {e}")),
        }
    }
    for path in paths {
        let mut segments = path.split('.');
        if segments.next() == Some("steps") {
            match segments.next() {
                Some(name) if earlier.contains(&name) => {}
                Some(name) => problems.push(format!(
                    "`{path}` refers to step `{name}`, which does not run before `{}`",
                    step.name
                )),
                None => problems.push(format!("`{path}` names no step")),
            }
        }
    }
    problems
}

fn collect_paths(value: &Value, paths: &mut Vec<String>, problems: &mut Vec<String>) {
    match value {
        Value::String(s) => match pieces(s) {
            Ok(pieces) => paths.extend(pieces.into_iter().filter_map(|p| match p {
                Piece::Path(p) => Some(p.to_string()),
                Piece::Text(_) => None,
            })),
            Err(e) => problems.push(format!("input {e}")),
        },
        Value::Array(items) => items.iter().for_each(|v| collect_paths(v, paths, problems)),
        Value::Object(map) => map.values().for_each(|v| collect_paths(v, paths, problems)),
        _ => {}
    }
}

/// What one step produced: its structured output and its answer text.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepOutput {
    pub output: Value,
    pub answer: String,
    /// Attempts the step took (set by the worker).
    #[serde(default)]
    pub attempts: u32,
}

/// Why a step attempt failed: a stable kind (what retry policies list as non-retryable) and
/// a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StepFailure {
    pub kind: String,
    pub message: String,
}

impl StepFailure {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        StepFailure {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// Failures that no retry can fix, whatever the step's policy says: the definition or
    /// the input is wrong.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "invalid_definition" | "input_mapping" | "host_not_allowed" | "invalid_url"
        )
    }
}

/// The error kind a step's retry policy sees: HTTP statuses become the names services use
/// (`not_found`, `unauthorized`, `conflict`, `invalid_input`, `rate_limited`); other tool
/// errors keep their kind.
pub fn failure_of(error: &ToolError) -> StepFailure {
    let kind = match error {
        ToolError::HttpStatus { status } => match status {
            400 | 422 => "invalid_input",
            401 | 403 => "unauthorized",
            404 | 410 => "not_found",
            409 => "conflict",
            429 => "rate_limited",
            _ => "http_status",
        },
        other => other.kind(),
    };
    StepFailure::new(kind, error.to_string())
}

/// A step's tool, built from the definition the job carries.
pub struct StepTool(Box<dyn Tool>);

impl StepTool {
    pub fn build(spec: &Value, services: &ToolServices) -> Result<StepTool, StepFailure> {
        let spec: ToolSpec = serde_json::from_value(spec.clone())
            .map_err(|e| StepFailure::new("invalid_definition", e.to_string()))?;
        tools::build_with(&spec, services)
            .map(StepTool)
            .map_err(|e| StepFailure::new("invalid_definition", e.to_string()))
    }

    /// Runs the tool for `job`'s request with a step's rendered `input`.
    pub fn run(
        &self,
        job_request: &Request,
        allowed_hosts: &[String],
        input: &Value,
    ) -> Result<StepOutput, StepFailure> {
        let now = Utc::now().fixed_offset();
        let entities = extract::extract(
            &job_request.text,
            &ExtractOptions {
                reference_time: now,
                tz: chrono_tz::UTC,
                dims: None,
            },
        );
        let mut ctx = ToolContext::new(&job_request.text, now);
        ctx.entities = &entities;
        ctx.allowed_hosts = allowed_hosts;
        if input.as_object().is_some_and(|m| !m.is_empty()) {
            ctx.step_input = Some(input);
        }
        let out = self.0.run(&ctx).map_err(|e| failure_of(&e))?;
        let output = match (out.data, out.value) {
            (Some(data), _) => data,
            // Exact decimals travel as JSON numbers (integral ones as integers).
            (None, Some(v)) => serde_json::from_str::<Value>(&v.normalize().to_string())
                .unwrap_or_else(|_| Value::String(out.answer.clone())),
            (None, None) => Value::String(out.answer.clone()),
        };
        Ok(StepOutput {
            output,
            answer: out.answer,
            attempts: 1,
        })
    }
}

/// How a workflow run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Every step that was due ran.
    #[default]
    Completed,
    /// A step failed for good; the completed steps' compensations ran.
    Failed,
    /// A `reject` signal, or a signal wait timed out.
    Rejected,
    /// A `cancel` signal.
    Cancelled,
}

/// What a workflow run did, step by step; the final result is made from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowOutcome {
    pub ending: Ending,
    /// Steps that ran, in order, with their outputs.
    pub completed: Vec<(String, StepOutput)>,
    /// Steps whose `when` was false.
    pub skipped: Vec<String>,
    /// The step that failed, was rejected or was cancelled before, and why.
    pub stopped_at: Option<String>,
    pub failure: Option<StepFailure>,
    /// Compensations that ran (`step: tool`), newest first, and those that failed themselves.
    pub compensated: Vec<String>,
    pub compensation_failures: Vec<String>,
}

/// The final result of a durable request: `ok` when completed, else `error` saying what
/// failed and what was undone. `current_commit` is the registry commit serving the tenant
/// when the run ended, when the worker knows it.
pub fn final_result(
    job: &DurableJob,
    outcome: &WorkflowOutcome,
    current_commit: Option<&str>,
) -> RequestResult {
    let request = &job.request;
    let mut r = match outcome.ending {
        Ending::Completed => {
            let mut r = RequestResult::new(request, Status::Ok, &job.registry_commit);
            let last = outcome.completed.last();
            r.answer = last.map(|(_, o)| o.answer.clone()).unwrap_or_default();
            r.value = last.and_then(|(_, o)| match &o.output {
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            r
        }
        ending => {
            let (kind, message) = match (&outcome.failure, ending) {
                (Some(f), _) => (f.kind.clone(), f.message.clone()),
                (None, Ending::Cancelled) => {
                    ("cancelled".into(), "the workflow was cancelled".into())
                }
                (None, _) => ("rejected".into(), "the workflow was rejected".into()),
            };
            let step = outcome.stopped_at.as_deref().unwrap_or("?");
            let undone = if outcome.compensated.is_empty() {
                "nothing to undo".to_string()
            } else {
                format!("undone: {}", outcome.compensated.join(", "))
            };
            let mut message = format!("step `{step}` {}: {message}; {undone}", verb(ending));
            if !outcome.compensation_failures.is_empty() {
                message.push_str(&format!(
                    "; compensations that failed: {}",
                    outcome.compensation_failures.join(", ")
                ));
            }
            RequestResult::error(request, &job.registry_commit, &kind, message)
        }
    };
    r.tool = Some(job.definition.clone());
    r.matched_rule = Some(job.matched_rule.clone()).filter(|m| !m.is_empty());
    r.route = Some(format!("durable: {}", job.route));
    r.workflow_id = Some(request.id.clone());
    r.current_commit = current_commit.map(str::to_string);
    r.plan = outcome
        .completed
        .iter()
        .enumerate()
        .map(|(index, (name, out))| PlanStep {
            index: index as i32,
            tool: job
                .steps
                .iter()
                .find(|s| &s.name == name)
                .map_or_else(|| name.clone(), |s| s.tool.clone()),
            operation: name.clone(),
            inputs: Vec::new(),
            output: Some(match &out.output {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        })
        .collect();
    r
}

fn verb(ending: Ending) -> &'static str {
    match ending {
        Ending::Completed => "completed",
        Ending::Failed => "failed",
        Ending::Rejected => "was rejected",
        Ending::Cancelled => "was cancelled",
    }
}

#[cfg(test)]
mod tests;

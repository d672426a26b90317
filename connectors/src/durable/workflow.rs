//! The one generic Temporal workflow that runs every workflow definition, and its activities.
//!
//! [`DurableWorkflow`] walks the steps of the [`DurableJob`] it was started with: it waits
//! while paused, skips a step whose `when` is false, waits for an approval when a step says
//! `wait_for_signal` (with the step's timeout), renders the step's input and runs its tool as
//! the [`StepActivities::run_step`] activity under the step's retry policy and timeouts (a
//! local activity for in-process tools, see [`Step::runs_local`]). When a step fails for
//! good, or the run is rejected or cancelled, the compensations of the steps that completed
//! run newest first (a saga). Last, [`StepActivities::publish_result`], a local activity,
//! produces the final result to the results topic. Workflow code is deterministic: the job is
//! its only input and the evaluation it calls (`volcano_pipeline::durable`) is pure.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use temporalio_common::protos::temporal::api::failure::v1::{Failure, failure::FailureInfo};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ApplicationFailure, CancellableFuture,
    LocalActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView,
    WorkflowResult,
};
use temporalio_workflow::RetryPolicy;
use tracing::{debug, warn};
use volcano_pipeline::durable::{
    Condition, DurableJob, Ending, StepFailure, StepOutput, StepTool, WorkflowOutcome,
    final_result, render_input,
};
use volcano_pipeline::model::Request;
use volcano_pipeline::registry::{RegistryHandle, Step};
use volcano_pipeline::tools::ToolServices;

use crate::avro;
use crate::metrics::METRICS;

/// What `volcano workflow status` shows: the run's progress, as its query returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStatus {
    pub definition: String,
    /// The tenant whose request started the run: the REST API shows a run to it alone.
    #[serde(default)]
    pub tenant: String,
    /// Registry commit whose definitions this run uses.
    pub registry_commit: String,
    /// `running`, `paused`, `waiting`, `compensating`, or how it ended (`completed`,
    /// `failed`, `rejected`, `cancelled`).
    pub phase: String,
    pub current_step: Option<String>,
    /// The signal the run waits for (`approval`), when it waits.
    pub waiting_for: Option<String>,
    pub completed: Vec<String>,
    pub skipped: Vec<String>,
    /// Attempts each completed step took.
    pub attempts: BTreeMap<String, u32>,
    pub outputs: BTreeMap<String, Value>,
    pub compensated: Vec<String>,
    pub paused: bool,
}

/// An `approve` or `reject` signal. `wait` names the signal wait it answers (`approval`);
/// without it, it answers the wait the run is in (or the next one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(default)]
    pub wait: Option<String>,
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Any wait: a decision sent before the run reached a named wait.
const ANY_WAIT: &str = "*";

#[workflow]
#[derive(Default)]
pub struct DurableWorkflow {
    status: WorkflowStatus,
    paused: bool,
    cancelled: Option<String>,
    /// Decisions by wait name: `true` approves, `false` rejects.
    decisions: BTreeMap<String, (bool, Decision)>,
}

/// How a signal wait ended.
enum Waited {
    Approved,
    Rejected(Decision),
    TimedOut,
    Cancelled(String),
}

#[workflow_methods]
impl DurableWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        job: DurableJob,
    ) -> WorkflowResult<WorkflowOutcome> {
        ctx.state_mut(|s| {
            s.status.definition = job.definition.clone();
            s.status.tenant = job.request.tenant.clone();
            s.status.registry_commit = job.registry_commit.clone();
            s.status.phase = "running".into();
        });
        let mut outcome = WorkflowOutcome::default();
        let mut inputs: BTreeMap<String, Value> = BTreeMap::new();
        let mut scope = job.scope();
        for step in &job.steps {
            if ctx.state(|s| s.paused) {
                ctx.state_mut(|s| s.status.phase = "paused".into());
                ctx.wait_condition(|s| !s.paused || s.cancelled.is_some())
                    .await?;
                ctx.state_mut(|s| s.status.phase = "running".into());
            }
            if let Some(reason) = ctx.state(|s| s.cancelled.clone()) {
                stop(&mut outcome, step, Ending::Cancelled, "cancelled", reason);
                break;
            }
            ctx.state_mut(|s| s.status.current_step = Some(step.name.clone()));
            if let Some(when) = &step.when {
                match Condition::parse(when).and_then(|c| c.holds(scope.value())) {
                    Ok(true) => {}
                    Ok(false) => {
                        outcome.skipped.push(step.name.clone());
                        ctx.state_mut(|s| s.status.skipped.push(step.name.clone()));
                        continue;
                    }
                    Err(e) => {
                        stop(&mut outcome, step, Ending::Failed, "condition", e.0);
                        break;
                    }
                }
            }
            if let Some(wait) = &step.wait_for_signal {
                match wait_for_decision(ctx, &wait.name, wait.timeout_ms).await? {
                    Waited::Approved => {}
                    Waited::Rejected(d) => {
                        let message = format!(
                            "`{}` was rejected by {}{}",
                            wait.name,
                            if d.by.is_empty() { "someone" } else { &d.by },
                            d.note.map(|n| format!(" ({n})")).unwrap_or_default()
                        );
                        stop(&mut outcome, step, Ending::Rejected, "rejected", message);
                        break;
                    }
                    Waited::TimedOut => {
                        let message = format!(
                            "no `{}` signal came within {} ms",
                            wait.name, wait.timeout_ms
                        );
                        stop(
                            &mut outcome,
                            step,
                            Ending::Failed,
                            "signal_timeout",
                            message,
                        );
                        break;
                    }
                    Waited::Cancelled(reason) => {
                        stop(&mut outcome, step, Ending::Cancelled, "cancelled", reason);
                        break;
                    }
                }
            }
            let input = match render_input(&step.input, scope.value()) {
                Ok(input) => input,
                Err(e) => {
                    stop(&mut outcome, step, Ending::Failed, "input_mapping", e.0);
                    break;
                }
            };
            inputs.insert(step.name.clone(), input.clone());
            let call = StepCall::new(&job, &step.tool, input, step.heartbeat_ms);
            match run_tool(ctx, step, call).await {
                Ok(out) => {
                    ctx.state_mut(|s| {
                        s.status.completed.push(step.name.clone());
                        s.status.attempts.insert(step.name.clone(), out.attempts);
                        s.status
                            .outputs
                            .insert(step.name.clone(), out.output.clone());
                    });
                    scope.record(&step.name, &out);
                    outcome.completed.push((step.name.clone(), out));
                }
                Err(e) => {
                    let failure = activity_failure(&e);
                    outcome.ending = Ending::Failed;
                    outcome.stopped_at = Some(step.name.clone());
                    outcome.failure = Some(failure);
                    break;
                }
            }
        }
        if outcome.ending != Ending::Completed {
            ctx.state_mut(|s| s.status.phase = "compensating".into());
            compensate(ctx, &job, &mut outcome, &inputs).await;
        }
        let phase = match outcome.ending {
            Ending::Completed => "completed",
            Ending::Failed => "failed",
            Ending::Rejected => "rejected",
            Ending::Cancelled => "cancelled",
        };
        ctx.state_mut(|s| {
            s.status.phase = phase.into();
            s.status.current_step = None;
            s.status.waiting_for = None;
            s.status.compensated = outcome.compensated.clone();
        });
        let publish = PublishCall {
            job: job.clone(),
            outcome: outcome.clone(),
        };
        if let Err(e) = ctx
            .execute_local_activity(StepActivities::publish_result, publish, publish_options())
            .await
        {
            // Only a cancelled workflow gets here: publishing retries without limit.
            warn!(error = %e, "the final result was not published");
        }
        Ok(outcome)
    }

    /// Pauses before the next step (a running step finishes).
    #[signal]
    pub fn pause(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.paused = true;
        self.status.paused = true;
    }

    #[signal]
    pub fn resume(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.paused = false;
        self.status.paused = false;
    }

    /// Stops before the next step or during a wait; completed steps are compensated.
    #[signal]
    pub fn cancel(&mut self, _ctx: &mut SyncWorkflowContext<Self>, reason: String) {
        let reason = if reason.is_empty() {
            "cancelled by a signal".to_string()
        } else {
            reason
        };
        self.cancelled.get_or_insert(reason);
    }

    #[signal]
    pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Decision) {
        self.decide(true, decision);
    }

    #[signal]
    pub fn reject(&mut self, _ctx: &mut SyncWorkflowContext<Self>, decision: Decision) {
        self.decide(false, decision);
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> WorkflowStatus {
        self.status.clone()
    }
}

impl DurableWorkflow {
    fn decide(&mut self, approve: bool, decision: Decision) {
        let key = decision
            .wait
            .clone()
            .or_else(|| self.status.waiting_for.clone())
            .unwrap_or_else(|| ANY_WAIT.to_string());
        self.decisions.insert(key, (approve, decision));
    }
}

/// Waits for an approve or reject of `name` (or of any wait), a cancel, or the timeout.
async fn wait_for_decision(
    ctx: &mut WorkflowContext<DurableWorkflow>,
    name: &str,
    timeout_ms: u64,
) -> WorkflowResult<Waited> {
    ctx.state_mut(|s| {
        s.status.phase = "waiting".into();
        s.status.waiting_for = Some(name.to_string());
    });
    let wanted = name.to_string();
    let decided = {
        // Held so it can be cancelled: a dropped timer stays in the history as started.
        let mut timer = std::pin::pin!(ctx.timer(Duration::from_millis(timeout_ms)));
        let decided = temporalio_sdk::workflows::select! {
            r = ctx.wait_condition(move |s| {
                s.cancelled.is_some()
                    || s.decisions.contains_key(&wanted)
                    || s.decisions.contains_key(ANY_WAIT)
            }) => { r?; true }
            _ = timer.as_mut() => false
        };
        if decided {
            timer.cancel();
        }
        decided
    };
    let waited = ctx.state_mut(|s| {
        s.status.waiting_for = None;
        s.status.phase = "running".into();
        if !decided {
            return Waited::TimedOut;
        }
        if let Some(reason) = &s.cancelled {
            return Waited::Cancelled(reason.clone());
        }
        let decision = s
            .decisions
            .remove(name)
            .or_else(|| s.decisions.remove(ANY_WAIT));
        match decision {
            Some((true, _)) | None => Waited::Approved,
            Some((false, d)) => Waited::Rejected(d),
        }
    });
    Ok(waited)
}

fn stop(outcome: &mut WorkflowOutcome, step: &Step, ending: Ending, kind: &str, message: String) {
    outcome.ending = ending;
    outcome.stopped_at = Some(step.name.clone());
    outcome.failure = Some(StepFailure::new(kind, message));
}

/// Runs the compensations of the completed steps, newest first. A compensation gets the
/// step's input with the step's `output` added.
async fn compensate(
    ctx: &mut WorkflowContext<DurableWorkflow>,
    job: &DurableJob,
    outcome: &mut WorkflowOutcome,
    inputs: &BTreeMap<String, Value>,
) {
    let done: Vec<(String, StepOutput)> = outcome.completed.iter().rev().cloned().collect();
    for (name, out) in done {
        let Some(step) = job.steps.iter().find(|s| s.name == name) else {
            continue;
        };
        let Some(tool) = &step.compensation else {
            continue;
        };
        let mut input = match inputs.get(&name) {
            Some(Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        };
        input.insert("output".into(), out.output.clone());
        let call = StepCall::new(job, tool, Value::Object(input), step.heartbeat_ms);
        match run_tool(ctx, step, call).await {
            Ok(_) => outcome.compensated.push(format!("{name} by {tool}")),
            Err(e) => outcome
                .compensation_failures
                .push(format!("{name} by {tool} ({})", activity_failure(&e))),
        }
    }
}

/// The step's retry policy and timeouts as Temporal activity options.
/// Runs a step's tool (or its compensation, `call.tool`) as a local or a regular activity,
/// as [`Step::runs_local`] says for the tool's kind. A local activity runs in this worker and
/// is recorded as a marker with the next workflow task: a four-step run of in-process tools
/// is one or two workflow tasks instead of four activity round trips through the server.
async fn run_tool(
    ctx: &WorkflowContext<DurableWorkflow>,
    step: &Step,
    call: StepCall,
) -> Result<StepOutput, ActivityExecutionError> {
    if step.runs_local(call.spec.get("kind").and_then(Value::as_str)) {
        ctx.execute_local_activity(StepActivities::run_step, call, local_step_options(step))
            .await
    } else {
        ctx.execute_activity(StepActivities::run_step, call, step_options(step))
            .await
    }
}

fn retry_policy(step: &Step) -> RetryPolicy {
    let retry = &step.retry;
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(retry.initial_interval_ms))
        .backoff_coefficient(retry.backoff)
        .maximum_attempts(retry.max_attempts)
        .non_retryable_error_types(retry.non_retryable.iter().cloned())
        .build()
}

/// A local activity's options. Its retries are the worker's (short waits in the workflow
/// task, longer ones as timers), so it also needs a deadline for all attempts together: the
/// longest the retry policy can take, every attempt timing out and every wait at its longest
/// (Temporal caps a wait at 100 initial intervals). Without one the SDK would give up after
/// 100 s.
fn local_step_options(step: &Step) -> LocalActivityOptions {
    let retry = &step.retry;
    let cap = retry.initial_interval_ms.saturating_mul(100) as f64;
    let mut wait = retry.initial_interval_ms as f64;
    let mut total = step.timeout_ms as f64;
    const YEAR_MS: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;
    for _ in 1..retry.max_attempts {
        total += wait.min(cap) + step.timeout_ms as f64;
        wait *= retry.backoff;
        if total > YEAR_MS {
            break;
        }
    }
    LocalActivityOptions::builder()
        .retry_policy(retry_policy(step))
        .start_to_close_timeout(Duration::from_millis(step.timeout_ms))
        .schedule_to_close_timeout(Duration::from_millis(total.min(YEAR_MS) as u64))
        .build()
}

fn step_options(step: &Step) -> ActivityOptions {
    let options =
        ActivityOptions::with_start_to_close_timeout(Duration::from_millis(step.timeout_ms))
            .retry_policy(retry_policy(step));
    match step.heartbeat_ms {
        Some(ms) => options.heartbeat_timeout(Duration::from_millis(ms)).build(),
        None => options.build(),
    }
}

/// Publishing retries until the broker takes the result: a finished run must be heard of.
/// It is a local activity, like an in-process step: one produce to the broker, recorded with
/// the workflow task that completes the run. Like a regular activity it runs at least once:
/// a worker killed between the produce and the record publishes the same result, under the
/// same key, again.
fn publish_options() -> LocalActivityOptions {
    let policy = RetryPolicy::builder()
        .initial_interval(Duration::from_millis(200))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(30))
        .maximum_attempts(0)
        .build();
    LocalActivityOptions::builder()
        .retry_policy(policy)
        .start_to_close_timeout(Duration::from_secs(30))
        .schedule_to_close_timeout(Duration::from_secs(365 * 24 * 3600))
        .build()
}

/// The kind and message of an activity's final failure: its application failure's type, or
/// `timeout` when Temporal timed it out.
fn activity_failure(error: &ActivityExecutionError) -> StepFailure {
    fn walk(f: &Failure) -> Option<StepFailure> {
        if let Some(cause) = f.cause.as_deref()
            && let Some(found) = walk(cause)
        {
            return Some(found);
        }
        match &f.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info)) => {
                Some(StepFailure::new(info.r#type.clone(), f.message.clone()))
            }
            Some(FailureInfo::TimeoutFailureInfo(_)) => {
                Some(StepFailure::new("timeout", f.message.clone()))
            }
            _ => None,
        }
    }
    error
        .failure()
        .and_then(walk)
        .unwrap_or_else(|| StepFailure::new("activity_failed", error.to_string()))
}

/// One step's (or compensation's) activity input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepCall {
    pub tool: String,
    /// The tool's definition as the job carries it.
    pub spec: Value,
    pub input: Value,
    pub request: Request,
    pub allowed_hosts: Vec<String>,
    pub heartbeat_ms: Option<u64>,
}

impl StepCall {
    fn new(job: &DurableJob, tool: &str, input: Value, heartbeat_ms: Option<u64>) -> Self {
        StepCall {
            tool: tool.to_string(),
            spec: job.tools.get(tool).cloned().unwrap_or(Value::Null),
            input,
            request: job.request.clone(),
            allowed_hosts: job.allowed_hosts.clone(),
            heartbeat_ms,
        }
    }
}

/// The final activity's input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishCall {
    pub job: DurableJob,
    pub outcome: WorkflowOutcome,
}

/// The activities' shared parts: tools built once per definition, the results producer and,
/// in a process that also keeps the registry, the registry (to name the current commit).
pub struct StepActivities {
    services: ToolServices,
    tools: Mutex<HashMap<String, Arc<StepTool>>>,
    producer: FutureProducer,
    results_topic: String,
    registry: Option<RegistryHandle>,
}

impl StepActivities {
    pub fn new(
        services: ToolServices,
        producer: FutureProducer,
        results_topic: String,
        registry: Option<RegistryHandle>,
    ) -> Self {
        StepActivities {
            services,
            tools: Mutex::new(HashMap::new()),
            producer,
            results_topic,
            registry,
        }
    }

    fn tool(&self, spec: &Value) -> Result<Arc<StepTool>, StepFailure> {
        // Keyed by the definition itself: two definitions never share a built tool.
        let key = spec.to_string();
        if let Some(tool) = self.tools.lock().expect("tool cache").get(&key) {
            return Ok(tool.clone());
        }
        let tool = Arc::new(StepTool::build(spec, &self.services)?);
        let mut cache = self.tools.lock().expect("tool cache");
        // Definitions change by commit; a bounded cache keeps a long-lived worker small.
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, tool.clone());
        Ok(tool)
    }
}

fn application_failure(f: &StepFailure) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(f.message.clone())
            .type_name(f.kind.clone())
            .non_retryable(f.is_permanent())
            .build(),
    )
}

#[activities]
impl StepActivities {
    /// Runs one step's tool; heartbeats while it runs when the step asks for heartbeats.
    #[activity]
    pub async fn run_step(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: StepCall,
    ) -> Result<StepOutput, ActivityError> {
        let attempt = ctx.info().attempt;
        let tool = self.tool(&call.spec).map_err(|f| application_failure(&f))?;
        let heartbeat = call
            .heartbeat_ms
            .map(|ms| Duration::from_millis((ms / 2).max(10)));
        let name = call.tool.clone();
        let mut task = tokio::task::spawn_blocking(move || {
            tool.run(&call.request, &call.allowed_hosts, &call.input)
        });
        let joined = loop {
            match heartbeat {
                Some(every) => tokio::select! {
                    joined = &mut task => break joined,
                    _ = tokio::time::sleep(every) => {
                        let _ = ctx.record_heartbeat(()).await;
                    }
                },
                None => break (&mut task).await,
            }
        };
        let result = joined.unwrap_or_else(|e| Err(StepFailure::new("panic", e.to_string())));
        METRICS
            .durable_steps
            .with_label_values(&[if result.is_ok() { "ok" } else { "error" }])
            .inc();
        match result {
            Ok(mut out) => {
                out.attempts = attempt;
                Ok(out)
            }
            Err(f) => {
                debug!(tool = %name, attempt, kind = %f.kind, "step attempt failed");
                Err(application_failure(&f))
            }
        }
    }

    /// Produces the final result to the results topic (and the request's reply topic).
    #[activity]
    pub async fn publish_result(
        self: Arc<Self>,
        _ctx: ActivityContext,
        call: PublishCall,
    ) -> Result<(), ActivityError> {
        let current = self
            .registry
            .as_ref()
            .map(|r| r.load(&call.job.request.tenant).commit.clone());
        let mut result = final_result(&call.job, &call.outcome, current.as_deref());
        result.produced_at = chrono::Utc::now().timestamp_millis();
        let payload = avro::encode_result(&result).map_err(|e| {
            ActivityError::application(
                ApplicationFailure::builder(e.to_string())
                    .type_name("result_unencodable".to_string())
                    .non_retryable(true)
                    .build(),
            )
        })?;
        let key = result.request_id.as_bytes();
        let mut topics = vec![self.results_topic.clone()];
        topics.extend(
            call.job
                .request
                .reply_topic
                .clone()
                .filter(|t| !t.is_empty()),
        );
        for topic in topics {
            let record = FutureRecord::to(&topic).key(key).payload(&payload);
            self.producer
                .send(record, Duration::from_secs(10))
                .await
                .map_err(|(e, _)| anyhow::anyhow!("producing to {topic}: {e}"))?;
        }
        METRICS
            .results
            .with_label_values(&[result.status.as_str()])
            .inc();
        METRICS.durable_finished.inc();
        Ok(())
    }
}

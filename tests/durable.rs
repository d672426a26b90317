//! The durable path end to end, against the real broker and the real Temporal server: a
//! workflow from the config repository waits for an approval and completes; a step that fails
//! twice is retried with backoff; a step that fails for good compensates the completed steps
//! newest first; a redelivered request starts no second workflow; kill -9 of the worker in the
//! middle of a step, and a restart of the Temporal server in the middle of a workflow, still
//! end in exactly one final result. The pipeline's starts are eager on the worker of its
//! process, and the client they share outlives the worker's thread.
//!
//! The steps' side effects go to an HTTP service on loopback that this file runs, so each test
//! sees what the steps did, in order, with its timing.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::any;
use common::*;
use futures::StreamExt;
use rdkafka::producer::FutureProducer;
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use volcano_connectors::avro;
use volcano_connectors::client::ResultWaiter;
use volcano_connectors::config::VolcanoConfig;
use volcano_connectors::durable::{
    self, Control, Decision, Durable, DurableWorkflow, WorkflowStatus,
};
use volcano_connectors::instance::Roles;
use volcano_connectors::registry_files;
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::{RequestResult, Status};
use volcano_pipeline::tools::ToolServices;

const WAIT: Duration = Duration::from_secs(60);
const BIN: &str = env!("CARGO_BIN_EXE_volcano");

/// What the loopback service answers on one path, in order; the last answer repeats.
#[derive(Clone)]
enum Reply {
    /// Status and JSON body.
    Json(u16, &'static str),
    /// Hold the request this long, then answer 200 with the body.
    Hang(Duration, &'static str),
}

#[derive(Default)]
struct ServiceState {
    script: BTreeMap<String, VecDeque<Reply>>,
    calls: Vec<(String, Instant)>,
}

/// An HTTP service on loopback whose answers a test scripts and whose calls it reads.
#[derive(Clone)]
struct Service {
    addr: SocketAddr,
    state: Arc<Mutex<ServiceState>>,
}

impl Service {
    async fn start() -> Service {
        let state = Arc::new(Mutex::new(ServiceState::default()));
        let app = axum::Router::new()
            .route("/{*path}", any(serve))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Service { addr, state }
    }

    fn script(&self, path: &str, replies: &[Reply]) {
        let mut state = self.state.lock().unwrap();
        state
            .script
            .insert(path.to_string(), replies.iter().cloned().collect());
    }

    fn calls(&self) -> Vec<(String, Instant)> {
        self.state.lock().unwrap().calls.clone()
    }

    fn paths(&self) -> Vec<String> {
        self.calls().into_iter().map(|(p, _)| p).collect()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }
}

async fn serve(
    State(state): State<Arc<Mutex<ServiceState>>>,
    UrlPath(path): UrlPath<String>,
) -> (StatusCode, String) {
    let reply = {
        let mut s = state.lock().unwrap();
        s.calls.push((path.clone(), Instant::now()));
        let queue = s.script.entry(path).or_default();
        match queue.len() {
            0 => Reply::Json(200, "{}"),
            1 => queue[0].clone(),
            _ => queue.pop_front().unwrap(),
        }
    };
    match reply {
        Reply::Json(status, body) => (StatusCode::from_u16(status).unwrap(), body.to_string()),
        Reply::Hang(how_long, body) => {
            tokio::time::sleep(how_long).await;
            (StatusCode::OK, body.to_string())
        }
    }
}

fn config_for(name: &str, files: &[(&str, String)]) -> VolcanoConfig {
    let mut c = test_config(name);
    c.stack.config_repo = content_with(name, files);
    c
}

/// A template tool: `hello after <input.prev>`, for workflows whose steps need no service.
const GREET_TOOL: &str = "version: 1\nname: greet\ntool:\n  kind: template\n  template: \"hello after {{ input.prev }}\"\n";

/// A config whose repository holds `flow` at `path` and the greet tool.
fn greet_config(name: &str, path: &str, flow: &str) -> VolcanoConfig {
    config_for(
        name,
        &[
            (path, flow.to_string()),
            ("tools/greet.yaml", GREET_TOOL.to_string()),
        ],
    )
}

/// Routes `text` with the registry of the config's repository, as the pipeline does, and
/// starts its workflow through `starter`, bypassing the broker.
async fn start_from_the_repo(
    config: &VolcanoConfig,
    starter: &durable::Starter,
    id: &str,
    text: &str,
) -> Result<durable::Started, durable::DurableError> {
    let registry = registry_files::load_registry(&config.stack.config_repo, &Default::default())
        .expect("registry");
    let (accepted, job) = FastPath::new(registry, 16).process_routed(&request(id, text));
    assert_eq!(accepted.status, Status::Accepted, "{accepted:?}");
    starter.start(job.expect("a durable job")).await
}

fn http_tool(name: &str, method: &str, url: &str) -> String {
    format!(
        "version: 1\nname: {name}\ndescription: Test step.\ntool:\n  kind: http\n  method: {method}\n  url: \"{url}\"\n  timeout_ms: 60000\n"
    )
}

/// A worker as its own process (`volcano run --role worker`), so it can be killed.
fn spawn_worker(config: &VolcanoConfig, dir: &Path) -> Child {
    let mut c = config.clone();
    c.pipeline.metrics_addr = String::new();
    let path = dir.join("worker.toml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&path, toml::to_string(&c).unwrap()).unwrap();
    Command::new(BIN)
        .args(["--config"])
        .arg(&path)
        .args(["run", "--role", "worker"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts")
}

struct Client {
    config: VolcanoConfig,
    producer: FutureProducer,
    waiter: ResultWaiter,
    durable: Durable,
}

impl Client {
    async fn new(config: &VolcanoConfig) -> Client {
        volcano_connectors::kafka::ensure_topics(config, &config.kafka.topics.all())
            .await
            .expect("topics");
        Client {
            config: config.clone(),
            producer: producer(config),
            waiter: ResultWaiter::at_end(config, Duration::from_secs(10)).expect("waiter"),
            durable: Durable::connect(config).await.expect("temporal"),
        }
    }

    /// Produces a request with this id and returns its first (`accepted`) result.
    async fn send(&self, id: &str, text: &str) -> RequestResult {
        let req = request(id, text);
        let topic = &self.config.kafka.topics.requests;
        produce_raw(
            &self.producer,
            topic,
            id,
            &avro::encode_request(&req).unwrap(),
        )
        .await;
        let mut results = self.waiter.wait_for(&[id.to_string()], WAIT).await;
        results.remove(id).expect("a first result")
    }

    /// Sends a request that goes durable (`accepted` first) and returns its final result.
    async fn run_durable(&self, id: &str, text: &str) -> RequestResult {
        assert_eq!(self.send(id, text).await.status, Status::Accepted);
        self.final_result(id).await
    }

    async fn final_result(&self, id: &str) -> RequestResult {
        let mut results = self.waiter.wait_for_final(&[id.to_string()], WAIT).await;
        results.remove(id).expect("a final result")
    }

    /// Polls the workflow's status query until `done` holds.
    async fn status_until(
        &self,
        id: &str,
        done: impl Fn(&WorkflowStatus) -> bool,
    ) -> WorkflowStatus {
        let start = Instant::now();
        loop {
            let last = self.durable.status(id).await;
            if let Ok(status) = &last
                && done(status)
            {
                return last.unwrap();
            }
            assert!(
                start.elapsed() < WAIT,
                "workflow {id} never reached the state; last: {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every result produced for `id` (the accepted ones and the final ones).
    /// The regular activities a run scheduled (by type) and how many local activities it
    /// recorded (markers), from Temporal's history.
    async fn activities(&self, id: &str) -> (Vec<String>, usize) {
        let (mut scheduled, mut markers) = (Vec::new(), 0);
        let mut history = self
            .durable
            .client()
            .get_workflow_handle::<DurableWorkflow>(id.to_string())
            .fetch_history(WorkflowFetchHistoryOptions::builder().build());
        while let Some(event) = history.next().await {
            match event.expect("history").attributes {
                Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                    scheduled.push(a.activity_type.map(|t| t.name).unwrap_or_default())
                }
                Some(Attributes::MarkerRecordedEventAttributes(_)) => markers += 1,
                _ => {}
            }
        }
        (scheduled, markers)
    }

    /// Whether the run's first workflow task was started in the same write as the start
    /// (an eager start): its scheduled and started events have consecutive task ids. A task
    /// dispatched through the task queue is started in a later write, after the start's own
    /// tasks took their ids.
    async fn first_task_started_with_the_start(&self, id: &str) -> bool {
        let (mut scheduled, mut started) = (None, None);
        let mut history = self
            .durable
            .client()
            .get_workflow_handle::<DurableWorkflow>(id.to_string())
            .fetch_history(WorkflowFetchHistoryOptions::builder().build());
        while let Some(event) = history.next().await {
            let event = event.expect("history");
            match event.attributes {
                Some(Attributes::WorkflowTaskScheduledEventAttributes(_))
                    if scheduled.is_none() =>
                {
                    scheduled = Some(event.task_id)
                }
                Some(Attributes::WorkflowTaskStartedEventAttributes(_)) if started.is_none() => {
                    started = Some(event.task_id)
                }
                _ => {}
            }
        }
        let (scheduled, started) = (scheduled.expect("scheduled"), started.expect("started"));
        started == scheduled + 1
    }

    async fn all_results(&self, id: &str) -> Vec<RequestResult> {
        let topic = &self.config.kafka.topics.results;
        read_topic(&self.config, topic, usize::MAX, Duration::from_secs(3))
            .await
            .iter()
            .filter(|m| key_of(m) == id)
            .map(|m| avro::decode_result(rdkafka::Message::payload(m).unwrap()).unwrap())
            .collect()
    }
}

fn finals(results: &[RequestResult]) -> usize {
    results
        .iter()
        .filter(|r| r.status != Status::Accepted)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_customer_report_waits_for_approval_then_completes() {
    let config = config_for("report", &[]);
    let instance = Instance::start(&config).await;
    let client = Client::new(&config).await;
    let id = uuid::Uuid::now_v7().to_string();
    let accepted = client
        .send(&id, "process customer data and generate report")
        .await;
    assert_eq!(accepted.status, Status::Accepted, "{accepted:?}");
    assert_eq!(accepted.workflow_id.as_deref(), Some(id.as_str()));
    assert_eq!(accepted.tool.as_deref(), Some("customer-report"));

    let waiting = client
        .status_until(&id, |s| s.waiting_for.as_deref() == Some("approval"))
        .await;
    assert_eq!(waiting.completed, ["extract", "validate", "transform"]);
    assert_eq!(waiting.registry_commit, accepted.registry_commit);
    // Two of the six sample records are invalid; the rest are totalled per country.
    assert_eq!(waiting.outputs["validate"]["rejected"], 2);

    let approve = Decision {
        wait: None,
        by: "manager@volcano.example".into(),
        note: None,
    };
    client
        .durable
        .signal(&id, Control::Approve(approve))
        .await
        .expect("signal");
    let done = client.final_result(&id).await;
    assert_eq!(done.status, Status::Ok, "{done:?}");
    assert_eq!(
        done.answer,
        "Customer report: DE 1 customers, revenue 1750; GB 1 customers, revenue 1200; US 2 customers, revenue 5500."
    );
    assert_eq!(done.plan.len(), 4);
    assert_eq!(done.registry_commit, accepted.registry_commit);
    assert_eq!(
        done.current_commit.as_deref(),
        Some(accepted.registry_commit.as_str())
    );
    // How the steps ran, in Temporal's history: `extract` heartbeats, so it is a regular
    // activity; the three in-process tools after it and the result's publication are local
    // activities (markers).
    let (scheduled, markers) = client.activities(&id).await;
    assert_eq!(scheduled, ["StepActivities::run_step"]);
    assert_eq!(
        markers, 4,
        "validate, transform, report and publish ran locally"
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_approval_compensates_what_was_done() {
    let config = config_for("reject", &[]);
    let instance = Instance::start(&config).await;
    let client = Client::new(&config).await;
    let id = uuid::Uuid::now_v7().to_string();
    client.send(&id, "generate a customer report").await;
    client.status_until(&id, |s| s.waiting_for.is_some()).await;
    let reject = Decision {
        wait: Some("approval".into()),
        by: "auditor".into(),
        note: Some("numbers look off".into()),
    };
    client
        .durable
        .signal(&id, Control::Reject(reject))
        .await
        .unwrap();
    let done = client.final_result(&id).await;
    assert_eq!(done.status, Status::Error);
    assert_eq!(done.error_kind.as_deref(), Some("rejected"));
    assert_eq!(
        done.answer,
        "step `report` was rejected: `approval` was rejected by auditor (numbers look off); \
         undone: extract by release-customer-export"
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_that_fails_twice_is_retried_with_backoff_and_the_workflow_completes() {
    flaky_step_is_retried_with_backoff(None).await;
}

/// The same retries when the step runs as a local activity: the worker, not the server,
/// retries it, under the same policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_local_activity_that_fails_twice_is_retried_with_backoff() {
    flaky_step_is_retried_with_backoff(Some(true)).await;
}

async fn flaky_step_is_retried_with_backoff(local: Option<bool>) {
    let service = Service::start().await;
    service.script(
        "ledger",
        &[
            Reply::Json(503, "{}"),
            Reply::Json(503, "{}"),
            Reply::Json(200, r#"{"balance": 42}"#),
        ],
    );
    let local_line = match local {
        Some(local) => format!("\n    local: {local}"),
        None => String::new(),
    };
    let flow = format!(
        "version: 1\nname: flaky-flow\npatterns:\n  - '^run the flaky flow$'\nsteps:\n  - name: fetch\n    tool: fetch-flaky{local_line}\n    retry:\n      initial_interval_ms: 1000\n      backoff: 3.0\n      max_attempts: 5\n    timeout_ms: 10000\n  - name: say\n    tool: say-balance\n    input:\n      balance: \"{{{{ steps.fetch.output.balance }}}}\"\n"
    );
    let say = "version: 1\nname: say-balance\ntool:\n  kind: template\n  template: \"balance {{ input.balance }}\"\n";
    let config = config_for(
        "retry",
        &[
            ("workflows/flaky-flow.yaml", flow),
            (
                "tools/fetch-flaky.yaml",
                http_tool("fetch-flaky", "GET", &service.url("ledger")),
            ),
            ("tools/say-balance.yaml", say.to_string()),
        ],
    );
    let instance = Instance::start(&config).await;
    let client = Client::new(&config).await;
    let id = uuid::Uuid::now_v7().to_string();
    let done = client.run_durable(&id, "run the flaky flow").await;
    assert_eq!(done.status, Status::Ok, "{done:?}");
    assert_eq!(done.answer, "balance 42");

    let calls = service.calls();
    assert_eq!(calls.len(), 3, "two failures and a success");
    let first_gap = calls[1].1 - calls[0].1;
    let second_gap = calls[2].1 - calls[1].1;
    // 1 s, then 3 s: the policy's initial interval and backoff. (Temporal fires retry timers
    // up to a second late, so shorter intervals would not show the backoff.)
    assert!(first_gap >= Duration::from_millis(900), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(2700), "{second_gap:?}");
    assert!(
        second_gap > first_gap + Duration::from_millis(1000),
        "{first_gap:?} then {second_gap:?}"
    );
    let status = client.status_until(&id, |s| s.phase == "completed").await;
    assert_eq!(status.attempts["fetch"], 3);
    // `say` (a template) and the publication are local either way; `fetch` (http) only when
    // the step says so.
    let (scheduled, markers) = client.activities(&id).await;
    let fetch_local = local == Some(true);
    assert_eq!(markers, 2 + usize::from(fetch_local), "{scheduled:?}");
    assert_eq!(
        scheduled.len(),
        1 - usize::from(fetch_local),
        "{scheduled:?}"
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_that_fails_for_good_runs_the_compensations_newest_first() {
    let service = Service::start().await;
    service.script("charge", &[Reply::Json(409, r#"{"error": "conflict"}"#)]);
    let flow = "version: 1\nname: saga\npatterns:\n  - '^run the saga$'\nsteps:\n  - name: reserve\n    tool: reserve\n    compensation: unreserve\n  - name: note\n    tool: note\n  - name: ship\n    tool: ship\n    compensation: unship\n  - name: charge\n    tool: charge\n    retry:\n      max_attempts: 5\n      non_retryable: [conflict]\n";
    let note = "version: 1\nname: note\ntool:\n  kind: template\n  template: noted\n";
    let config = config_for(
        "saga",
        &[
            ("workflows/saga.yaml", flow.to_string()),
            (
                "tools/reserve.yaml",
                http_tool("reserve", "POST", &service.url("reserve")),
            ),
            (
                "tools/unreserve.yaml",
                http_tool("unreserve", "POST", &service.url("unreserve")),
            ),
            ("tools/note.yaml", note.to_string()),
            (
                "tools/ship.yaml",
                http_tool("ship", "POST", &service.url("ship")),
            ),
            (
                "tools/unship.yaml",
                http_tool("unship", "POST", &service.url("unship")),
            ),
            (
                "tools/charge.yaml",
                http_tool("charge", "POST", &service.url("charge")),
            ),
        ],
    );
    let instance = Instance::start(&config).await;
    let client = Client::new(&config).await;
    let id = uuid::Uuid::now_v7().to_string();
    client.send(&id, "run the saga").await;
    let done = client.final_result(&id).await;
    assert_eq!(done.status, Status::Error, "{done:?}");
    assert_eq!(done.error_kind.as_deref(), Some("conflict"));
    assert!(
        done.answer.starts_with("step `charge` failed: ")
            && done
                .answer
                .ends_with("; undone: ship by unship, reserve by unreserve"),
        "{}",
        done.answer
    );
    // Non-retryable: one attempt at charging; then the compensations, newest first.
    assert_eq!(
        service.paths(),
        ["reserve", "ship", "charge", "unship", "unreserve"]
    );
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redelivered_request_starts_no_second_workflow() {
    let service = Service::start().await;
    let flow = "version: 1\nname: once\npatterns:\n  - '^do it once$'\nsteps:\n  - name: act\n    tool: act\n";
    let config = config_for(
        "redeliver",
        &[
            ("workflows/once.yaml", flow.to_string()),
            (
                "tools/act.yaml",
                http_tool("act", "POST", &service.url("act")),
            ),
        ],
    );
    let instance = Instance::start(&config).await;
    let client = Client::new(&config).await;
    let id = uuid::Uuid::now_v7().to_string();
    client.send(&id, "do it once").await;
    let first = client.final_result(&id).await;
    assert_eq!(first.status, Status::Ok, "{first:?}");
    // The same request again, as a redelivery after a crash would bring it.
    let again = client.send(&id, "do it once").await;
    assert_eq!(again.status, Status::Accepted);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(service.paths(), ["act"], "the step ran once");
    let results = client.all_results(&id).await;
    assert_eq!(finals(&results), 1, "{results:?}");
    let runs = client.durable.list(100).await.unwrap();
    assert_eq!(runs.iter().filter(|w| w.id == id).count(), 1, "{runs:?}");
    instance.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_worker_mid_step_then_a_restart_completes_with_one_result() {
    let service = Service::start().await;
    // The first attempt hangs (the worker is killed during it); the retry answers.
    service.script(
        "slow",
        &[
            Reply::Hang(Duration::from_secs(120), "{}"),
            Reply::Json(200, r#"{"done": true}"#),
        ],
    );
    let flow = "version: 1\nname: slow-flow\npatterns:\n  - '^run the slow flow$'\nsteps:\n  - name: work\n    tool: slow-work\n    timeout_ms: 60000\n    heartbeat_ms: 1000\n    retry:\n      initial_interval_ms: 100\n      max_attempts: 5\n";
    let config = config_for(
        "kill-worker",
        &[
            ("workflows/slow-flow.yaml", flow.to_string()),
            (
                "tools/slow-work.yaml",
                http_tool("slow-work", "GET", &service.url("slow")),
            ),
        ],
    );
    let dir = config.registry_data_dir().with_file_name("worker");
    let pipeline = Instance::start_with(
        &config,
        Roles {
            pipeline: true,
            worker: false,
            ingress: false,
        },
    )
    .await;
    let mut worker = spawn_worker(&config, &dir);
    let client = Client::new(&config).await;
    let id = uuid::Uuid::now_v7().to_string();
    client.send(&id, "run the slow flow").await;
    let start = Instant::now();
    while service.calls().is_empty() {
        assert!(start.elapsed() < WAIT, "the step never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.kill().expect("kill -9");
    worker.wait().unwrap();
    let mut worker = spawn_worker(&config, &dir);
    let done = client.final_result(&id).await;
    assert_eq!(done.status, Status::Ok, "{done:?}");
    assert_eq!(service.calls().len(), 2, "the killed attempt and its retry");
    let results = client.all_results(&id).await;
    assert_eq!(finals(&results), 1, "{results:?}");
    worker.kill().unwrap();
    worker.wait().unwrap();
    pipeline.stop().await;
}

/// A Temporal dev server of this test's own, so restarting it disturbs no other test.
struct OwnTemporal {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl OwnTemporal {
    fn start(config: &VolcanoConfig, dir: &Path, port: u16) -> OwnTemporal {
        std::fs::create_dir_all(dir).unwrap();
        let child = Command::new(tool_binary(config, "bin/temporal"))
            .current_dir(dir)
            .args(["server", "start-dev", "--headless", "--db-filename"])
            .arg(dir.join("temporal.db"))
            .args([
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-level",
                "error",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("temporal starts");
        OwnTemporal {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    fn kill(mut self) -> (PathBuf, u16) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        (self.dir.clone(), self.port)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn connect_until_up(config: &VolcanoConfig) -> Durable {
    let start = Instant::now();
    loop {
        if let Ok(d) = Durable::connect(config).await
            && d.list(1).await.is_ok()
        {
            return d;
        }
        assert!(start.elapsed() < WAIT, "temporal never came up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_of_the_temporal_server_mid_workflow_still_completes() {
    let mut config = config_for("temporal-restart", &[]);
    let port = free_port();
    config.temporal.address = format!("127.0.0.1:{port}");
    let dir = config.registry_data_dir().with_file_name("temporal");
    let temporal = OwnTemporal::start(&config, &dir, port);
    connect_until_up(&config).await;
    let instance = Instance::start(&config).await;
    let client = Client::new(&config).await;
    let id = uuid::Uuid::now_v7().to_string();
    client
        .send(&id, "process customer data and generate report")
        .await;
    client
        .status_until(&id, |s| s.waiting_for.as_deref() == Some("approval"))
        .await;

    // kill -9 of the server while the workflow waits, then the same database again.
    let (dir, port) = temporal.kill();
    let temporal = OwnTemporal::start(&config, &dir, port);
    let durable = connect_until_up(&config).await;
    let start = Instant::now();
    loop {
        let approve = Control::Approve(Decision::default());
        if durable.signal(&id, approve).await.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "the workflow did not survive the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let done = client.final_result(&id).await;
    assert_eq!(done.status, Status::Ok, "{done:?}");
    assert!(
        done.answer.starts_with("Customer report: "),
        "{}",
        done.answer
    );
    instance.stop().await;
    temporal.kill();
}

/// The pipeline's starter shares the worker's Temporal client, so that starts are eager.
/// The worker connects it first, from its own thread's runtime, and stops first at shutdown:
/// the starter must still start workflows once that thread is gone, and a worker that comes
/// back on the same client runs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_starter_sharing_the_worker_s_client_outlives_the_worker_s_thread() {
    let flow = "version: 1\nname: twice\npatterns:\n  - '^greet twice$'\nsteps:\n  - name: one\n    tool: greet\n    input:\n      prev: start\n  - name: two\n    tool: greet\n    input:\n      prev: \"{{ steps.one.output }}\"\n";
    let config = greet_config("shared-client", "workflows/twice.yaml", flow);
    volcano_connectors::kafka::ensure_topics(&config, &config.kafka.topics.all())
        .await
        .expect("topics");
    let waiter = ResultWaiter::at_end(&config, Duration::from_secs(10)).expect("waiter");
    let shared = durable::SharedClient::default();
    let worker = |shared: &durable::SharedClient| {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = durable::spawn_worker(
            &config,
            ToolServices::default(),
            None,
            stopped,
            shared.clone(),
        )
        .expect("worker thread");
        (stop, thread)
    };
    let (stop, thread) = worker(&shared);
    let since = Instant::now();
    while !shared.connected() {
        assert!(since.elapsed() < WAIT, "the worker never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap()
        .expect("the worker thread did not panic")
        .expect("the worker stopped cleanly");

    // The worker's runtime is gone; the starter uses the client it connected.
    let id = uuid::Uuid::now_v7().to_string();
    let starter = durable::Starter::sharing(&config, shared.clone());
    let started = start_from_the_repo(&config, &starter, &id, "greet twice").await;
    assert_eq!(started.expect("started"), durable::Started::New);

    let (stop, thread) = worker(&shared);
    let mut results = waiter.wait_for_final(std::slice::from_ref(&id), WAIT).await;
    let result = results.remove(&id).expect("a final result");
    assert_eq!(result.status, Status::Ok, "{result:?}");
    assert_eq!(result.answer, "hello after hello after start", "{result:?}");
    stop.send(true).unwrap();
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
}

/// A `volcano run` with the pipeline and the worker starts workflows eagerly: the server
/// hands the first workflow task back with the start, written in the start's own
/// transaction (consecutive task ids for the scheduled and started events), with no trip
/// through the task queue. A start from a client the worker does not share, checked the
/// same way, is not eager: the check tells the two apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pipeline_starts_workflows_eagerly_on_the_worker_of_its_process() {
    let flow = "version: 1\nname: once\npatterns:\n  - '^greet once$'\nsteps:\n  - name: one\n    tool: greet\n    input:\n      prev: start\n";
    let config = greet_config("eager", "workflows/once.yaml", flow);
    let instance = Instance::start(&config).await;
    let client = Client::new(&config).await;
    let id = uuid::Uuid::now_v7().to_string();
    let result = client.run_durable(&id, "greet once").await;
    assert_eq!(result.answer, "hello after start", "{result:?}");
    assert!(
        client.first_task_started_with_the_start(&id).await,
        "the pipeline's start was not eager"
    );

    let plain = uuid::Uuid::now_v7().to_string();
    let own_client = durable::Starter::new(&config);
    start_from_the_repo(&config, &own_client, &plain, "greet once")
        .await
        .expect("started");
    let result = client.final_result(&plain).await;
    assert_eq!(result.status, Status::Ok, "{result:?}");
    assert!(
        !client.first_task_started_with_the_start(&plain).await,
        "a start on a client of its own looked eager"
    );
    instance.stop().await;
}

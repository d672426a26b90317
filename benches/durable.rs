//! Durable path speed on the running Temporal server, beside a bare-SDK baseline measured in
//! the same run:
//!
//! - start latency: from a decoded request to Temporal accepting its workflow start (what the
//!   pipeline does between consuming a durable request and producing `accepted`: classify,
//!   freeze the job, `start_workflow` with id = request id), one at a time; the baseline is a
//!   bare `start_workflow` of a trivial workflow;
//! - throughput: four-step workflows started `CONCURRENCY` at a time and awaited; Volcano's
//!   run four template tools (in-process, so local activities) and publish the final result
//!   to the results topic; the baselines run four no-op activities, regular and local (and
//!   local with eager start). Completion is awaited with `get_result`, as the baselines must;
//!   a last pass reads Volcano's completions from the results topic instead, as its users do.
//!
//! Needs the broker and Temporal up: `volcano stack up --no-pipeline` (or the test stack with
//! `VOLCANO_CONFIG=.volcano/test/volcano.toml`). Then
//! `cargo bench --workspace --bench durable` (env `STARTS`, `WORKFLOWS`, `CONCURRENCY`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use temporalio_client::{
    WorkflowGetResultOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, LocalActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext,
    WorkflowResult,
};
use tokio::sync::{Semaphore, watch};
use volcano_connectors::client::ResultWaiter;
use volcano_connectors::config::{TopicNames, VolcanoConfig};
use volcano_connectors::durable::{self, Durable, DurableWorkflow, Starter};
use volcano_connectors::kafka;
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::{Request, Status};
use volcano_pipeline::registry::{RegistryHandle, compile, load_files};
use volcano_pipeline::tools::ToolServices;

// ---- the bare-SDK baseline: four no-op activities ----

pub struct BareSteps;

#[activities]
impl BareSteps {
    #[activity]
    pub async fn step(_ctx: ActivityContext, n: u32) -> Result<u32, ActivityError> {
        Ok(n + 1)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BareInput {
    steps: u32,
    /// Run the steps as local activities (what Volcano does for in-process tools).
    #[serde(default)]
    local: bool,
}

#[workflow]
#[derive(Default)]
pub struct BareFlow;

#[workflow_methods]
impl BareFlow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: BareInput) -> WorkflowResult<u32> {
        let mut n = 0;
        for _ in 0..input.steps {
            n = if input.local {
                let options = LocalActivityOptions::builder()
                    .start_to_close_timeout(Duration::from_secs(30))
                    .build();
                ctx.execute_local_activity(BareSteps::step, n, options)
                    .await?
            } else {
                ctx.execute_activity(
                    BareSteps::step,
                    n,
                    ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
                )
                .await?
            };
        }
        Ok(n)
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn row(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<58} p50 {:>7.1} ms   p99 {:>7.1} ms   (n = {})",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.len()
    );
}

fn throughput(name: &str, count: usize, elapsed: Duration) {
    println!(
        "{name:<58} {:>7.1} workflows/s   ({count} in {:.2} s)",
        count as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

const FOUR_STEPS: &str = "version: 1\nname: bench-four\npatterns:\n  - '^bench four steps'\nsteps:\n  - name: one\n    tool: bench-step\n  - name: two\n    tool: bench-step\n    input:\n      prev: \"{{ steps.one.output }}\"\n  - name: three\n    tool: bench-step\n    input:\n      prev: \"{{ steps.two.output }}\"\n  - name: four\n    tool: bench-step\n    input:\n      prev: \"{{ steps.three.output }}\"\n";
const STEP: &str = "version: 1\nname: bench-step\ntool:\n  kind: template\n  template: \"step after {{ input.prev }}\"\n";

fn request(id: String) -> Request {
    Request {
        id,
        tenant: "main".into(),
        session_id: None,
        text: "bench four steps".into(),
        submitted_at: chrono::Utc::now().timestamp_millis(),
        reply_topic: None,
        headers: Default::default(),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let starts = env("STARTS", 200);
    let workflows = env("WORKFLOWS", 200);
    let concurrency = env("CONCURRENCY", 50);
    let path = std::env::var_os("VOLCANO_CONFIG").map(std::path::PathBuf::from);
    let mut config = VolcanoConfig::load(path.as_deref()).expect("config");
    let tag = format!("bench-durable-{}", std::process::id());
    config.kafka.topics = TopicNames::prefixed(&format!("{tag}."));
    config.kafka.partitions = Some(1);
    config.temporal.task_queue = format!("{tag}-volcano");
    kafka::ensure_topics(&config, &config.kafka.topics.all())
        .await
        .expect("topics (is the broker up?)");
    let durable = Durable::connect(&config)
        .await
        .expect("temporal (is it up?)");
    let client = durable.client().clone();
    println!(
        "durable path on {} ({starts} starts one at a time; {workflows} four-step workflows, \
         {concurrency} at a time)",
        config.temporal_address()
    );

    // Workers, in this process: the bare one and Volcano's, each on a thread of its own
    // (the SDK's worker future is not `Send`).
    let bare_queue = format!("{tag}-bare");
    let (stop_tx, stop_rx) = watch::channel(false);
    let bare = {
        let (queue, client, mut stop) = (bare_queue.clone(), client.clone(), stop_rx.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let runtime = Runtime::from_current_tokio(Default::default()).expect("runtime");
                let options = WorkerOptions::new(queue)
                    .register_workflow::<BareFlow>()
                    .expect("workflow")
                    .register_activities(BareSteps)
                    .build();
                let mut worker = Worker::new(&runtime, client, options).expect("worker");
                let shutdown = worker.shutdown_handle();
                tokio::select! {
                    r = worker.run() => r.expect("bare worker"),
                    _ = stop.wait_for(|s| *s) => {
                        shutdown();
                    }
                }
            })
        })
    };
    // Volcano's starter shares its worker's client, as in one `volcano run`: starts are eager.
    let shared = durable::SharedClient::default();
    let volcano_worker = durable::spawn_worker(
        &config,
        ToolServices::default(),
        None,
        stop_rx,
        shared.clone(),
    )
    .expect("worker");

    let files = vec![
        (
            "workflows/bench-four.yaml".to_string(),
            FOUR_STEPS.to_string(),
        ),
        ("tools/bench-step.yaml".to_string(), STEP.to_string()),
    ];
    let registry =
        compile(&load_files(files).expect("definitions"), "main", "bench").expect("compiles");
    let mut fast_path = FastPath::new(RegistryHandle::new(Arc::new(registry)), 16);
    let starter = Starter::sharing(&config, shared);

    // Start latency, one at a time. A few warm-up starts first (connections, caches).
    let bare_start = |id: String| {
        WorkflowStartOptions::new(bare_queue.clone(), id)
            .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .build()
    };
    // A bare start of a workflow with no steps, which ends at once.
    let start_empty = |id: String| {
        let input = BareInput {
            steps: 0,
            local: false,
        };
        client.start_workflow(BareFlow::run, input, bare_start(id))
    };
    for i in 0..5 {
        start_empty(format!("{tag}-warm-bare-{i}"))
            .await
            .expect("start");
        let (_, job) = fast_path.process_routed(&request(format!("{tag}-warm-{i}")));
        starter.start(job.expect("durable")).await.expect("start");
    }
    let mut bare_latency = Vec::with_capacity(starts);
    let mut volcano_latency = Vec::with_capacity(starts);
    for i in 0..starts {
        // Interleaved, so both see the same server load.
        let id = format!("{tag}-start-bare-{i}");
        let t = Instant::now();
        start_empty(id).await.expect("start");
        bare_latency.push(t.elapsed());
        let t = Instant::now();
        let (result, job) = fast_path.process_routed(&request(format!("{tag}-start-{i}")));
        assert_eq!(result.status, Status::Accepted);
        starter.start(job.expect("durable")).await.expect("start");
        volcano_latency.push(t.elapsed());
    }
    row("start: bare SDK start_workflow (baseline)", bare_latency);
    row(
        "start: Volcano, decoded request to workflow started",
        volcano_latency,
    );
    // Let the zero-step and the started workflows drain before measuring throughput.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Throughput: four-step workflows, `concurrency` in flight. Two baselines: the steps as
    // regular activities, and as local activities (how Volcano runs in-process tools).
    let gate = Arc::new(Semaphore::new(concurrency));
    // The third runs the local activities' workflows with eager start: the server hands
    // the first workflow task back with the start, to the worker that shares the client.
    for (local, eager, name) in [
        (
            false,
            false,
            "four steps: bare SDK, no-op activities (baseline)",
        ),
        (
            true,
            false,
            "four steps: bare SDK, no-op local activities (baseline)",
        ),
        (
            true,
            true,
            "four steps: bare SDK, no-op local activities, eager start (baseline)",
        ),
    ] {
        let t = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..workflows {
            let mut options = bare_start(format!("{tag}-bare-{local}-{eager}-{i}"));
            options.enable_eager_workflow_start = eager;
            let (client, gate) = (client.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                let handle = client
                    .start_workflow(BareFlow::run, BareInput { steps: 4, local }, options)
                    .await
                    .expect("start");
                let n = handle
                    .get_result(WorkflowGetResultOptions::default())
                    .await
                    .expect("result");
                assert_eq!(n, 4);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        throughput(name, workflows, t.elapsed());
    }

    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..workflows {
        let (_, job) = fast_path.process_routed(&request(format!("{tag}-flow-{i}")));
        let job = job.expect("durable");
        let (client, gate, starter) = (client.clone(), gate.clone(), starter.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let id = job.request.id.clone();
            starter.start(job).await.expect("start");
            let outcome = client
                .get_workflow_handle::<DurableWorkflow>(id)
                .get_result(WorkflowGetResultOptions::default())
                .await
                .expect("result");
            assert_eq!(outcome.completed.len(), 4, "{outcome:?}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    throughput(
        "four steps: Volcano, template tools + result published",
        workflows,
        t.elapsed(),
    );

    // The same, with completion read where Volcano's users read it: the final result on the
    // results topic (no `get_result` long poll per workflow on the server).
    let waiter = ResultWaiter::at_end(&config, Duration::from_secs(10)).expect("results topic");
    let gate = Arc::new(Semaphore::new(concurrency));
    let prefix = format!("{tag}-topic-");
    let reader = {
        let (gate, prefix) = (gate.clone(), prefix.clone());
        tokio::spawn(async move {
            let mut done = 0;
            while done < workflows {
                let Some(result) = waiter.next(Duration::from_secs(60)).await else {
                    break;
                };
                if result.request_id.starts_with(&prefix) && result.status != Status::Accepted {
                    assert_eq!(result.status, Status::Ok, "{result:?}");
                    done += 1;
                    gate.add_permits(1);
                }
            }
            done
        })
    };
    let t = Instant::now();
    for i in 0..workflows {
        let (_, job) = fast_path.process_routed(&request(format!("{prefix}{i}")));
        gate.acquire().await.unwrap().forget();
        let starter = starter.clone();
        tokio::spawn(async move { starter.start(job.expect("durable")).await.expect("start") });
    }
    let done = reader.await.unwrap();
    assert_eq!(done, workflows, "every final result arrived");
    throughput(
        "four steps: Volcano, completion read from the results topic",
        workflows,
        t.elapsed(),
    );

    let _ = stop_tx.send(true);
    let _ = bare.join();
    let _ = volcano_worker.join();
}

//! Hot reload, end to end: from `git commit` returning to the first request answered with the
//! new definition, through the watcher, the broker, the materializer and the pipeline; beside
//! the baseline measured in the same run, a request's own round trip through the same broker
//! and pipeline with no commit (the floor under every reload figure, since a reload is only
//! seen by asking).
//!
//! Needs a broker: `deploy/dev.sh up` (or the test stack with `VOLCANO_CONFIG`). Run with
//! `cargo bench --profile dev --bench hot_reload` (`HOT_RELOAD_COMMITS`, default 50).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;
use volcano_connectors::avro;
use volcano_connectors::client::ResultWaiter;
use volcano_connectors::config::{TopicNames, VolcanoConfig};
use volcano_connectors::metrics::METRICS;
use volcano_connectors::{instance, kafka};
use volcano_pipeline::model::{Request, RequestResult};

const WAIT: Duration = Duration::from_secs(30);

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@volcano.example",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn ask(
    producer: &FutureProducer,
    waiter: &ResultWaiter,
    topic: &str,
    text: &str,
) -> RequestResult {
    let id = uuid::Uuid::now_v7().to_string();
    let request = Request {
        id: id.clone(),
        tenant: "main".into(),
        session_id: None,
        text: text.into(),
        submitted_at: chrono::Utc::now().timestamp_millis(),
        reply_topic: None,
        headers: Default::default(),
    };
    producer
        .send(
            FutureRecord::to(topic)
                .key(&id)
                .payload(&avro::encode_request(&request).unwrap()),
            WAIT,
        )
        .await
        .map_err(|(e, _)| e)
        .expect("produce");
    waiter
        .wait_for(std::slice::from_ref(&id), WAIT)
        .await
        .remove(&id)
        .expect("a result")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<44} n={:<4} p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.9).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

/// The bench's tool; `variant` changes its pattern (so every tenant's pattern shard holding
/// it is compiled again) while still matching "bench answer".
fn tool(answer: &str, variant: usize) -> String {
    format!(
        "version: 1\nname: bench-answer\npatterns:\n  - '^bench answer(?: v{variant})?$'\npriority: 50\ntool:\n  kind: template\n  template: \"{answer}\"\n"
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let commits: usize = std::env::var("HOT_RELOAD_COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let path = std::env::var_os("VOLCANO_CONFIG").map(std::path::PathBuf::from);
    let mut config = VolcanoConfig::load(path.as_deref()).expect("config");
    if kafka::probe(&config, Duration::from_secs(3)).is_err() {
        println!(
            "hot_reload: no broker at {} (run deploy/dev.sh up first); skipped",
            config.brokers()
        );
        return;
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("bench-reload-{}.", &run[..8]);
    config.kafka.topics = TopicNames::prefixed(&prefix);
    config.pipeline.group_id = format!("{prefix}pipeline");
    config.pipeline.metrics_addr = String::new();
    let dir = std::env::temp_dir().join(format!("volcano-{}", prefix.trim_end_matches('.')));
    config.registry.repo = Some(dir.join("config-repo"));
    config.registry.data_dir = Some(dir.join("registry"));
    config.stack.config_repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("repos");
    let repo = config.registry_repo();

    // The waiter subscribes to the results topic before the instance has had time to create it.
    kafka::ensure_topics(&config, &config.kafka.topics.all())
        .await
        .expect("topics");
    let (stop, shutdown) = watch::channel(false);
    let c = config.clone();
    let (registry_tx, registry_rx) = tokio::sync::oneshot::channel();
    let node = tokio::spawn(async move {
        instance::run_with(&c, instance::Roles::ALL, shutdown, Some(registry_tx))
            .await
            .expect("instance")
    });
    let registry = registry_rx
        .await
        .expect("the instance hands over its registry");
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = kafka::stream_producer(&config).unwrap();
    let topic = config.kafka.topics.requests.clone();
    // Warm up: the first answer also waits for start-up.
    ask(&producer, &waiter, &topic, "Calculate 42 + 58").await;

    let mut baseline = Vec::with_capacity(commits);
    for _ in 0..commits.max(20) {
        let start = Instant::now();
        ask(&producer, &waiter, &topic, "Calculate 42 + 58").await;
        baseline.push(start.elapsed());
    }

    let file = repo.join("tools/bench-answer.yaml");
    // Odd commits (and the first, which adds the tool) change its pattern; even ones only
    // its answer.
    let (mut effect, mut answers_only, mut patterns_too) = (Vec::new(), Vec::new(), Vec::new());
    let mut git_alone = Vec::new();
    for i in 0..commits {
        let answer = format!("answer {i}");
        std::fs::write(&file, tool(&answer, i.div_ceil(2))).unwrap();
        git(&repo, &["add", "tools/bench-answer.yaml"]);
        // From the start of `git commit`: git moves the branch before it exits, and the
        // watcher often publishes before the command returns.
        let committed = Instant::now();
        git(
            &repo,
            &["commit", "--quiet", "-m", &format!("bench commit {i}")],
        );
        git_alone.push(committed.elapsed());
        let head = git(&repo, &["rev-parse", "HEAD"]);
        tracing::debug!(i, %head, "bench: `git commit` returned");
        // Effect: every tenant serves the commit (a tenant's registry names `<main>+<own>`).
        while !registry
            .tenants()
            .iter()
            .all(|t| registry.load(t).commit.starts_with(&head))
        {
            assert!(committed.elapsed() < WAIT, "commit {i} never took effect");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        effect.push(committed.elapsed());
        loop {
            let result = ask(&producer, &waiter, &topic, "bench answer").await;
            if result.answer == answer {
                match i == 0 || i % 2 == 1 {
                    true => patterns_too.push(committed.elapsed()),
                    false => answers_only.push(committed.elapsed()),
                }
                break;
            }
            assert!(
                committed.elapsed() < WAIT,
                "commit {i} never served: {result:?}"
            );
        }
    }
    println!("hot reload on the embedded broker ({commits} commits, 2-core machine):");
    report("baseline: request round trip, no commit", baseline);
    report("baseline: the `git commit` command alone", git_alone);
    report("git commit → every tenant swapped (effect)", effect);
    report("commit → first answer: a tool's answer", answers_only);
    report("commit → first answer: a tool's pattern", patterns_too);
    let h = &METRICS.registry_reload_seconds;
    println!(
        "registry_reload_seconds (watcher publish → swap): count {} mean {:.2} ms",
        h.get_sample_count(),
        h.get_sample_sum() / h.get_sample_count().max(1) as f64 * 1e3
    );
    let _ = stop.send(true);
    let _ = node.await;
    let _ = std::fs::remove_dir_all(&dir);
}

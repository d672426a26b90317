//! The pipeline's state store (`connectors::state_store`): what it costs and how fast it
//! restores, each figure beside a baseline from the same run.
//!
//! - **Drain**: `N` requests (one in five in a session) wait in a fresh requests topic; a
//!   pipeline starts and answers them all, Kafka in to Kafka out. Throughput from the first
//!   result to the last, with the state store off (the baseline) and on.
//! - **Fixed rate**: `RATE` requests/s for `SECS` s, open loop (latency from each request's
//!   scheduled send to its result read back), p50 and p99, store off and on.
//! - **Restore**: the store-on drain's changelog restored into an empty store, records/s.
//! - **A hung tool**: arithmetic at `RATE` for `SECS`, alone and then beside ten calls per
//!   second to an `http` tool whose server never answers: the arithmetic's p50 and p99.
//!
//! The pipeline runs in this process (`pipeline_role::run`, as in the tests), on fresh
//! topics per pass. Needs the broker up: `volcano stack up --no-pipeline`, or a test stack
//! with `VOLCANO_CONFIG`. Then `cargo bench --bench state_store` (env `N`, default 20000;
//! `RATE`, default 500; `SECS`, default 20; `STORE`, `off` or `on` to drain with one only, for
//! a profile; `PASSES`, default `drain,rate,hung`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::Offset;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;
use volcano_connectors::config::{TopicNames, VolcanoConfig};
use volcano_connectors::http_client::UreqHttpClient;
use volcano_connectors::state_store::PartitionStore;
use volcano_connectors::{avro, durable, kafka, pipeline_role, registry_files};
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::Request;
use volcano_pipeline::registry::RegistryHandle;
use volcano_pipeline::tools::ToolServices;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn request(id: String, text: String, session: Option<String>) -> Request {
    Request {
        id,
        tenant: "main".into(),
        session_id: session,
        text,
        submitted_at: 0,
        reply_topic: None,
        headers: Default::default(),
    }
}

/// The `i`-th request of a drain or a fixed-rate pass: arithmetic, one in five in one of 100
/// sessions.
fn nth(prefix: &str, i: usize) -> Request {
    let session = i.is_multiple_of(5).then(|| format!("{prefix}s{}", i % 100));
    request(
        format!("{prefix}{i}"),
        format!("Calculate {i} + 1"),
        session,
    )
}

/// A config of `base` with topics of a pass's own.
fn pass_config(base: &VolcanoConfig, name: &str, store: bool) -> VolcanoConfig {
    let mut c = base.clone();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("bench-{name}-{}.", &id[..8]);
    c.kafka.topics = TopicNames::prefixed(&prefix);
    c.pipeline.group_id = format!("{prefix}pipeline");
    c.pipeline.state_store = store;
    c.pipeline.state_dir = Some(std::env::temp_dir().join(format!("volcano-bench-{prefix}")));
    c.pipeline.metrics_addr = String::new();
    c
}

/// A pipeline in this process, stopped by sending `true`.
async fn start_pipeline(
    config: &VolcanoConfig,
    registry: RegistryHandle,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    kafka::ensure_topics(config, &config.kafka.topics.all())
        .await
        .unwrap();
    let (tx, rx) = watch::channel(false);
    let c = config.clone();
    let task = tokio::spawn(async move {
        let starter = durable::Starter::new(&c);
        pipeline_role::run(&c, FastPath::new(registry, 100_000), starter, rx, None)
            .await
            .expect("pipeline runs");
    });
    (tx, task)
}

/// A reader of the results topic from its start: each result's key and when it arrived.
fn results_reader(
    config: &VolcanoConfig,
    want: usize,
) -> tokio::task::JoinHandle<Vec<(String, Instant)>> {
    let mut cc = kafka::client_config(config);
    cc.set("group.id", format!("{}reader", config.kafka.topics.results));
    cc.set("enable.auto.commit", "false");
    cc.set("fetch.wait.max.ms", "5");
    let consumer: StreamConsumer = cc.create().unwrap();
    let topic = config.kafka.topics.results.clone();
    kafka::assign_all(&consumer, &topic, Duration::from_secs(10), |_| {
        Ok(Offset::Beginning)
    })
    .unwrap();
    tokio::spawn(async move {
        let mut seen = Vec::with_capacity(want);
        let mut stream = consumer.stream();
        while seen.len() < want {
            match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
                Ok(Some(Ok(m))) => {
                    let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                    seen.push((key, Instant::now()));
                }
                _ => break,
            }
        }
        seen
    })
}

async fn produce(producer: &FutureProducer, topic: &str, r: &Request) -> bool {
    let key = r.session_id.clone().unwrap_or_else(|| r.id.clone());
    let payload = avro::encode_request(r).unwrap();
    producer
        .send(
            FutureRecord::to(topic).key(&key).payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .is_ok()
}

/// Drain: answers per second from the first result to the last.
async fn drain(config: &VolcanoConfig, registry: RegistryHandle, n: usize) -> f64 {
    kafka::ensure_topics(config, &config.kafka.topics.all())
        .await
        .unwrap();
    let producer = kafka::stream_producer(config).unwrap();
    let topic = config.kafka.topics.requests.clone();
    let prefix = "d";
    let mut sends = futures::stream::FuturesUnordered::new();
    for i in 0..n {
        let (producer, topic) = (producer.clone(), topic.clone());
        sends.push(async move { produce(&producer, &topic, &nth(prefix, i)).await });
        if sends.len() >= 1000 {
            sends.next().await;
        }
    }
    while sends.next().await.is_some() {}
    let reader = results_reader(config, n);
    let (stop, task) = start_pipeline(config, registry).await;
    let seen = reader.await.unwrap();
    let _ = stop.send(true);
    let _ = task.await;
    assert_eq!(seen.len(), n, "every request answered");
    let first = seen.first().unwrap().1;
    let last = seen.last().unwrap().1;
    (n - 1) as f64 / (last - first).as_secs_f64()
}

/// Latency percentiles of a fixed-rate pass, in ms: p50, p99, and how many were answered.
struct Latency {
    p50: f64,
    p99: f64,
    answered: usize,
    sent: usize,
}

/// Open loop at `rate` for `secs`: `make(i)` is the `i`-th request; only those `counted`
/// (by index) enter the figures. Latency counts from each request's scheduled time.
async fn fixed_rate(
    config: &VolcanoConfig,
    registry: RegistryHandle,
    rate: u64,
    secs: u64,
    make: impl Fn(usize) -> Request,
    counted: impl Fn(usize) -> bool,
) -> Latency {
    let total = (rate * secs) as usize;
    let (stop, task) = start_pipeline(config, registry).await;
    // Let it join its group and restore (an empty store) first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reader = results_reader(config, total);
    let producer = kafka::stream_producer(config).unwrap();
    let topic = config.kafka.topics.requests.clone();
    let start = Instant::now() + Duration::from_millis(500);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut due = HashMap::with_capacity(total);
    let mut sends = futures::stream::FuturesUnordered::new();
    for i in 0..total {
        let at = start + interval * i as u32;
        tokio::time::sleep_until(at.into()).await;
        let r = make(i);
        if counted(i) {
            due.insert(r.id.clone(), at);
        }
        let (producer, topic) = (producer.clone(), topic.clone());
        sends.push(async move { produce(&producer, &topic, &r).await });
        while let Some(Some(_)) = futures::FutureExt::now_or_never(sends.next()) {}
    }
    while sends.next().await.is_some() {}
    let seen = reader.await.unwrap();
    let _ = stop.send(true);
    let _ = task.await;
    let mut ms: Vec<f64> = seen
        .iter()
        .filter_map(|(key, at)| Some((*at - *due.get(key)?).as_secs_f64() * 1e3))
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ms.get(((ms.len() as f64 * p) as usize).min(ms.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Latency {
        p50: pct(0.5),
        p99: pct(0.99),
        answered: ms.len(),
        sent: due.len(),
    }
}

/// The example repository with an `http` tool whose server never answers (the tests').
fn hung_registry() -> RegistryHandle {
    let dir = common::content_with(
        "bench-hung",
        &[("tools/silent-status.yaml", common::silent_http_tool())],
    );
    let services = ToolServices {
        http: Some(Arc::new(UreqHttpClient::new())),
    };
    registry_files::load_registry(&dir, &services).expect("registry")
}

fn main() {
    let n = env("N", 20_000) as usize;
    let rate = env("RATE", 500);
    let secs = env("SECS", 20);
    let path = std::env::var_os("VOLCANO_CONFIG").map(PathBuf::from);
    let base = VolcanoConfig::load(path.as_deref()).expect("config");
    let registry = example_registry;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let passes = std::env::var("PASSES").unwrap_or_else(|_| "drain,rate,hung".into());
    let store = std::env::var("STORE").unwrap_or_default();
    runtime.block_on(async {
        if store == "off" || store == "on" {
            let c = pass_config(&base, "drain-one", store == "on");
            let rate = drain(&c, registry(), n).await;
            println!("drain of {n}, store {store}: {rate:.0} answers/s");
            return;
        }
        if passes.contains("drain") {
            println!("drain of {n} requests (one in five in a session), Kafka in to Kafka out");
            let off = drain(&pass_config(&base, "drain-off", false), registry(), n).await;
            println!("  store off: {off:.0} answers/s");
            let on_config = pass_config(&base, "drain-on", true);
            let on = drain(&on_config, registry(), n).await;
            println!("  store on:  {on:.0} answers/s ({:.2} x off)", on / off);
            restore(&on_config).await;
        }
        if passes.contains("rate") {
            rate_passes(&base, rate, secs).await;
        }
        if passes.contains("hung") {
            hung_passes(&base, rate, secs).await;
        }
    });
}

/// Restores the changelog of `config`'s partition 0 into an empty store.
async fn restore(config: &VolcanoConfig) {
    let config = config.clone();
    let dir = std::env::temp_dir().join(format!("volcano-bench-restore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = PartitionStore::open(
        &dir,
        (&config.kafka.topics.changelog, 0),
        Duration::from_secs(7 * 24 * 3600),
        Duration::ZERO,
    )
    .unwrap();
    let started = Instant::now();
    let restored = tokio::task::spawn_blocking(move || store.restore(&config).unwrap())
        .await
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "restore: {} records in {elapsed:.2} s, {:.0} records/s",
        restored.records,
        restored.records as f64 / elapsed
    );
}

/// Fixed rate, store off and on.
async fn rate_passes(base: &VolcanoConfig, rate: u64, secs: u64) {
    println!("fixed rate: {rate}/s for {secs} s, latency from the scheduled send (ms)");
    for store in [false, true] {
        let c = pass_config(base, "rate", store);
        let l = fixed_rate(
            &c,
            example_registry(),
            rate,
            secs,
            |i| nth("r", i),
            |_| true,
        )
        .await;
        println!(
            "  store {}: p50 {:.1}, p99 {:.1} ({}/{} answered)",
            if store { "on " } else { "off" },
            l.p50,
            l.p99,
            l.answered,
            l.sent
        );
    }
}

fn example_registry() -> RegistryHandle {
    registry_files::load_registry(Path::new("repos"), &Default::default())
        .expect("example registry")
}

/// Arithmetic alone, and beside calls to a hung tool.
async fn hung_passes(base: &VolcanoConfig, rate: u64, secs: u64) {
    println!(
        "arithmetic at {rate}/s for {secs} s, alone and beside 10/s calls to a hung http tool (ms)"
    );
    let every = (rate / 10).max(1) as usize;
    for hung in [false, true] {
        let c = pass_config(base, "hung", true);
        let make = |i: usize| match hung && i.is_multiple_of(every) {
            true => request(format!("h{i}"), "silent status of order 7".into(), None),
            false => nth("h", i),
        };
        let counted = |i: usize| !(hung && i.is_multiple_of(every));
        let l = fixed_rate(&c, hung_registry(), rate, secs, make, counted).await;
        println!(
            "  {}: p50 {:.1}, p99 {:.1} ({}/{} answered)",
            if hung {
                "beside the hung tool"
            } else {
                "alone"
            },
            l.p50,
            l.p99,
            l.answered,
            l.sent
        );
    }
}

//! REST ingress load: `POST /api/v1/execute` at a fixed rate, end to end (HTTP in, Kafka to
//! the pipeline, the result back from Kafka, HTTP out), beside two baselines measured in the
//! same run at the same rate:
//!
//! - the Kafka round trip without HTTP: a client produces the same requests to
//!   `volcano.requests` and reads their results from `volcano.results` (what `volcano send`
//!   does). The difference is what the ingress adds;
//! - one broker hop: one record produced and consumed back, no pipeline (a request through
//!   the pipeline makes two such hops).
//!
//! The ingress and the pipeline run as one `volcano run` process with both roles (release
//! build), as by default, so the pipeline hands its results to the ingress in-process; with
//! `PROCESSES=2` as two processes, every result then read back from the broker, and the
//! ingress's own memory and CPU measured apart (RSS at the end, and its peak). The load is
//! open-loop: each request has a scheduled send time and its latency counts from that time,
//! so a stall shows up in the figures instead of slowing the load down.
//!
//! Needs the broker up: `volcano stack up --no-pipeline` (or the test stack with
//! `VOLCANO_CONFIG=.volcano/test/volcano.toml`). Then
//! `cargo bench --bench ingress` (env `RATE` requests/s, default 2000; `SECS`, default 60;
//! `PROCESSES`, 1 or 2, default 1;
//! `CLIENTS` connections, default 256: with fewer, the client runs out of free connections
//! once latency grows, and its own queueing shows up as the ingress's tail; `TIMELINE=1`
//! prints each pass's worst latency per second of the run, to tell a stall at the start
//! from spikes throughout; `VOLCANO_KAFKA=linger.ms=10,…` sets librdkafka properties for
//! Volcano's processes only, the baselines keeping the config's).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rdkafka::Offset;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::FutureRecord;
use volcano_connectors::config::{TopicNames, VolcanoConfig};
use volcano_connectors::kafka;
use volcano_pipeline::model::Request;

const KEY: &str = "volcano-example-load-test";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Latency percentiles of a run, in milliseconds.
struct Figures {
    sent: usize,
    ok: usize,
    errors: usize,
    lat: Vec<f64>,
    secs: f64,
    /// The worst latency of each second's requests, for `TIMELINE=1`.
    worst: Vec<f64>,
}

impl Figures {
    /// From each correctly answered request's index and latency (ms), at `rate` per second.
    fn new(sent: usize, errors: usize, answered: Vec<(usize, f64)>, rate: u64, secs: f64) -> Self {
        let rate = rate.max(1) as usize;
        let mut worst = vec![0f64; sent / rate + 1];
        let mut lat = Vec::with_capacity(answered.len());
        for (i, ms) in answered {
            let second = &mut worst[i / rate];
            *second = second.max(ms);
            lat.push(ms);
        }
        lat.sort_by(f64::total_cmp);
        Figures {
            sent,
            ok: lat.len(),
            errors,
            lat,
            secs,
            worst,
        }
    }

    /// With `TIMELINE=1`, the worst latency of each second's requests.
    fn print_timeline(&self, what: &str) {
        if std::env::var_os("TIMELINE").is_some() {
            let line: Vec<String> = self.worst.iter().map(|ms| format!("{ms:.0}")).collect();
            println!("worst ms per second of {what}: {}", line.join(" "));
        }
    }

    fn pct(&self, p: f64) -> f64 {
        if self.lat.is_empty() {
            return f64::NAN;
        }
        let i = ((self.lat.len() as f64 - 1.0) * p).round() as usize;
        self.lat[i]
    }

    fn row(&self, what: &str) {
        println!(
            "| {what} | {:.0}/s | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            self.ok as f64 / self.secs,
            self.pct(0.5),
            self.pct(0.99),
            self.pct(0.999),
            self.lat.last().copied().unwrap_or(f64::NAN),
            self.errors + (self.sent - self.ok - self.errors),
        );
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The example content with main's limits raised for the load key's tenant.
fn content() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "volcano-ingress-bench-content-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let ok = Command::new("cp")
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("repos"))
        .arg(&dir)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let security = dir.join("main/configs/security.yaml");
    let text = std::fs::read_to_string(&security).unwrap();
    let text = text
        .replace("requests_per_second: 500", "requests_per_second: 100000")
        .replace("burst: 1000", "burst: 100000")
        .replace(
            "max_requests_in_flight: 2000",
            "max_requests_in_flight: 100000",
        );
    std::fs::write(&security, text).unwrap();
    dir
}

fn spawn(config: &Path, roles: &[&str], log: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_volcano"));
    command.arg("--config").arg(config).arg("run");
    for role in roles {
        command.args(["--role", role]);
    }
    command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("volcano run starts")
}

fn stop(mut child: Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// CPU time (user + system) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at `) `.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 11 and 12 after the name;
    // the kernel counts them in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

/// `VmRSS` and `VmHWM` (peak) of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_idle_connections_per_host(4)
        .build()
        .new_agent()
}

/// Waits for `/readyz` to answer 200.
fn ready(addr: SocketAddr) {
    let agent = agent();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(r) = agent.get(format!("http://{addr}/readyz")).call()
            && r.status() == 200
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the ingress at {addr} never became ready");
}

/// Opens one HTTP/1.1 keep-alive connection to the ingress.
async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One execute call on `sender`; the status and the body.
async fn execute(sender: &mut SendRequest<Full<Bytes>>, i: usize) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let body = format!("{{\"text\":\"Calculate {i} + 1\",\"wait_ms\":10000}}");
    let request = hyper::Request::post("/api/v1/execute")
        .header("Host", "volcano")
        .header("Authorization", format!("Bearer {KEY}"))
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

/// Open-loop load on the ingress: request `i` is due at `start + i / rate`; `clients`
/// connections, each an async task on the bench's runtime, take requests in turn. (An async
/// client leaves the machine's two cores to the system under test: a thread per connection
/// cost as much CPU as the ingress itself.)
async fn http_load(addr: SocketAddr, rate: u64, secs: u64, clients: usize) -> Figures {
    let total = (rate * secs) as usize;
    let next = Arc::new(AtomicUsize::new(0));
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut sender = None;
                // Each correct answer's index and latency; the errors.
                let mut out = (Vec::new(), 0usize);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return out;
                    }
                    let due = start + interval * i as u32;
                    tokio::time::sleep_until(due).await;
                    if sender.is_none() {
                        sender = connect(addr).await.ok();
                    }
                    let Some(s) = sender.as_mut() else {
                        out.1 += 1;
                        continue;
                    };
                    let reply = tokio::time::timeout(Duration::from_secs(30), execute(s, i)).await;
                    let elapsed = due.elapsed().as_secs_f64() * 1e3;
                    match reply {
                        Ok(Ok((200, body))) => {
                            let expected = format!("\"value\":\"{}\"", i + 1);
                            if String::from_utf8_lossy(&body).contains(&expected) {
                                out.0.push((i, elapsed));
                            } else {
                                out.1 += 1;
                            }
                        }
                        Ok(Ok(_)) => out.1 += 1,
                        // A broken or stuck connection is not reused.
                        _ => {
                            out.1 += 1;
                            sender = None;
                        }
                    }
                }
            })
        })
        .collect();
    let (mut answered, mut errors) = (Vec::with_capacity(total), 0);
    for t in tasks {
        let (a, e) = t.await.unwrap();
        answered.extend(a);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Figures::new(total, errors, answered, rate, elapsed)
}

/// Open-loop Kafka load: record `i` (`record` gives its key and payload) is produced to `to`
/// when it is due, and its latency ends when a message on `from` that `answered` maps back to
/// `i` is consumed (read by partition assignment from the end, no group).
async fn kafka_load(
    config: &VolcanoConfig,
    rate: u64,
    secs: u64,
    (to, from): (&str, &str),
    record: impl Fn(usize) -> (String, Vec<u8>),
    answered: impl Fn(&BorrowedMessage<'_>) -> Option<usize> + Send + 'static,
) -> Figures {
    let producer = kafka::stream_producer(config).unwrap();
    let mut cc = kafka::client_config(config);
    cc.set("group.id", format!("volcano-bench-{from}"));
    cc.set("enable.auto.commit", "false");
    cc.set("fetch.wait.max.ms", "5");
    let consumer: StreamConsumer = cc.create().unwrap();
    kafka::assign_all(&consumer, from, Duration::from_secs(10), |p| {
        let (_, high) = consumer.fetch_watermarks(from, p, Duration::from_secs(10))?;
        Ok(Offset::Offset(high))
    })
    .unwrap();
    let total = (rate * secs) as usize;
    let start = Instant::now() + Duration::from_millis(500);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let reader = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(total);
        let mut stream = consumer.stream();
        while latencies.len() < total {
            match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
                Ok(Some(Ok(m))) => {
                    if let Some(i) = answered(&m).filter(|i| *i < total) {
                        let due = start + interval * i as u32;
                        latencies.push((i, due.elapsed().as_secs_f64() * 1e3));
                    }
                }
                _ => break,
            }
        }
        latencies
    });
    let mut sends = futures::stream::FuturesUnordered::new();
    let mut errors = 0;
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (key, payload) = record(i);
        let producer = producer.clone();
        sends.push(async move {
            producer
                .send(
                    FutureRecord::to(to).key(&key).payload(&payload),
                    Duration::from_secs(10),
                )
                .await
                .is_ok()
        });
        while let Some(Some(ok)) = futures::FutureExt::now_or_never(sends.next()) {
            errors += usize::from(!ok);
        }
    }
    while let Some(ok) = sends.next().await {
        errors += usize::from(!ok);
    }
    let latencies = reader.await.unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    Figures::new(total, errors, latencies, rate, elapsed)
}

/// The process's `GET /metrics` text (empty when it cannot be read).
async fn metrics_text(addr: SocketAddr) -> String {
    let Ok(mut sender) = connect(addr).await else {
        return String::new();
    };
    let request = hyper::Request::get("/metrics")
        .header("Host", "volcano")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let Ok(response) = sender.send_request(request).await else {
        return String::new();
    };
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

/// The cumulative buckets (upper bound in seconds, count) of one histogram in a metrics
/// text: the lines `<name>_bucket{<labels>le="…"} <count>`, `labels` as written before `le`.
fn buckets(text: &str, name: &str, labels: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{{labels}le=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|l| {
            let (le, count) = l.split_once("\"} ")?;
            Some((
                le.parse().unwrap_or(f64::INFINITY),
                count.trim().parse().ok()?,
            ))
        })
        .collect()
}

/// Observations between two readings of a histogram's buckets: the `+Inf` bucket's growth.
fn observed(before: &[(f64, u64)], after: &[(f64, u64)]) -> u64 {
    let total = |b: &[(f64, u64)]| b.last().map_or(0, |(_, c)| *c);
    total(after).saturating_sub(total(before))
}

/// The bucket bound under which a share `q` of the observations between two readings fell.
fn quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> String {
    let count = |b: &[(f64, u64)], i: usize| b.get(i).map_or(0, |(_, c)| *c);
    let total = observed(before, after);
    for (i, (le, _)) in after.iter().enumerate() {
        let below = count(after, i).saturating_sub(count(before, i));
        if total > 0 && below as f64 >= q * total as f64 {
            return format!("≤ {:.1} ms", le * 1e3);
        }
    }
    "–".into()
}

/// One broker hop: a record produced and consumed back, its index as the payload.
async fn broker_round_trip(config: &VolcanoConfig, rate: u64, secs: u64) -> Figures {
    let topic = format!("{}roundtrip", config.kafka.topics.requests);
    kafka::ensure_topics(config, &[&topic]).await.unwrap();
    let record = |i: usize| (format!("k{i}"), i.to_string().into_bytes());
    let answered = |m: &BorrowedMessage<'_>| {
        std::str::from_utf8(m.payload().unwrap_or_default())
            .ok()
            .and_then(|s| s.parse().ok())
    };
    kafka_load(config, rate, secs, (&topic, &topic), record, answered).await
}

/// The baseline: the same requests as the HTTP load, produced straight to the requests
/// topic (keyed by id, as `volcano send` does), their results read from the results topic.
async fn kafka_round_trip(config: &VolcanoConfig, rate: u64, secs: u64) -> Figures {
    let prefix = format!("kafka-{}-", std::process::id());
    let record = |i: usize| {
        let request = Request {
            id: format!("{prefix}{i}"),
            tenant: "main".into(),
            session_id: None,
            text: format!("Calculate {i} + 1"),
            submitted_at: 0,
            reply_topic: None,
            headers: Default::default(),
        };
        let payload = volcano_connectors::avro::encode_request(&request).unwrap();
        (request.id, payload)
    };
    let reader_prefix = prefix.clone();
    let answered = move |m: &BorrowedMessage<'_>| {
        let key = std::str::from_utf8(m.key().unwrap_or_default()).ok()?;
        let i = key.strip_prefix(&reader_prefix)?.parse::<usize>().ok()?;
        let result = volcano_connectors::avro::decode_result(m.payload().unwrap_or_default());
        result
            .is_ok_and(|r| r.value.as_deref() == Some(&(i + 1).to_string()))
            .then_some(i)
    };
    let topics = &config.kafka.topics;
    kafka_load(
        config,
        rate,
        secs,
        (&topics.requests, &topics.results),
        record,
        answered,
    )
    .await
}

fn main() {
    let rate = env("RATE", 2000);
    let secs = env("SECS", 60);
    let clients = env("CLIENTS", 256) as usize;
    let processes = env("PROCESSES", 1);
    let path = std::env::var_os("VOLCANO_CONFIG").map(PathBuf::from);
    let mut config = VolcanoConfig::load(path.as_deref()).expect("config");
    let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let prefix = format!("bench-ingress-{id}.");
    config.kafka.topics = TopicNames::prefixed(&prefix);
    config.pipeline.group_id = format!("{prefix}pipeline");
    config.pipeline.metrics_addr = String::new();
    let dir = std::env::temp_dir().join(format!("volcano-bench-ingress-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    config.registry.repo = Some(dir.join("config-repo"));
    config.stack.config_repo = content();
    config.ingress.data_dir = Some(dir.join("ingress"));

    // The pipeline process watches the repository; the ingress process follows the commits
    // topic with a registry of its own. `VOLCANO_KAFKA` (`key=value,…`) sets librdkafka
    // properties for Volcano's processes only, to try a setting against unchanged baselines.
    let mut pipeline = config.clone();
    for (key, value) in std::env::var("VOLCANO_KAFKA")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
    {
        pipeline
            .kafka
            .properties
            .insert(key.trim().into(), value.trim().into());
    }
    pipeline.ingress.addr = String::new();
    pipeline.registry.data_dir = Some(dir.join("registry-pipeline"));
    let addr = free_addr();
    let mut ingress = pipeline.clone();
    ingress.ingress.addr = addr.to_string();
    ingress.registry.watch = false;
    ingress.registry.data_dir = Some(dir.join("registry-ingress"));
    let write = |name: &str, c: &VolcanoConfig| {
        let p = dir.join(name);
        std::fs::write(&p, toml::to_string(c).unwrap()).unwrap();
        p
    };
    // Or one process with both roles, as `volcano run` runs by default: the pipeline then
    // hands its results to the ingress in-process, one broker hop less.
    let mut both = pipeline.clone();
    both.ingress.addr = addr.to_string();
    let pipeline_path = write("pipeline.toml", &pipeline);
    let ingress_path = write("ingress.toml", &ingress);
    let both_path = write("both.toml", &both);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(kafka::ensure_topics(&config, &config.kafka.topics.all()))
        .unwrap();
    let (pipeline_proc, ingress_proc) = match processes {
        1 => (
            None,
            spawn(&both_path, &["pipeline", "ingress"], &dir.join("both.log")),
        ),
        _ => {
            let pipeline = spawn(&pipeline_path, &["pipeline"], &dir.join("pipeline.log"));
            std::thread::sleep(Duration::from_secs(2));
            let ingress = spawn(&ingress_path, &["ingress"], &dir.join("ingress.log"));
            (Some(pipeline), ingress)
        }
    };
    ready(addr);
    // Warm up: connections, the pipeline's partitions, the first registry loads.
    let _ = runtime.block_on(http_load(addr, 200, 3, 8));

    println!(
        "REST ingress load: {rate} requests/s for {secs} s, {clients} connections, loopback, \
         {}",
        match processes {
            1 => "ingress and pipeline in one process",
            _ => "ingress and pipeline in two processes",
        }
    );
    let hop = runtime.block_on(broker_round_trip(&config, rate, secs));
    let metrics_before = runtime.block_on(metrics_text(addr));
    let baseline = runtime.block_on(kafka_round_trip(&config, rate, secs));
    let metrics_baseline = runtime.block_on(metrics_text(addr));
    let pipeline_cpu = || pipeline_proc.as_ref().map_or(0.0, |p| cpu_seconds(p.id()));
    let cpu_before = (cpu_seconds(ingress_proc.id()), pipeline_cpu());
    let loaded = runtime.block_on(http_load(addr, rate, secs, clients));
    let metrics_loaded = runtime.block_on(metrics_text(addr));
    let cpu_ingress = cpu_seconds(ingress_proc.id()) - cpu_before.0;
    let cpu_pipeline = pipeline_cpu() - cpu_before.1;
    let (rss, peak) = memory(ingress_proc.id());
    println!();
    println!("| measured | throughput | p50 ms | p99 ms | p999 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    let passes = [
        (&hop, "one broker hop, produce → consume"),
        (
            &baseline,
            "Kafka round trip through the pipeline, no HTTP (baseline)",
        ),
        (
            &loaded,
            "POST /api/v1/execute through the ingress, end to end",
        ),
    ];
    for (figures, what) in passes {
        figures.row(what);
    }
    println!();
    for (figures, what) in passes {
        figures.print_timeline(what);
    }
    println!(
        "p99 over one broker hop: {:+.1} ms (target ≤ +5 ms); over the Kafka round trip: {:+.1} ms; \
         ingress RSS {rss:.0} MiB (peak {peak:.0} MiB)",
        loaded.pct(0.99) - hop.pct(0.99),
        loaded.pct(0.99) - baseline.pct(0.99)
    );
    // Where a call's time goes, from the process's own histograms between the readings
    // around each pass (one process only: a pipeline of its own serves no metrics here).
    if processes == 1 {
        let series = [
            (
                "the requests' age when the pipeline read them (Kafka timestamp → consumed)",
                "volcano_pipeline_record_age_seconds",
                "",
            ),
            (
                "the pipeline's result produce, handed to acknowledged",
                "volcano_pipeline_produce_seconds",
                "",
            ),
            (
                "the ingress's answered calls, request read → response",
                "volcano_ingress_execute_duration_seconds",
                "outcome=\"answered\",",
            ),
        ];
        for (what, before, after) in [
            ("Kafka round trip", &metrics_before, &metrics_baseline),
            ("REST", &metrics_baseline, &metrics_loaded),
        ] {
            for (measure, name, labels) in series {
                let (before, after) = (buckets(before, name, labels), buckets(after, name, labels));
                if observed(&before, &after) == 0 {
                    continue;
                }
                println!(
                    "{what} pass, {measure}: p50 {}, p99 {}",
                    quantile(&before, &after, 0.5),
                    quantile(&before, &after, 0.99)
                );
            }
        }
    }
    let per_request = |cpu: f64| cpu * 1e6 / loaded.sent.max(1) as f64;
    match &pipeline_proc {
        Some(_) => println!(
            "CPU during the HTTP load: ingress {cpu_ingress:.1} s ({:.0} µs per request), pipeline {cpu_pipeline:.1} s ({:.0} µs per request), of {:.0} s × 2 cores",
            per_request(cpu_ingress),
            per_request(cpu_pipeline),
            loaded.secs
        ),
        None => println!(
            "CPU during the HTTP load: ingress and pipeline {cpu_ingress:.1} s ({:.0} µs per request), of {:.0} s × 2 cores",
            per_request(cpu_ingress),
            loaded.secs
        ),
    }
    stop(ingress_proc);
    if let Some(p) = pipeline_proc {
        stop(p);
    }
}

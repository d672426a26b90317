//! Faults seen from outside, with real `volcano` processes on the real broker: what a
//! process says (`/readyz`, `/metrics`) when its consumer group stops moving.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use volcano_connectors::avro;
use volcano_connectors::config::VolcanoConfig;
use volcano_pipeline::model::{Request, Status};

const BIN: &str = env!("CARGO_BIN_EXE_volcano");

/// A `volcano run --role pipeline` process, killed (`kill -9`) when dropped.
struct Pipeline {
    child: Child,
    metrics: String,
}

impl Pipeline {
    /// Starts one with `config`, its registry state in `dir`, its metrics on a free port.
    fn spawn(config: &VolcanoConfig, dir: &Path) -> Pipeline {
        let mut c = config.clone();
        let port = free_port();
        c.pipeline.metrics_addr = format!("127.0.0.1:{port}");
        c.registry.data_dir = Some(dir.join("registry"));
        // A state store of its own, as on a machine of its own: a partition that moves here
        // is restored from the changelog.
        c.pipeline.state_dir = Some(dir.join("state"));
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("volcano.toml");
        std::fs::write(&path, toml::to_string(&c).unwrap()).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&path)
            .args(["run", "--role", "pipeline"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("volcano starts");
        Pipeline {
            child,
            metrics: c.pipeline.metrics_addr,
        }
    }

    /// A group's first member (it watches the config repository), once `/readyz` says ok.
    /// Its process lives in a folder of the test's own beside the registry state.
    async fn first(config: &VolcanoConfig) -> Pipeline {
        volcano_connectors::kafka::ensure_topics(config, &config.kafka.topics.all())
            .await
            .unwrap();
        Pipeline::ready(config, "a")
    }

    /// A further member, following the first's commits instead of watching the repository
    /// too, once `/readyz` says ok.
    fn follower(config: &VolcanoConfig) -> Pipeline {
        let mut follower = config.clone();
        follower.registry.watch = false;
        Pipeline::ready(&follower, "b")
    }

    fn ready(config: &VolcanoConfig, name: &str) -> Pipeline {
        let dir = config.registry.data_dir.clone().unwrap();
        let p = Pipeline::spawn(config, &dir.with_file_name("procs").join(name));
        p.readyz_until(200, |b| b == "ok", Duration::from_secs(90));
        p
    }

    /// Partitions of the requests topic it owns.
    fn owned(&self) -> f64 {
        self.metric("volcano_pipeline_partitions_assigned")
    }

    /// `GET path` on the metrics server: status and body, or `None` while it is not up.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(&self.metrics).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    }

    /// The value of the metric line that starts with `series`, 0 when absent.
    fn metric(&self, series: &str) -> f64 {
        let Some((_, text)) = self.get("/metrics") else {
            return 0.0;
        };
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits until `/readyz` answers `status` with a body that satisfies `body`.
    fn readyz_until(&self, status: u16, body: impl Fn(&str) -> bool, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        let mut last = None;
        while Instant::now() < deadline {
            last = self.get("/readyz");
            if let Some((s, b)) = &last
                && *s == status
                && body(b)
            {
                return b.clone();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{}: /readyz never became {status} as asked; last {last:?}",
            self.metrics
        );
    }
}

impl Pipeline {
    /// SIGTERM: it leaves the group, drains and commits; waits for it to exit.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() {
            assert!(Instant::now() < deadline, "the member never stopped");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to a minute for `done`, checking five times a second.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Two pipeline processes in one group over a one-partition topic: one owns the partition,
/// the other nothing. A durable request whose workflow cannot start (Temporal is
/// unreachable: a transient fault, retried) holds the partition's committed offset while
/// the requests after it are answered. Both processes say so: the owner that its partition
/// has records waiting with no progress, the other that it owns nothing while records
/// wait. Before, `/readyz` said "ok" throughout and no metric showed the lag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_stops_moving_is_not_ready_and_says_why() {
    let mut config = test_config("stall");
    config.kafka.partitions = Some(1);
    config.pipeline.lag_probe_ms = 300;
    config.pipeline.stall_after_ms = 2_000;
    // Nothing listens there: every start fails and is retried.
    config.temporal.address = format!("127.0.0.1:{}", free_port());
    config.temporal.start_timeout_ms = 500;
    let first = Pipeline::first(&config).await;
    let second = Pipeline::follower(&config);
    wait_until("the group never settled", || {
        first.owned() + second.owned() == 1.0
    });
    let (owner, other) = match first.owned() == 1.0 {
        true => (&first, &second),
        false => (&second, &first),
    };

    let producer = producer(&config);
    let topic = &config.kafka.topics.requests;
    let mut sends = vec![request(
        "durable",
        "process customer data and generate report",
    )];
    sends.extend((0..3).map(|i| request(&format!("fast-{i}"), &format!("Calculate {i} + 1"))));
    let waiter =
        volcano_connectors::client::ResultWaiter::at_end(&config, Duration::from_secs(60)).unwrap();
    for r in &sends {
        produce_raw(&producer, topic, &r.id, &avro::encode_request(r).unwrap()).await;
    }
    let fast: Vec<String> = sends[1..].iter().map(|r| r.id.clone()).collect();
    let answered = waiter.wait_for(&fast, Duration::from_secs(60)).await;
    assert_eq!(answered.len(), 3, "the requests after it are answered");

    let wait = Duration::from_secs(30);
    let reason = owner.readyz_until(
        503,
        |b| b.contains("partition 0 has 4 records waiting"),
        wait,
    );
    assert!(reason.contains("has not moved"), "{reason}");
    let reason = other.readyz_until(503, |b| b.contains("owns no partition"), wait);
    assert!(reason.contains("4 records wait"), "{reason}");
    for p in [owner, other] {
        assert_eq!(p.metric("volcano_pipeline_stalled_partitions"), 1.0);
        assert_eq!(
            p.metric("volcano_pipeline_consumer_lag_records{partition=\"0\"}"),
            4.0
        );
    }
}
/// Two pipeline processes share a two-partition topic while requests keep coming; one is
/// killed with `kill -9` (it never leaves the group) and started again later. The survivor
/// takes the dead member's partition once its session times out, the restarted one gets its
/// share back, and every request is answered, each copy of a result the same. On a broker
/// whose coordinator keeps a dead member's partitions (tansu 0.6) this fails: the partition
/// stays with the dead member and its requests are never answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_pipeline_moves_its_partitions_and_every_request_is_answered() {
    let mut config = test_config("kill9");
    config.kafka.partitions = Some(2);
    config.pipeline.lag_probe_ms = 500;
    // A dead member is noticed after this: the broker's minimum.
    config
        .kafka
        .properties
        .insert("session.timeout.ms".into(), "6000".into());
    config
        .kafka
        .properties
        .insert("heartbeat.interval.ms".into(), "1000".into());
    let first = Pipeline::first(&config).await;
    let mut second = Pipeline::follower(&config);
    let settle = |a: &Pipeline, b: &Pipeline, want: (f64, f64), what: &str| {
        wait_until(&format!("{what}: never owned {want:?}"), || {
            (a.owned(), b.owned()) == want
        })
    };
    settle(&first, &second, (1.0, 1.0), "both members");

    let producer = producer(&config);
    let topic = config.kafka.topics.requests.clone();
    let waiter =
        volcano_connectors::client::ResultWaiter::at_end(&config, Duration::from_secs(60)).unwrap();
    let ids: Vec<String> = (0..300).map(|i| format!("k-{i}")).collect();
    let send = |range: std::ops::Range<usize>| {
        let (producer, topic, ids) = (&producer, &topic, &ids);
        async move {
            for i in range {
                let r = request(&ids[i], &format!("Calculate {i} * 3"));
                produce_raw(producer, topic, &ids[i], &avro::encode_request(&r).unwrap()).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    send(0..100).await;
    // kill -9: no leave, no commit, no drain.
    drop(second);
    send(100..200).await;
    settle(&first, &first, (2.0, 2.0), "the survivor");
    second = Pipeline::follower(&config);
    send(200..300).await;
    settle(&first, &second, (1.0, 1.0), "the restarted member");

    let results = waiter.wait_for(&ids, Duration::from_secs(90)).await;
    assert_eq!(results.len(), ids.len(), "every request is answered");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            results[id].value.as_deref(),
            Some((i * 3).to_string().as_str())
        );
    }
    let by_id = one_answer_each(&read_results(&config, Duration::from_secs(5)).await);
    assert_eq!(by_id.len(), ids.len());
    first.readyz_until(200, |b| b == "ok", Duration::from_secs(30));
    second.readyz_until(200, |b| b == "ok", Duration::from_secs(30));
}

/// A second member joins a group whose only member owns all three partitions: only the
/// partitions that change owner are revoked (cooperative-sticky), so the first member keeps
/// the rest with their in-flight work. The eager assignors revoked all three first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joining_moves_only_the_partitions_that_change_owner() {
    let mut config = test_config("sticky");
    config.kafka.partitions = Some(3);
    let first = Pipeline::first(&config).await;
    wait_until("the first member never owned all three", || {
        first.owned() == 3.0
    });
    let second = Pipeline::follower(&config);
    wait_until("the group never settled", || {
        first.owned() + second.owned() == 3.0 && second.owned() != 0.0
    });
    let kept = first.owned();
    let revoked = first.metric("volcano_pipeline_partitions_revoked_total");
    assert_eq!(
        revoked,
        3.0 - kept,
        "the first member lost only what moved ({kept} kept)"
    );
}

/// An `http` tool whose server accepts the connection and never answers, with its own
/// timeout at 60 s: the fast path gives up when the tenant's `fast_path_timeout_ms` runs
/// out, with an `ERROR` result of kind `timeout`, and the next request is answered at once.
/// The tool's own timeout held the pipeline for 60 s before.
#[test]
fn a_silent_http_server_costs_a_request_its_time_limit_not_the_tool_s_timeout() {
    use std::sync::Arc;
    use volcano_connectors::http_client::UreqHttpClient;
    use volcano_connectors::registry_files;
    use volcano_pipeline::fast_path::FastPath;
    use volcano_pipeline::model::Status;
    use volcano_pipeline::tools::ToolServices;

    let tool = silent_http_tool();
    let dir = content_with("silent", &[("tools/silent-status.yaml", tool)]);
    let services = ToolServices {
        http: Some(Arc::new(UreqHttpClient::new())),
    };
    let registry = registry_files::load_registry(&dir, &services).expect("registry");
    let budget = registry.load("main").routing.fast_path_timeout_ms;
    let mut fast_path = FastPath::new(registry, 16);

    let started = Instant::now();
    let r = fast_path.process(&request("silent", "silent status of order 7"));
    let took = started.elapsed();
    assert_eq!(r.status, Status::Error, "{r:?}");
    assert_eq!(r.error_kind.as_deref(), Some("timeout"), "{r:?}");
    assert!(
        took >= Duration::from_millis(budget) && took < Duration::from_millis(budget + 1_000),
        "answered after {took:?} with a {budget} ms limit"
    );
    let next = fast_path.process(&request("next", "Calculate 42 + 58"));
    assert_eq!(next.value.as_deref(), Some("100"));
}

/// The broker is killed with `kill -9` while requests keep coming, and started again on the
/// same data a few seconds later. The pipeline rides it out (its produces and commits are
/// retried as transient faults): every request is answered, and the group's committed
/// offsets reach the end of every partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_and_restarted_mid_stream_loses_no_request() {
    let mut config = test_config("broker-restart");
    let broker = OwnBroker::for_test(&mut config);
    let pipeline = RunningPipeline::start(&config).await;
    let waiter =
        volcano_connectors::client::ResultWaiter::at_end(&config, Duration::from_secs(30)).unwrap();
    let producer = producer(&config);
    let topic = config.kafka.topics.requests.clone();
    let ids: Vec<String> = (0..200).map(|i| format!("b-{i}")).collect();
    let encoded = |i: usize| {
        let r = request(&ids[i], &format!("Calculate {i} + 1000"));
        avro::encode_request(&r).unwrap()
    };
    for (i, id) in ids.iter().enumerate().take(100) {
        produce_raw(&producer, &topic, id, &encoded(i)).await;
    }
    let first = waiter.wait_for(&ids[..100], Duration::from_secs(60)).await;
    assert_eq!(first.len(), 100);

    let (dir, port) = broker.kill();
    // These wait in the producer's queue while the broker is down.
    let late: Vec<_> = (100..200)
        .map(|i| {
            let (producer, topic) = (producer.clone(), topic.clone());
            let (id, bytes) = (ids[i].clone(), encoded(i));
            tokio::spawn(async move { produce_raw(&producer, &topic, &id, &bytes).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let broker = OwnBroker::start(&config, &dir, port);
    for task in late {
        task.await.unwrap();
    }
    // Read with a new consumer, to test the pipeline rather than a reader assigned before the
    // kill (one once did not resume after a restart: README, limits).
    let deadline = Instant::now() + Duration::from_secs(90);
    let results = loop {
        let by_id: std::collections::HashMap<String, Option<String>> =
            read_results(&config, Duration::from_secs(3))
                .await
                .into_iter()
                .map(|r| (r.request_id, r.value))
                .collect();
        if by_id.len() == ids.len() || Instant::now() > deadline {
            break by_id;
        }
    };
    assert_eq!(results.len(), ids.len(), "every request is answered");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            results[id].as_deref(),
            Some((i + 1000).to_string().as_str())
        );
    }
    pipeline.stop().await;

    assert!(group_committed_to_the_end(&config) > 0);
    drop(broker);
}

fn post_execute(addr: &str, text: &str) -> Option<(u16, String)> {
    let body = format!("{{\"text\": \"{text}\", \"wait_ms\": 5000}}");
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "POST /api/v1/execute HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer volcano-example-main-ingress\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_string()))
}

/// `volcano run` with every role (the REST ingress answers from the pipeline of its process)
/// while its broker is killed with `kill -9` and restarted on its data: REST calls are
/// answered again within seconds of the restart, with no restart of Volcano.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_calls_are_answered_again_soon_after_a_broker_restart() {
    let mut config = test_config("ingress-restart");
    config.ingress.addr = format!("127.0.0.1:{}", free_port());
    let broker = OwnBroker::for_test(&mut config);
    let instance = Instance::start(&config).await;
    let broker = rest_across_a_broker_restart(&config, broker).await;
    instance.stop().await;
    drop(broker);
}

/// The same with the REST ingress in a process of its own (`--role ingress`), whose answers
/// come back through its result feed (an assigned consumer of the results topic) rather than
/// from a pipeline in its process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingress_of_its_own_answers_again_soon_after_a_broker_restart() {
    use volcano_connectors::instance::Roles;
    let mut config = test_config("ingress-only-restart");
    config.ingress.addr = format!("127.0.0.1:{}", free_port());
    let broker = OwnBroker::for_test(&mut config);
    let mut pipeline = config.clone();
    pipeline.ingress.addr = String::new();
    let only = |pipeline, ingress| Roles {
        pipeline,
        worker: false,
        ingress,
    };
    let pipeline = Instance::start_with(&pipeline, only(true, false)).await;
    let mut ingress = config.clone();
    ingress.registry.watch = false;
    let dir = ingress.registry.data_dir.clone().unwrap();
    ingress.registry.data_dir = Some(dir.with_file_name("ingress-registry"));
    let ingress = Instance::start_with(&ingress, only(false, true)).await;
    let broker = rest_across_a_broker_restart(&config, broker).await;
    ingress.stop().await;
    pipeline.stop().await;
    drop(broker);
}

/// A REST call answered, the broker killed with `kill -9` and restarted on its data, and a
/// call answered again within 30 s; returns the restarted broker.
async fn rest_across_a_broker_restart(config: &VolcanoConfig, broker: OwnBroker) -> OwnBroker {
    let addr = config.ingress.addr.clone();
    let answered_within = |text: &'static str, wait: Duration| {
        let addr = addr.clone();
        async move {
            let started = Instant::now();
            loop {
                let a = addr.clone();
                let r = tokio::task::spawn_blocking(move || post_execute(&a, text))
                    .await
                    .unwrap();
                if let Some((200, body)) = r {
                    return (body, started.elapsed());
                }
                assert!(started.elapsed() < wait, "{text}: not answered; last {r:?}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let (before, _) = answered_within("Calculate 1 + 1", Duration::from_secs(60)).await;
    assert!(before.contains("\"value\":\"2\""), "{before}");
    let (dir, port) = broker.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let broker = OwnBroker::start(config, &dir, port);
    let (after, took) = answered_within("Calculate 2 + 2", Duration::from_secs(30)).await;
    assert!(after.contains("\"value\":\"4\""), "{after}");
    eprintln!("answered again {took:?} after the broker restarted");
    broker
}

/// What the harness sends in slot `i` of its stream: 200 sessions of three requests each
/// ("Calculate k + 1", "multiply that by 2", "multiply that by 3"), a durable request every
/// 100 slots, and plain arithmetic in between. Returns the request and the value it must get
/// (`None`: durable, `accepted`).
fn harness_request(i: usize) -> (Request, Option<String>) {
    let (session, step) = (i / 10, i % 10);
    let mut r = match step {
        0 => request(&format!("h-{i}"), &format!("Calculate {session} + 1")),
        4 => request(&format!("h-{i}"), "multiply that by 2"),
        8 => request(&format!("h-{i}"), "multiply that by 3"),
        2 if session % 10 == 0 => {
            let r = request(
                &format!("h-{i}"),
                "process customer data and generate report",
            );
            return (r, None);
        }
        _ => {
            let r = request(&format!("h-{i}"), &format!("Calculate {i} * 7"));
            return (r, Some((i * 7).to_string()));
        }
    };
    r.session_id = Some(format!("hs-{session}"));
    let value = (session + 1) * [1, 2, 6][step / 4];
    (r, Some(value.to_string()))
}

/// The harness's members by name; `None` while killed.
type Members = Vec<(&'static str, Option<Pipeline>)>;

/// A tiny deterministic generator for the harness's choices; the seed is printed.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The fault harness: 2,000 requests (session chains, durable ones, plain ones) stream
/// through two or three `volcano` pipeline processes in one group over three partitions,
/// each with a state store of its own, while a random member is killed with `kill -9` and
/// started again three times, a third member joins and later leaves, and the broker is
/// killed and restarted once. Then, read from the start of the results topic: every request
/// has a result; every copy of a request's result is the same bytes (a redelivered request
/// is answered from the state store, not computed again); values and session chains are
/// right (a session goes on where its dead owner left it); and once the members stop, the
/// group's committed offsets reach the end of every partition. Before the state store, a
/// redelivered request got a new result (another `produced_at` at least), and a session
/// lost its context with its process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fault_harness_answers_every_request_once_through_kills_joins_and_a_broker_restart() {
    const N: usize = 2_000;
    let mut config = test_config("harness");
    config.kafka.partitions = Some(3);
    config.pipeline.lag_probe_ms = 500;
    for (k, v) in [
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "1000"),
    ] {
        config.kafka.properties.insert(k.into(), v.into());
    }
    let broker = OwnBroker::for_test(&mut config);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("harness seed {seed}");

    let mut members: Members = vec![
        ("a", Some(Pipeline::first(&config).await)),
        ("b", Some(Pipeline::follower(&config))),
    ];
    let sender = {
        let (config, topic) = (config.clone(), config.kafka.topics.requests.clone());
        tokio::spawn(async move {
            let producer = producer(&config);
            for i in 0..N {
                let (r, _) = harness_request(i);
                let key = r.session_id.clone().unwrap_or_else(|| r.id.clone());
                produce_raw(&producer, &topic, &key, &avro::encode_request(&r).unwrap()).await;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };
    let mut kill_random = |members: &mut Members| {
        let i = next_random(&mut seed) as usize % members.len();
        let (name, member) = &mut members[i];
        eprintln!("kill -9 {name}");
        drop(member.take());
        i
    };
    let restart = |config: &VolcanoConfig, members: &mut Members, i: usize| {
        let (name, member) = &mut members[i];
        let mut c = config.clone();
        // Only the first member watches the config repository.
        c.registry.watch = *name == "a";
        *member = Some(Pipeline::ready(&c, name));
    };
    let pause = |s| tokio::time::sleep(Duration::from_secs(s));

    pause(5).await;
    let i = kill_random(&mut members);
    pause(2).await;
    restart(&config, &mut members, i);
    pause(3).await;
    let mut c = config.clone();
    c.registry.watch = false;
    members.push(("c", Some(Pipeline::ready(&c, "c"))));
    pause(5).await;
    let i = kill_random(&mut members);
    pause(2).await;
    restart(&config, &mut members, i);
    pause(3).await;
    eprintln!("kill -9 of the broker");
    let (dir, port) = broker.kill();
    pause(3).await;
    let broker = OwnBroker::start(&config, &dir, port);
    pause(5).await;
    eprintln!("c leaves");
    if let Some(c) = members.pop().and_then(|(_, m)| m) {
        c.stop();
    }
    pause(2).await;
    let i = kill_random(&mut members);
    pause(2).await;
    restart(&config, &mut members, i);
    sender.await.unwrap();

    // Every request has a result, read from the start (a new reader each time: see the
    // broker-restart test).
    let deadline = Instant::now() + Duration::from_secs(120);
    let records = loop {
        let records = read_topic(
            &config,
            &config.kafka.topics.results,
            usize::MAX,
            Duration::from_secs(3),
        )
        .await;
        let ids: std::collections::HashSet<String> = records.iter().map(key_of).collect();
        if ids.len() == N || Instant::now() > deadline {
            break records;
        }
    };
    let mut copies: std::collections::HashMap<String, Vec<Vec<u8>>> = Default::default();
    for m in &records {
        let payload = rdkafka::Message::payload(m).unwrap().to_vec();
        copies.entry(key_of(m)).or_default().push(payload);
    }
    assert_eq!(copies.len(), N, "every request has a result");
    let mut repeated = 0;
    for i in 0..N {
        let (r, want) = harness_request(i);
        let all = &copies[&r.id];
        repeated += all.len() - 1;
        assert!(
            all.iter().all(|c| c == &all[0]),
            "request {} has {} different results",
            r.id,
            all.len()
        );
        let result = avro::decode_result(&all[0]).unwrap();
        match want {
            Some(value) => assert_eq!(
                result.value.as_deref(),
                Some(value.as_str()),
                "{}: {:?} {}",
                r.text,
                result.status,
                result.answer
            ),
            None => assert_eq!(result.status, Status::Accepted, "{}", r.id),
        }
    }
    eprintln!("{repeated} repeated copies, all identical");

    for (_, member) in members {
        if let Some(m) = member {
            m.stop();
        }
    }
    assert_eq!(group_committed_to_the_end(&config), 3);
    drop(broker);
}

/// Asserts that the pipeline group's committed offset is at the end of every partition of
/// the requests topic; returns how many partitions it has.
fn group_committed_to_the_end(config: &VolcanoConfig) -> usize {
    let mut cc = volcano_connectors::kafka::client_config(config);
    cc.set("group.id", &config.pipeline.group_id);
    let consumer: rdkafka::consumer::BaseConsumer = cc.create().unwrap();
    let offsets = volcano_connectors::partition_watch::probe(
        &consumer,
        &config.kafka.topics.requests,
        Duration::from_secs(10),
    )
    .unwrap();
    for o in &offsets {
        assert_eq!(
            o.committed, o.end,
            "partition {} committed to its end",
            o.partition
        );
    }
    offsets.len()
}

/// A member with an empty state store of its own takes over a partition whose answers
/// another member stored: it restores them from the changelog (counting them, and skipping
/// a garbage record someone produced there) before it consumes, and a request answered
/// before its arrival, sent again, gets the stored bytes back rather than a new answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_owner_restores_the_state_store_from_the_changelog_and_replays_answers() {
    let mut config = test_config("restore");
    config.kafka.partitions = Some(1);
    let first = Pipeline::first(&config).await;
    let producer = producer(&config);
    let topic = config.kafka.topics.requests.clone();
    let ids: Vec<String> = (0..50).map(|i| format!("s-{i}")).collect();
    let encoded: Vec<Vec<u8>> = (0..50)
        .map(|i| avro::encode_request(&request(&ids[i], &format!("Calculate {i} + 1"))).unwrap())
        .collect();
    let waiter =
        volcano_connectors::client::ResultWaiter::at_end(&config, Duration::from_secs(60)).unwrap();
    for (id, bytes) in ids.iter().zip(&encoded) {
        produce_raw(&producer, &topic, id, bytes).await;
    }
    assert_eq!(
        waiter.wait_for(&ids, Duration::from_secs(60)).await.len(),
        50
    );
    first.stop();
    produce_raw(
        &producer,
        &config.kafka.topics.changelog,
        "junk",
        b"not an entry",
    )
    .await;

    // Another folder: another machine's empty store.
    let second = Pipeline::ready(&config, "other");
    // Ready may come before the group assigns the partition: wait for the restore's end.
    wait_until("the new owner never finished restoring the answers", || {
        second.metric("volcano_state_restored_records_total") == 50.0
            && second.metric("volcano_state_restoring_partitions") == 0.0
    });
    assert_eq!(second.metric("volcano_state_changelog_skipped_total"), 1.0);

    produce_raw(&producer, &topic, &ids[7], &encoded[7]).await;
    wait_until("the resent request was never replayed", || {
        second.metric("volcano_pipeline_answers_replayed_total") == 1.0
    });
    second.stop();
    let results = read_topic(
        &config,
        &config.kafka.topics.results,
        51,
        Duration::from_secs(30),
    )
    .await;
    let copies: Vec<&[u8]> = results
        .iter()
        .filter(|m| key_of(m) == ids[7])
        .map(|m| rdkafka::Message::payload(m).unwrap())
        .collect();
    assert_eq!(copies.len(), 2);
    assert_eq!(
        copies[0], copies[1],
        "the replayed result is the stored bytes"
    );
}

/// One tenant's `http` tool waits on a server that never answers, and a jq program counts
/// for seconds without output; meanwhile another tenant sends arithmetic. Answers are computed off the consume loop, so each arithmetic request
/// is answered within a second of being sent while twenty hung calls run out their time
/// (`timeout` errors), and the jq program's request gets a `timeout` error at
/// `pipeline.answer_timeout_ms`. On the loop, each hung call held every other request for
/// the tenant's `fast_path_timeout_ms`, twenty of them five seconds, and the jq program
/// held them all until it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_that_hangs_costs_other_tenants_no_latency() {
    use volcano_connectors::instance::Roles;

    let tool = silent_http_tool();
    // A jq program that runs long without output: jaq cannot be interrupted, so only the
    // answer's own time limit gives its request an answer.
    let spin = "version: 1\nname: spin\ndescription: Counts for a long time.\n\
                patterns:\n  - '^\\s*spin\\b'\nexamples:\n  - spin {}\n\
                tool:\n  kind: transform\n  filter: 'last(range(30000000))'\n";
    let mut config = test_config("hang");
    config.kafka.partitions = Some(1);
    config.pipeline.answer_timeout_ms = 300;
    config.stack.config_repo = content_with(
        "hang",
        &[
            ("tools/silent-status.yaml", tool),
            ("tools/spin.yaml", spin.to_string()),
        ],
    );
    let roles = Roles {
        pipeline: true,
        worker: false,
        ingress: false,
    };
    let instance = Instance::start_with(&config, roles).await;
    let producer = producer(&config);
    let topic = config.kafka.topics.requests.clone();
    let send = |r: Request| {
        let (producer, topic) = (&producer, &topic);
        async move {
            let bytes = avro::encode_request(&r).unwrap();
            produce_raw(producer, topic, &r.id, &bytes).await;
        }
    };
    // Warm: the registry is served once a first request is answered.
    let waiter =
        volcano_connectors::client::ResultWaiter::at_end(&config, Duration::from_secs(60)).unwrap();
    send(request("warm", "Calculate 1 + 1")).await;
    assert_eq!(
        waiter
            .wait_for(&["warm".to_string()], Duration::from_secs(60))
            .await
            .len(),
        1
    );

    let now_ms = || chrono::Utc::now().timestamp_millis();
    let mut sent_at = std::collections::HashMap::new();
    let mut ids = vec!["spin".to_string()];
    send(request("spin", "spin {}")).await;
    for i in 0..20 {
        // main's: the tool and the allow-list entry are main's.
        let hung = request(&format!("hung-{i}"), "silent status of order 7");
        ids.push(hung.id.clone());
        send(hung).await;
        let mut quick = request(&format!("quick-{i}"), &format!("Calculate {i} + 1"));
        quick.tenant = "acme-corp".into();
        ids.push(quick.id.clone());
        sent_at.insert(quick.id.clone(), now_ms());
        send(quick).await;
    }
    let results = waiter.wait_for(&ids, Duration::from_secs(60)).await;
    instance.stop().await;
    let missing: Vec<&String> = ids.iter().filter(|id| !results.contains_key(*id)).collect();
    assert!(missing.is_empty(), "no result for {missing:?}");
    for (id, sent) in &sent_at {
        let r = &results[id];
        assert_eq!(r.status, Status::Ok, "{id}: {}", r.answer);
        let waited = r.produced_at - sent;
        assert!(
            waited < 1_000,
            "{id} was answered {waited} ms after it was sent"
        );
    }
    for i in 0..20 {
        let r = &results[&format!("hung-{i}")];
        assert_eq!(r.error_kind.as_deref(), Some("timeout"), "{}", r.answer);
    }
    let spin = &results["spin"];
    assert_eq!(
        spin.error_kind.as_deref(),
        Some("timeout"),
        "{}",
        spin.answer
    );
    assert!(
        spin.error_message
            .as_deref()
            .unwrap_or_default()
            .contains("300 ms"),
        "{spin:?}"
    );
}

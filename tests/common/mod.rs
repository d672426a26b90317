//! Shared set-up for the integration tests: a config pointing at the test stack that
//! `deploy/dev.sh test` brings up (or at `KAFKA_BROKERS`), with topics and a consumer group of
//! the test's own, so tests run in parallel on one broker without seeing each other.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use std::time::Instant;

use futures::StreamExt;
use rdkafka::Offset;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use volcano_connectors::config::{TopicNames, VolcanoConfig};
use volcano_connectors::{durable, instance, kafka, pipeline_role, registry_files};
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::{Request, RequestResult};

/// A config for one test: the test stack's broker, topics prefixed with a fresh id.
pub fn test_config(name: &str) -> VolcanoConfig {
    let path = std::env::var_os("VOLCANO_CONFIG").map(std::path::PathBuf::from);
    let mut c = VolcanoConfig::load(path.as_deref()).expect("test config loads");
    let id = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("test-{name}-{}.", &id[..8]);
    c.kafka.topics = TopicNames::prefixed(&prefix);
    c.kafka.partitions = Some(3);
    c.pipeline.group_id = format!("{prefix}pipeline");
    c.pipeline.shutdown_deadline_ms = 5_000;
    // Workers of one test must not take another test's workflows (they publish to their own
    // results topic).
    c.temporal.task_queue = format!("{prefix}queue");
    // A config repository and registry state of the test's own, made from `repos/` on start.
    let dir = std::env::temp_dir().join(format!("volcano-{}", prefix.trim_end_matches('.')));
    c.registry.repo = Some(dir.join("config-repo"));
    c.registry.data_dir = Some(dir.join("registry"));
    c.stack.config_repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("repos");
    // The REST ingress is off unless a test turns it on (tests/ingress.rs serves it itself).
    c.ingress.addr = String::new();
    c.ingress.data_dir = Some(dir.join("ingress"));
    c.pipeline.state_dir = Some(dir.join("pipeline-state"));
    c
}

pub fn request(id: &str, text: &str) -> Request {
    Request {
        id: id.to_string(),
        tenant: "main".into(),
        session_id: None,
        text: text.to_string(),
        submitted_at: chrono::Utc::now().timestamp_millis(),
        reply_topic: None,
        headers: Default::default(),
    }
}

/// `volcano run` in this process (watcher, materializer, pipeline and, with its role, the
/// Temporal worker), stopped by [`Instance::stop`].
pub struct Instance {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Instance {
    /// Every role.
    pub async fn start(config: &VolcanoConfig) -> Instance {
        Self::start_with(config, instance::Roles::ALL).await
    }

    pub async fn start_with(config: &VolcanoConfig, roles: instance::Roles) -> Instance {
        // `run` creates them too, but the test reads the results topic before it gets there.
        kafka::ensure_topics(config, &config.kafka.topics.all())
            .await
            .expect("topics");
        let (tx, rx) = watch::channel(false);
        let c = config.clone();
        let task = tokio::spawn(async move {
            instance::run_with(&c, roles, rx, None)
                .await
                .expect("instance runs");
        });
        Instance { shutdown: tx, task }
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("instance stops")
            .expect("instance did not panic");
    }
}

/// A pipeline running in this process, stopped by [`RunningPipeline::stop`].
pub struct RunningPipeline {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningPipeline {
    pub async fn start(config: &VolcanoConfig) -> Self {
        kafka::ensure_topics(config, &config.kafka.topics.all())
            .await
            .expect("topics");
        // `run` creates them too, but the caller may read the topics before the task gets there.
        let (tx, rx) = watch::channel(false);
        let c = config.clone();
        let registry =
            registry_files::load_registry(std::path::Path::new("repos"), &Default::default())
                .expect("example registry");
        let task = tokio::spawn(async move {
            let starter = durable::Starter::new(&c);
            pipeline_role::run(&c, FastPath::new(registry, 1000), starter, rx, None)
                .await
                .expect("pipeline runs");
        });
        RunningPipeline { shutdown: tx, task }
    }

    /// Asks for a graceful shutdown and waits for the drain.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("pipeline stops within its deadline")
            .expect("pipeline task did not panic");
    }
}

pub fn producer(config: &VolcanoConfig) -> FutureProducer {
    kafka::stream_producer(config).expect("producer")
}

pub async fn produce_raw(producer: &FutureProducer, topic: &str, key: &str, payload: &[u8]) {
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("produce");
}

/// Reads up to `want` messages of `topic` from the beginning of every partition.
pub async fn read_topic(
    config: &VolcanoConfig,
    topic: &str,
    want: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let mut cc = kafka::client_config(config);
    cc.set("group.id", format!("{topic}-reader"));
    cc.set("enable.auto.commit", "false");
    cc.set("fetch.wait.max.ms", "10");
    let consumer: StreamConsumer = cc.create().expect("consumer");
    kafka::assign_all(&consumer, topic, Duration::from_secs(10), |_| {
        Ok(Offset::Beginning)
    })
    .expect("assign");
    let mut out = Vec::new();
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + timeout;
    while out.len() < want {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(m))) => out.push(m.detach()),
            Ok(Some(Err(e))) => panic!("consume error: {e}"),
            Ok(None) | Err(_) => break,
        }
    }
    out
}

/// Every result on the results topic, read from the beginning until `wait` passes with no
/// new one.
pub async fn read_results(config: &VolcanoConfig, wait: Duration) -> Vec<RequestResult> {
    read_topic(config, &config.kafka.topics.results, usize::MAX, wait)
        .await
        .iter()
        .map(|m| volcano_connectors::avro::decode_result(m.payload().unwrap()).unwrap())
        .collect()
}

/// Each request's value, asserting that every copy of a request's result has the same one:
/// a redelivered request may be answered twice, never differently.
pub fn one_answer_each(results: &[RequestResult]) -> HashMap<String, Option<String>> {
    let mut by_id = HashMap::new();
    for r in results {
        if let Some(prev) = by_id.insert(r.request_id.clone(), r.value.clone()) {
            assert_eq!(
                prev, r.value,
                "request {} answered differently",
                r.request_id
            );
        }
    }
    by_id
}

/// A program the embedded stack installed in the tools cache, as `<tool>-<version>/<path>`
/// (`bin/nisshi`, `bin/temporal`), whatever its version.
pub fn tool_binary(config: &VolcanoConfig, path: &str) -> std::path::PathBuf {
    let tools = config.tools_dir();
    std::fs::read_dir(&tools)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(path))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no {path} in {}", tools.display()))
}

/// A copy of the example content (`repos/`) with `files` added on main and 127.0.0.1 on
/// main's allow-list, for `http` tools pointed at a service of the test's own.
pub fn content_with(name: &str, files: &[(&str, String)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "volcano-content-{name}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    let status = Command::new("cp")
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("repos"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let security = dir.join("main/configs/security.yaml");
    let text = std::fs::read_to_string(&security).unwrap();
    let text = text.replacen("allowed_hosts:\n", "allowed_hosts:\n  - 127.0.0.1\n", 1);
    std::fs::write(&security, text).unwrap();
    for (path, content) in files {
        let full = dir.join("main").join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    dir
}

/// The definition of an `http` tool (`silent status of order 7`, its own timeout 60 s)
/// whose server, started here, accepts connections and never sends a byte.
pub fn silent_http_tool() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    format!(
        "version: 1\nname: silent-status\ndescription: A service that never answers.\n\
         patterns:\n  - '^\\s*silent status\\b'\nexamples:\n  - silent status of order 7\n\
         tool:\n  kind: http\n  method: GET\n  url: \"http://127.0.0.1:{port}/status\"\n  \
         timeout_ms: 60000\n"
    )
}

/// Runs git in `repo` as a test committer; returns its trimmed stdout.
pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=Volcano Test",
            "-c",
            "user.email=test@volcano.example",
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

/// Writes `files` on `branch` and commits them; returns the new commit id.
pub fn commit(repo: &Path, branch: &str, files: &[(&str, &str)], message: &str) -> String {
    git(repo, &["switch", "--quiet", branch]);
    for (path, content) in files {
        let full = repo.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
        git(repo, &["add", path]);
    }
    git(repo, &["commit", "--quiet", "-m", message]);
    let id = git(repo, &["rev-parse", "HEAD"]);
    git(repo, &["switch", "--quiet", "main"]);
    id
}

pub fn key_of(m: &OwnedMessage) -> String {
    String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A broker of the test's own, on its own port and sqlite file, so that it can be killed.
pub struct OwnBroker {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnBroker {
    /// A broker for `config`'s test, on a free port and a folder beside its registry state;
    /// points `config` at it.
    pub fn for_test(config: &mut VolcanoConfig) -> OwnBroker {
        let port = free_port();
        config.kafka.brokers = format!("127.0.0.1:{port}");
        let dir = config.registry.data_dir.clone().unwrap();
        OwnBroker::start(config, &dir.with_file_name("broker"), port)
    }

    pub fn start(config: &VolcanoConfig, dir: &Path, port: u16) -> OwnBroker {
        OwnBroker::start_advertising(config, dir, port, port)
    }

    /// [`OwnBroker::start`], telling clients to connect to `advertised` (a TLS front's port)
    /// rather than to the port it listens on.
    pub fn start_advertising(
        config: &VolcanoConfig,
        dir: &Path,
        port: u16,
        advertised: u16,
    ) -> OwnBroker {
        std::fs::create_dir_all(dir).unwrap();
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised = format!("tcp://127.0.0.1:{advertised}");
        let child = Command::new(tool_binary(config, "bin/nisshi"))
            .current_dir(dir)
            .args(["broker", "--storage-engine", "sqlite://nisshi.db"])
            .args([
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--group-initial-rebalance-delay", "0s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the broker starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the broker never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnBroker {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// `kill -9`; its folder and port, to start it again on the same data.
    pub fn kill(mut self) -> (std::path::PathBuf, u16) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.dir.clone(), self.port)
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Typed configuration for every role, with defaults for the embedded stack.
//!
//! Read from a TOML file (`volcano.toml` in the working directory, or `--config` /
//! `VOLCANO_CONFIG`), then overridden from the environment (`VOLCANO_<SECTION>__<KEY>`, and
//! `KAFKA_BROKERS`, `TEMPORAL_ADDRESS`, `VOLCANO_INGRESS_ADDR`), secrets from files: the
//! layers are in [`crate::config_source`]. When either
//! points somewhere, `volcano stack up` leaves that part alone and the roles use it: a real
//! Kafka and Temporal cluster work unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolcanoConfig {
    pub kafka: KafkaConfig,
    pub temporal: TemporalConfig,
    pub pipeline: PipelineConfig,
    pub ingress: IngressConfig,
    pub registry: RegistryConfig,
    pub stack: StackConfig,
}

/// The git registry: the config repository the watcher reads and the RocksDB state the
/// materializer keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// The git repository of tools, workflows and configs; default `<stack.data_dir>/config-repo`,
    /// created from the example content (`stack.config_repo`) when missing.
    pub repo: Option<PathBuf>,
    /// The materialized registry (RocksDB) of this instance; default `<stack.data_dir>/registry`.
    pub data_dir: Option<PathBuf>,
    /// Run the watcher (git → `volcano.commits`) in this process. One watcher per repository:
    /// turn it off on extra replicas.
    pub watch: bool,
    /// The safety-net poll of the repository's refs, besides inotify.
    pub poll_interval_ms: u64,
    /// The branch every tenant sees.
    pub main_branch: String,
    /// Tenant branches are this prefix and the tenant's name.
    pub tenant_prefix: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            repo: None,
            data_dir: None,
            watch: true,
            poll_interval_ms: 2_000,
            main_branch: "main".into(),
            tenant_prefix: "customer/".into(),
        }
    }
}

/// Where the broker is and what the topics are called.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers. Empty means "the embedded broker" (`127.0.0.1:<stack.broker_port>`).
    pub brokers: String,
    pub topics: TopicNames,
    /// Partitions for topics Volcano creates when they are missing; unset, see
    /// [`VolcanoConfig::topic_partitions`].
    pub partitions: Option<i32>,
    /// Replication factor for topics Volcano creates (1 for the embedded broker).
    pub replication: i32,
    /// librdkafka properties passed through unchanged to every client, e.g.
    /// `"security.protocol" = "SASL_SSL"`.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: String::new(),
            topics: TopicNames::default(),
            partitions: None,
            replication: 1,
            properties: BTreeMap::new(),
        }
    }
}

/// Topic names; change them to run several Volcanos on one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicNames {
    pub requests: String,
    pub results: String,
    pub commits: String,
    pub dlq: String,
    /// The pipeline's state-store changelog: every answer, keyed by request id, compacted,
    /// with the requests topic's partitions (see `connectors::state_store`).
    pub changelog: String,
}

impl Default for TopicNames {
    fn default() -> Self {
        TopicNames {
            requests: "volcano.requests".into(),
            results: "volcano.results".into(),
            commits: "volcano.commits".into(),
            dlq: "volcano.dlq".into(),
            changelog: "volcano.answers.changelog".into(),
        }
    }
}

impl TopicNames {
    /// The same topics with a prefix, so tests and tenants can share a broker.
    pub fn prefixed(prefix: &str) -> Self {
        let d = TopicNames::default();
        TopicNames {
            requests: format!("{prefix}{}", d.requests),
            results: format!("{prefix}{}", d.results),
            commits: format!("{prefix}{}", d.commits),
            dlq: format!("{prefix}{}", d.dlq),
            changelog: format!("{prefix}{}", d.changelog),
        }
    }

    pub fn all(&self) -> [&str; 5] {
        [
            &self.requests,
            &self.results,
            &self.commits,
            &self.dlq,
            &self.changelog,
        ]
    }
}

/// The durable path's Temporal server, task queues and worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemporalConfig {
    /// `host:port` of the Temporal frontend. Empty means the embedded dev server.
    pub address: String,
    pub namespace: String,
    /// Task queue of the durable workflows and their steps.
    pub task_queue: String,
    /// One task queue per tenant (`<task_queue>-<tenant>`), so tenants can get their own
    /// workers; the worker then polls the queues of `worker_tenants`.
    pub queue_per_tenant: bool,
    /// Tenants whose queues this process's worker polls when `queue_per_tenant` is on.
    pub worker_tenants: Vec<String>,
    /// Longest a pipeline waits for Temporal to accept one workflow start before retrying.
    pub start_timeout_ms: u64,
    /// An API key (Temporal Cloud); secret: give it as `api_key_file`. Setting one turns
    /// TLS on. Unset, the Temporal CLI's `TEMPORAL_API_KEY` or profile applies.
    pub api_key: String,
    /// TLS to an external Temporal; unset, the Temporal CLI's `TEMPORAL_TLS_*` or profile.
    pub tls: TemporalTls,
}

/// TLS to Temporal: the CA that signed the server's certificate, the name to check it for,
/// and a client certificate and key for mTLS. Files are PEM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemporalTls {
    /// Turn TLS on with the system's roots (the other settings turn it on too).
    pub enabled: bool,
    pub server_ca_file: Option<PathBuf>,
    /// The name the server's certificate must carry; default, the address's host.
    pub server_name: Option<String>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

impl TemporalTls {
    /// Whether any setting asks for TLS.
    pub fn wanted(&self) -> bool {
        self.enabled
            || self.server_ca_file.is_some()
            || self.server_name.is_some()
            || self.client_cert_file.is_some()
            || self.client_key_file.is_some()
    }
}

impl Default for TemporalConfig {
    fn default() -> Self {
        TemporalConfig {
            address: String::new(),
            namespace: "default".into(),
            task_queue: "volcano".into(),
            queue_per_tenant: false,
            worker_tenants: vec!["main".into()],
            start_timeout_ms: 5_000,
            api_key: String::new(),
            tls: TemporalTls::default(),
        }
    }
}

impl TemporalConfig {
    /// The task queue a tenant's workflows run on.
    pub fn queue_for(&self, tenant: &str) -> String {
        match self.queue_per_tenant {
            true => format!("{}-{tenant}", self.task_queue),
            false => self.task_queue.clone(),
        }
    }

    /// The task queues this process's worker polls.
    pub fn worker_queues(&self) -> Vec<String> {
        match self.queue_per_tenant {
            true => self
                .worker_tenants
                .iter()
                .map(|t| self.queue_for(t))
                .collect(),
            false => vec![self.task_queue.clone()],
        }
    }
}

/// The request pipeline role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Consumer group of the pipeline role.
    pub group_id: String,
    /// Messages larger than this go to the dead-letter topic as `oversized`.
    pub max_message_bytes: usize,
    /// Records consumed but not yet acknowledged, across partitions; consumption pauses above it.
    pub max_in_flight: usize,
    /// How long shutdown waits for in-flight records to be acknowledged.
    pub shutdown_deadline_ms: u64,
    /// Sessions whose last answer is remembered (oldest forgotten first).
    pub max_sessions: usize,
    /// Where `volcano run` serves Prometheus metrics (`GET /metrics`); empty disables it.
    pub metrics_addr: String,
    /// The requests consumer's `fetch.wait.max.ms`; unset, `kafka.properties`' value or
    /// [`PipelineConfig::DEFAULT_FETCH_WAIT_MS`]. A real Kafka answers a fetch as soon as
    /// records come, so this only bounds an idle poll; the embedded broker holds every fetch
    /// this long, so there it is part of each request's latency and sets the broker's CPU.
    pub fetch_wait_ms: Option<u64>,
    /// The `reply_topic` a request may name (a regex); Volcano's own topics never. By default
    /// any legal Kafka topic name; narrow it (e.g. `^replies\.`) to keep producers to a
    /// namespace the operator has created and granted.
    pub reply_topic_pattern: String,
    /// The most bytes of a message's value a dead letter keeps; a larger value is cut, and
    /// the letter records its size and SHA-256. Keep it well under the producer's
    /// `message.max.bytes` (1,000,000 by default), or the letter itself cannot be produced.
    pub dead_letter_max_original_bytes: usize,
    /// How often the pipeline reads its group's lag (end and committed offset of every
    /// partition of the requests topic) for `/readyz` and the lag metric.
    pub lag_probe_ms: u64,
    /// A partition with records waiting whose committed offset has not moved for this long
    /// is stalled: the process that owns it (or, when it owns none, every pipeline process)
    /// is not ready.
    pub stall_after_ms: u64,
    /// Keep every answer (and each session's context) in a state store per partition,
    /// backed by the changelog topic, so a request redelivered after a crash or a rebalance
    /// is answered with the result it already had. Off, a redelivered request is computed
    /// again and sessions live in this process's memory.
    pub state_store: bool,
    /// Where the state stores live (one RocksDB per partition); default
    /// `<stack.data_dir>/pipeline-state`.
    pub state_dir: Option<PathBuf>,
    /// How long an answer is kept (in the store and the changelog): a request id seen again
    /// within it gets the same result. Sessions idle for longer are forgotten.
    pub answer_retention_ms: u64,
    /// Answers computed at once, off the consume loop (an `http` tool waiting on its server
    /// holds one place). Records with the same key still go one at a time, in order.
    pub max_concurrent_answers: usize,
    /// The longest one answer may compute before its request gets a `timeout` error. Tools
    /// that wait (`http`) stop at the tenant's `fast_path_timeout_ms` on their own; this
    /// bounds the rest (a jq program that loops), whose thread cannot be stopped.
    pub answer_timeout_ms: u64,
}

impl PipelineConfig {
    pub const DEFAULT_FETCH_WAIT_MS: u64 = 10;
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            group_id: "volcano-pipeline".into(),
            max_message_bytes: 64 * 1024,
            max_in_flight: 10_000,
            shutdown_deadline_ms: 10_000,
            max_sessions: 100_000,
            metrics_addr: "127.0.0.1:9464".into(),
            fetch_wait_ms: None,
            reply_topic_pattern: r"^[A-Za-z0-9._-]{1,249}$".into(),
            dead_letter_max_original_bytes: 256 * 1024,
            lag_probe_ms: 5_000,
            stall_after_ms: 30_000,
            state_store: true,
            state_dir: None,
            answer_retention_ms: 7 * 24 * 3600 * 1000,
            max_concurrent_answers: 32,
            answer_timeout_ms: 10_000,
        }
    }
}

/// The REST ingress role: `POST /api/v1/execute` and friends (see the README's API section).
/// Keys, rate limits and quotas are not here: they live in each branch's
/// `configs/security.yaml`, so they change by commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngressConfig {
    /// Where the ingress listens; empty disables the role.
    pub addr: String,
    /// Its result store (RocksDB); default `<stack.data_dir>/ingress`.
    pub data_dir: Option<PathBuf>,
    /// How long `execute` waits for the result when the body names no `wait_ms`.
    pub default_wait_ms: u64,
    /// The longest `wait_ms` a client may ask for.
    pub max_wait_ms: u64,
    /// Request bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// How long a produce may take before the client gets 503 (the broker is slow or down).
    pub produce_timeout_ms: u64,
    /// How long stored results stay readable at `GET /api/v1/requests/{id}`.
    pub result_ttl_secs: u64,
    /// How long a workflow query or signal may take before the client gets 503.
    pub temporal_timeout_ms: u64,
    /// Start on an address beyond loopback even while a branch still accepts the example
    /// repository's API keys (`volcano-example-<id>`, printed in the README).
    pub allow_example_keys: bool,
}

impl Default for IngressConfig {
    fn default() -> Self {
        IngressConfig {
            addr: "127.0.0.1:8080".into(),
            data_dir: None,
            default_wait_ms: 5_000,
            max_wait_ms: 30_000,
            max_body_bytes: 16 * 1024,
            produce_timeout_ms: 5_000,
            result_ttl_secs: 24 * 3600,
            temporal_timeout_ms: 5_000,
            allow_example_keys: false,
        }
    }
}

/// The embedded development stack started by `volcano stack up`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StackConfig {
    pub broker_port: u16,
    pub temporal_port: u16,
    /// Data folder for the broker's sqlite file, Temporal's database, logs and pid files.
    /// Relative paths are relative to the working directory.
    pub data_dir: PathBuf,
    /// Shared tools cache (tansu, temporal); default `$VOLCANO_TOOLS_DIR` or
    /// `~/.cache/volcano/tools`, so every clone on the machine shares one install.
    pub tools_dir: Option<PathBuf>,
    /// The example content (one directory per branch) that `volcano repo init` turns into the
    /// git config repository when `registry.repo` does not exist yet.
    pub config_repo: PathBuf,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            broker_port: 9092,
            temporal_port: 7233,
            data_dir: PathBuf::from(".volcano"),
            tools_dir: None,
            config_repo: PathBuf::from("repos"),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid configuration{}: {reason}", path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    Invalid {
        path: Option<PathBuf>,
        reason: String,
    },
}

impl VolcanoConfig {
    /// Loads `path` if given (it must exist), else `volcano.toml` if present, else defaults;
    /// then the environment over it: see [`crate::config_source`].
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        crate::config_source::load(path).map(|layers| layers.config)
    }

    /// Applies `KAFKA_BROKERS`, `TEMPORAL_ADDRESS` and `VOLCANO_INGRESS_ADDR` (non-empty
    /// values win over the file).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        if let Some(a) = var("VOLCANO_INGRESS_ADDR").filter(|v| !v.trim().is_empty()) {
            self.ingress.addr = a;
        }
        if let Some(b) = var("KAFKA_BROKERS").filter(|v| !v.trim().is_empty()) {
            self.kafka.brokers = b;
        }
        if let Some(a) = var("TEMPORAL_ADDRESS").filter(|v| !v.trim().is_empty()) {
            self.temporal.address = a;
        }
    }

    /// True when the broker is external, so the stack must not start one.
    pub fn broker_is_external(&self) -> bool {
        !self.kafka.brokers.trim().is_empty()
    }

    pub fn temporal_is_external(&self) -> bool {
        !self.temporal.address.trim().is_empty()
    }

    /// Partitions of the topics Volcano creates: `kafka.partitions`, else 4 on an external
    /// cluster (up to four pipeline instances share the load) and 1 on the embedded broker.
    /// tansu answers each fetch with a SQL query per partition and holds it for the whole
    /// `fetch.wait.max.ms` even when records are waiting, so every idle partition costs it
    /// CPU on every poll: measured, 1.3 ms per partition per fetch, and with 4 partitions the
    /// REST load bench served 436 of 2,000 requests/s, with 1 partition 1,932.
    pub fn topic_partitions(&self) -> i32 {
        match self.kafka.partitions {
            Some(n) => n.max(1),
            None if self.broker_is_external() => 4,
            None => 1,
        }
    }

    /// Bootstrap servers to use: the configured ones, or the embedded broker's.
    pub fn brokers(&self) -> String {
        if self.broker_is_external() {
            self.kafka.brokers.clone()
        } else {
            format!("127.0.0.1:{}", self.stack.broker_port)
        }
    }

    pub fn temporal_address(&self) -> String {
        if self.temporal_is_external() {
            self.temporal.address.clone()
        } else {
            format!("127.0.0.1:{}", self.stack.temporal_port)
        }
    }

    /// The config repository (git) the registry follows.
    pub fn registry_repo(&self) -> PathBuf {
        self.registry
            .repo
            .clone()
            .unwrap_or_else(|| self.stack.data_dir.join("config-repo"))
    }

    /// This instance's materialized registry.
    pub fn registry_data_dir(&self) -> PathBuf {
        self.registry
            .data_dir
            .clone()
            .unwrap_or_else(|| self.stack.data_dir.join("registry"))
    }

    /// The pipeline's state stores.
    pub fn pipeline_state_dir(&self) -> PathBuf {
        self.pipeline
            .state_dir
            .clone()
            .unwrap_or_else(|| self.stack.data_dir.join("pipeline-state"))
    }

    /// The ingress's result store.
    pub fn ingress_data_dir(&self) -> PathBuf {
        self.ingress
            .data_dir
            .clone()
            .unwrap_or_else(|| self.stack.data_dir.join("ingress"))
    }

    pub fn tools_dir(&self) -> PathBuf {
        if let Some(d) = &self.stack.tools_dir {
            return d.clone();
        }
        if let Some(d) = std::env::var_os("VOLCANO_TOOLS_DIR") {
            return PathBuf::from(d);
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        home.join(".cache/volcano/tools")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_the_embedded_stack() {
        let c = VolcanoConfig::default();
        assert_eq!(c.brokers(), "127.0.0.1:9092");
        assert_eq!(c.temporal_address(), "127.0.0.1:7233");
        assert!(!c.broker_is_external());
        assert_eq!(c.kafka.topics.requests, "volcano.requests");
    }

    #[test]
    fn topics_get_one_partition_on_the_embedded_broker_and_four_on_a_cluster() {
        let mut c = VolcanoConfig::default();
        assert_eq!(c.topic_partitions(), 1);
        c.kafka.brokers = "kafka:9092".into();
        assert_eq!(c.topic_partitions(), 4);
        let c: VolcanoConfig = toml::from_str("[kafka]\npartitions = 6\n").unwrap();
        assert_eq!(c.topic_partitions(), 6);
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut c: VolcanoConfig = toml::from_str(
            "[kafka]\nbrokers = \"file:9092\"\n[kafka.properties]\n\"linger.ms\" = \"5\"\n",
        )
        .unwrap();
        assert_eq!(c.kafka.properties["linger.ms"], "5");
        c.apply_env(|k| (k == "KAFKA_BROKERS").then(|| "kafka-1:9092,kafka-2:9092".to_string()));
        assert_eq!(c.brokers(), "kafka-1:9092,kafka-2:9092");
        assert!(c.broker_is_external());
        assert!(!c.temporal_is_external());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<VolcanoConfig>("[kafka]\nbroker = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}

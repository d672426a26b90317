//! Kafka clients (rdkafka / librdkafka) configured the same way for every role.
//!
//! - [`client_config`] applies the user's librdkafka properties unchanged over our defaults.
//! - [`ensure_topics`] creates missing topics on start.
//! - [`stream_producer`] (streams of results and requests) waits for `acks=all` with one
//!   request in flight, in order; [`commits_producer`] is also idempotent.
//! - [`OffsetTracker`] decides which offset may be stored: the lowest record of a partition
//!   that is not yet acknowledged, so offsets only ever move past acknowledged work.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::config::VolcanoConfig;

/// What this process runs, for the clients' `client.id` (see [`set_roles`]).
static ROLES: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the roles this process runs (`pipeline+ingress`), once, before its first client:
/// every client's default `client.id` is then `volcano-<roles>@<host>`, so a broker's logs,
/// quotas and ACLs can tell Volcano's processes apart. Unset (a CLI command), `volcano-cli`.
pub fn set_roles(roles: &str) {
    let _ = ROLES.set(roles.to_string());
}

/// This machine's name, read once: clients name themselves by it (Kafka's `client.id`,
/// Temporal's identity).
pub fn host_name() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
}

/// The default `client.id`: `volcano-<roles>@<host>`.
pub fn client_id() -> String {
    let roles = ROLES.get().map(String::as_str).unwrap_or("cli");
    format!("volcano-{roles}@{}", host_name())
}

/// Our defaults, then the user's `kafka.properties` on top.
pub fn client_config(config: &VolcanoConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", config.brokers());
    c.set("client.id", client_id());
    // The embedded broker listens on IPv4 only.
    c.set("broker.address.family", "v4");
    c.set("log_level", "4");
    for (k, v) in &config.kafka.properties {
        c.set(k, v);
    }
    c
}

/// The producer of a stream of records (results, requests): it waits for all in-sync
/// replicas and keeps one request in flight per broker, so a retry cannot reorder a
/// partition. It lingers 5 ms to batch them: measured at 1000 REST calls/s on the embedded
/// broker, against 1 ms, one broker hop's p99 went from 92 to 37 ms and the REST p99 from
/// 572 to 415 ms, at 13% less CPU per call (fewer produce requests for tansu to answer, fewer
/// wake-ups of librdkafka's threads).
///
/// It is not idempotent by default. librdkafka's idempotent producer caps each partition at
/// five in-flight *messages* (it compares its message count with the five-request window), so
/// once a batch of five is out its broker thread polls with a zero timeout until the reply
/// comes. At 2,000 REST calls/s that spin cost 40% of the process's CPU (410 → 246 µs per
/// call) and tripled the REST p99 (`benches/ingress.rs`). What idempotence would add, a
/// retried produce never written twice, Volcano already absorbs: a record can come twice
/// anyway when a request is redelivered after a crash, and results are keyed by request id
/// and deduplicated (the first per key wins). `kafka.properties` can turn it back on.
pub fn stream_producer(config: &VolcanoConfig) -> Result<FutureProducer, KafkaError> {
    stream_producer_config(config).create()
}

/// The watcher's producer: one event at a time, each waited for, so batching would only
/// delay a reload, and idempotent: nothing is ever waiting behind an in-flight event.
pub fn commits_producer(config: &VolcanoConfig) -> Result<FutureProducer, KafkaError> {
    commits_producer_config(config).create()
}

fn commits_producer_config(config: &VolcanoConfig) -> ClientConfig {
    let mut c = producer_config(config, 1);
    set_default(&mut c, "enable.idempotence", "true");
    c
}

/// The settings of [`stream_producer`], for a caller that adds its own (the ingress sets
/// its delivery timeout) before creating the producer.
///
/// It never asks the broker to create a topic: the pipeline's own topics exist before it
/// produces, so only a request's `reply_topic` can be missing, and a request (untrusted
/// input) must not create topics on a broker that allows it. A missing topic is reported
/// after 5 s instead of librdkafka's 30; until then its request holds its partition's
/// offset, then it is dead-lettered (see [`crate::faults`]). 5 s is still well over the
/// time a topic just created takes to reach every broker.
pub fn stream_producer_config(config: &VolcanoConfig) -> ClientConfig {
    let mut c = producer_config(config, 5);
    set_default(&mut c, "enable.idempotence", "false");
    set_default(&mut c, "max.in.flight.requests.per.connection", "1");
    set_default(&mut c, "allow.auto.create.topics", "false");
    set_default(&mut c, "topic.metadata.propagation.max.ms", "5000");
    c
}

fn producer_config(config: &VolcanoConfig, linger_ms: u32) -> ClientConfig {
    let mut c = client_config(config);
    set_default(&mut c, "acks", "all");
    set_default(&mut c, "linger.ms", &linger_ms.to_string());
    set_default(&mut c, "compression.type", "none");
    c
}

/// Sets `key` unless the user's properties already chose a value.
pub fn set_default(c: &mut ClientConfig, key: &str, value: &str) {
    if c.get(key).is_none() {
        c.set(key, value);
    }
}

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker {brokers} unreachable: {source}{}", last_error(.cause))]
    Unreachable {
        brokers: String,
        source: KafkaError,
        /// What the client last reported on its own (a TLS handshake's verdict, an
        /// authentication failure): the call's error alone says only "transport failure".
        cause: Option<Box<str>>,
    },
    #[error("cannot create topic {topic}: {reason}")]
    CreateTopic { topic: String, reason: String },
    #[error("kafka client error: {0}")]
    Client(#[from] KafkaError),
    #[error("invalid {setting}: {reason}")]
    Config {
        setting: &'static str,
        reason: String,
    },
}

impl BrokerError {
    /// Whether trying again later can help (the broker may come up); topic errors are config.
    pub fn retryable(&self) -> bool {
        matches!(self, BrokerError::Unreachable { .. })
    }
}

fn last_error(cause: &Option<Box<str>>) -> String {
    cause
        .as_ref()
        .map(|c| format!(" (the client reported: {c})"))
        .unwrap_or_default()
}

/// A client context that keeps the last error the client reported by itself, so that a
/// failed call can say why ("certificate verify failed"), not only that it failed.
#[derive(Default)]
pub struct Diagnosed {
    last: std::sync::Mutex<Option<String>>,
}

impl Diagnosed {
    fn last(&self) -> Option<String> {
        self.last.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl ClientContext for Diagnosed {
    /// librdkafka logs a failed handshake or authentication from its own threads, often
    /// before a call's error event would be served: keep the last error-level line.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        use RDKafkaLogLevel::{Alert, Critical, Emerg, Error, Warning};
        if matches!(level, Emerg | Alert | Critical | Error) {
            tracing::warn!(facility, message, "kafka client");
            if let Ok(mut last) = self.last.lock() {
                *last = Some(message.to_string());
            }
        } else if matches!(level, Warning) {
            tracing::warn!(facility, message, "kafka client");
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "kafka client error");
        if let Ok(mut last) = self.last.lock() {
            *last = Some(reason.to_string());
        }
    }
}

impl ConsumerContext for Diagnosed {}

/// Fetches cluster metadata: the broker is up and speaks Kafka.
pub fn probe(config: &VolcanoConfig, timeout: Duration) -> Result<usize, BrokerError> {
    let consumer: BaseConsumer<Diagnosed> =
        client_config(config).create_with_context(Diagnosed::default())?;
    let md = consumer.fetch_metadata(None, timeout).map_err(|source| {
        // Serve the client's pending events: its error callback says why.
        let deadline = std::time::Instant::now() + Duration::from_millis(500);
        while consumer.context().last().is_none() && std::time::Instant::now() < deadline {
            let _ = consumer.poll(Duration::from_millis(50));
        }
        BrokerError::Unreachable {
            brokers: config.brokers(),
            source,
            cause: consumer.context().last().map(String::into_boxed_str),
        }
    })?;
    Ok(md.brokers().len())
}

/// Creates each of `topics` that does not exist yet.
pub async fn ensure_topics(config: &VolcanoConfig, topics: &[&str]) -> Result<(), BrokerError> {
    let admin: AdminClient<Diagnosed> =
        client_config(config).create_with_context(Diagnosed::default())?;
    let retention = config.pipeline.answer_retention_ms.to_string();
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            // The commit stream is one ordered log, kept forever: replaying it from offset 0
            // rebuilds the registry, in the order the live instances applied it.
            let is_commits = *t == config.kafka.topics.commits;
            let partitions = if is_commits {
                1
            } else {
                config.topic_partitions()
            };
            let topic = NewTopic::new(
                t,
                partitions,
                TopicReplication::Fixed(config.kafka.replication),
            );
            if is_commits {
                topic.set("retention.ms", "-1")
            } else if *t == config.kafka.topics.changelog {
                // The state store's changelog: the newest answer per request id, until the
                // answers' retention has passed.
                topic
                    .set("cleanup.policy", "compact,delete")
                    .set("retention.ms", &retention)
            } else {
                topic
            }
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results =
        admin
            .create_topics(&new, &opts)
            .await
            .map_err(|source| BrokerError::Unreachable {
                brokers: config.brokers(),
                source,
                cause: admin.inner().context().last().map(String::into_boxed_str),
            })?;
    for r in results {
        match r {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(BrokerError::CreateTopic {
                    topic,
                    reason: code.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Assigns every partition of `topic` to `consumer` (no group join), each at the offset
/// `start` gives it. Returns how many partitions the topic has.
pub fn assign_all<C: Consumer<X>, X: ConsumerContext>(
    consumer: &C,
    topic: &str,
    timeout: Duration,
    mut start: impl FnMut(i32) -> Result<Offset, KafkaError>,
) -> Result<usize, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let mut tpl = TopicPartitionList::new();
    for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
        tpl.add_partition_offset(topic, p.id(), start(p.id())?)?;
    }
    if tpl.count() > 0 {
        consumer.assign(&tpl)?;
    }
    Ok(tpl.count())
}

/// Tracks consumed records until they are acknowledged, per partition.
///
/// Records may be acknowledged out of order (their results are produced concurrently); the
/// offset that may be stored is always the lowest one still pending, or one past the highest
/// acknowledged when none is pending. A crash therefore redelivers only unacknowledged work.
///
/// Each stretch of ownership of a partition is an *assignment*, numbered when its first
/// record is consumed. An acknowledgement carries the assignment its record was consumed in
/// and is ignored once that assignment is revoked: a late one from before a rebalance that
/// gave the partition back could otherwise move the offset past records consumed since.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: HashMap<(String, i32), PartitionOffsets>,
    assignments: u64,
}

#[derive(Debug)]
struct PartitionOffsets {
    pending: BTreeSet<i64>,
    next_after_acked: i64,
    stored: i64,
    assignment: u64,
}

impl OffsetTracker {
    /// A record was consumed; it is pending until [`OffsetTracker::acknowledge`]. Returns
    /// the assignment it belongs to.
    pub fn consumed(&mut self, topic: &str, partition: i32, offset: i64) -> u64 {
        let assignments = &mut self.assignments;
        // A partition starts where its first record was consumed: nothing before it is ours.
        let p = self
            .partitions
            .entry((topic.to_string(), partition))
            .or_insert_with(|| {
                *assignments += 1;
                PartitionOffsets {
                    pending: BTreeSet::new(),
                    next_after_acked: offset,
                    stored: offset,
                    assignment: *assignments,
                }
            });
        p.pending.insert(offset);
        p.assignment
    }

    /// A record's dependent work is acknowledged. Returns the offset to store now, if it
    /// moved; never one for a record of an assignment since revoked.
    pub fn acknowledge(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        assignment: u64,
    ) -> Option<i64> {
        let p = self.partitions.get_mut(&(topic.to_string(), partition))?;
        if p.assignment != assignment {
            return None;
        }
        p.pending.remove(&offset);
        p.next_after_acked = p.next_after_acked.max(offset + 1);
        let storable = p.pending.first().copied().unwrap_or(p.next_after_acked);
        (storable > p.stored).then(|| {
            p.stored = storable;
            storable
        })
    }

    /// Whether `assignment` is still this process's current assignment of the partition.
    pub fn is_current(&self, topic: &str, partition: i32, assignment: u64) -> bool {
        self.partitions
            .get(&(topic.to_string(), partition))
            .is_some_and(|p| p.assignment == assignment)
    }

    /// Records consumed and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.partitions.values().map(|p| p.pending.len()).sum()
    }

    /// Forgets partitions taken away by a rebalance; their pending records will be redelivered
    /// to the new owner.
    pub fn revoke(&mut self, topic: &str, partition: i32) {
        self.partitions.remove(&(topic.to_string(), partition));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_move_only_past_acknowledged_records() {
        let mut t = OffsetTracker::default();
        let a = (10..14).map(|o| t.consumed("req", 0, o)).last().unwrap();
        // 11 and 12 finish before 10: nothing may be stored yet.
        assert_eq!(t.acknowledge("req", 0, 11, a), None);
        assert_eq!(t.acknowledge("req", 0, 12, a), None);
        assert_eq!(t.in_flight(), 2);
        // 10 finishes: everything up to 12 is done, 13 is the next to redeliver.
        assert_eq!(t.acknowledge("req", 0, 10, a), Some(13));
        assert_eq!(t.acknowledge("req", 0, 13, a), Some(14));
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn a_late_acknowledgement_from_a_revoked_assignment_stores_nothing() {
        let mut t = OffsetTracker::default();
        let first = t.consumed("req", 0, 10);
        t.consumed("req", 0, 11);
        // The partition moves away and comes back; 10 and 11 are redelivered from 10.
        t.revoke("req", 0);
        let second = t.consumed("req", 0, 10);
        assert_ne!(first, second);
        // 11's acknowledgement from the first assignment arrives late: storing 12 would
        // skip 10 and 11, still pending in the second.
        assert_eq!(t.acknowledge("req", 0, 11, first), None);
        assert_eq!(t.acknowledge("req", 0, 10, second), Some(11));
    }

    #[test]
    fn stream_producers_keep_order_and_the_users_choice_wins() {
        let mut config = VolcanoConfig::default();
        let c = stream_producer_config(&config);
        assert_eq!(c.get("enable.idempotence"), Some("false"));
        // One request in flight: a retried batch cannot overtake the next.
        assert_eq!(c.get("max.in.flight.requests.per.connection"), Some("1"));
        assert_eq!(c.get("acks"), Some("all"));
        config
            .kafka
            .properties
            .insert("enable.idempotence".into(), "true".into());
        let c = stream_producer_config(&config);
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        // The commit stream is idempotent by default.
        config.kafka.properties.clear();
        let c = commits_producer_config(&config);
        assert_eq!(c.get("enable.idempotence"), Some("true"));
    }

    #[test]
    fn clients_are_named_by_role_and_host_unless_the_user_names_them() {
        let mut config = VolcanoConfig::default();
        let id = client_config(&config).get("client.id").unwrap().to_string();
        assert!(id.starts_with("volcano-") && id.contains('@'), "{id}");
        config
            .kafka
            .properties
            .insert("client.id".into(), "mine".into());
        assert_eq!(client_config(&config).get("client.id"), Some("mine"));
    }

    #[test]
    fn partitions_are_independent() {
        let mut t = OffsetTracker::default();
        let a0 = t.consumed("req", 0, 5);
        let a1 = t.consumed("req", 1, 7);
        assert_eq!(t.acknowledge("req", 1, 7, a1), Some(8));
        assert_eq!(t.in_flight(), 1);
        t.revoke("req", 0);
        assert_eq!(t.in_flight(), 0);
        assert_eq!(t.acknowledge("req", 0, 5, a0), None);
    }
}

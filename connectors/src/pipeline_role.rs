//! The pipeline role: consume `volcano.requests`, answer on the fast path, produce results.
//!
//! One consume loop per process. Each record is answered off the loop ([`Answerer`]: on a
//! blocking thread, bounded, records of one key in order): from its partition's state store
//! when its request id was answered before ([`crate::state_store`]; the store is restored,
//! the partition paused, when it is assigned, and fenced when it is revoked), else by the
//! fast path, the answer then stored and its changelog record acknowledged before the result
//! goes out. The record's offset is stored only once everything it depends on is
//! acknowledged by the broker, lowest pending offset first per partition (see
//! [`OffsetTracker`]). librdkafka auto-commits stored offsets. On shutdown the loop stops
//! consuming, waits for in-flight produces up to a deadline, and commits synchronously.
//! Failures are retried only while [`crate::faults`] calls them transient: a permanent one
//! dead-letters the request, so no record can hold its partition for good. The partition
//! watch ([`crate::partition_watch`]) learns from the rebalance callbacks what this process
//! owns and tells `/readyz` when the group stops moving.
//! When the REST ingress runs in the same process, each final result is handed to it as soon
//! as it is computed, and every result again once acknowledged
//! ([`crate::ingress::LocalResult`]), so its waiting call needs no second broker hop.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::Retryable;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};
use volcano_pipeline::durable::DurableJob;
use volcano_pipeline::fast_path::{FastPath, Sessions, Turn, session_key};
use volcano_pipeline::model::{Request, RequestResult, Status};

use crate::avro::{self, DeadLetter};
use crate::config::{PipelineConfig, TopicNames, VolcanoConfig};
use crate::durable::{DurableError, Started, Starter};
use crate::faults::{self, Fault};
use crate::ingress::{AcknowledgedResult, LocalResult};
use crate::kafka::{self, BrokerError, OffsetTracker};
use crate::metrics::METRICS;
use crate::partition_watch::{self, PARTITIONS};
use crate::reply::{self, ReplyPolicy};
use crate::state_store::{Entry, EntryMeta, PartitionStore, SessionUpdate, StateError};

/// Logs rebalances, tells the loop which partitions it lost and the partition watch what
/// this process owns.
struct RebalanceContext {
    revoked: mpsc::UnboundedSender<(String, i32)>,
    assigned: mpsc::UnboundedSender<Vec<i32>>,
    /// Pause each partition assigned until its state store is restored.
    pause_on_assign: bool,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            for e in tpl.elements() {
                let _ = self.revoked.send((e.topic().to_string(), e.partition()));
            }
            PARTITIONS.revoked(tpl.elements().iter().map(|e| e.partition()));
            METRICS.partitions_revoked.inc_by(tpl.count() as u64);
            info!(partitions = ?partition_ids(tpl), "partitions revoked");
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            PARTITIONS.assigned(tpl.elements().iter().map(|e| e.partition()));
            info!(partitions = ?partition_ids(tpl), "partitions assigned");
            if self.pause_on_assign && tpl.count() > 0 {
                if let Err(e) = consumer.pause(tpl) {
                    warn!(error = %e, "pausing partitions to restore their state failed");
                }
                let _ = self.assigned.send(partition_ids(tpl));
            }
        }
    }
}

fn partition_ids(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

/// A record whose dependent produce is done (or abandoned at shutdown).
struct Acknowledgement {
    origin: Origin,
    delivered: bool,
    /// Where its answer's changelog record landed.
    changelog_offset: Option<i64>,
}

/// Runs the pipeline until `shutdown` turns true. Creates missing topics first. Requests
/// routed to the durable path have their workflow started through `starter` before their
/// `accepted` result is produced and their offset stored.
/// `local`, when this process also serves the REST API, receives every final result when it
/// is computed and every result produced to the results topic once the broker has
/// acknowledged it: see [`crate::ingress::LocalResult`].
pub async fn run(
    config: &VolcanoConfig,
    fast_path: FastPath,
    starter: Starter,
    mut shutdown: watch::Receiver<bool>,
    local: Option<crate::ingress::LocalResults>,
) -> Result<(), BrokerError> {
    let topics = &config.kafka.topics;
    let replies = ReplyPolicy::new(config).map_err(|e| BrokerError::Config {
        setting: "pipeline.reply_topic_pattern",
        reason: e.to_string(),
    })?;
    kafka::ensure_topics(config, &topics.all()).await?;
    let (revoked_tx, mut revoked_rx) = mpsc::unbounded_channel();
    let (assigned_tx, mut assigned_rx) = mpsc::unbounded_channel();
    let cc = consumer_config(config);
    let consumer: StreamConsumer<RebalanceContext> = cc.create_with_context(RebalanceContext {
        revoked: revoked_tx,
        assigned: assigned_tx,
        pause_on_assign: config.pipeline.state_store,
    })?;
    consumer.subscribe(&[&topics.requests])?;
    let outlet = Arc::new(Outlet::new(
        config,
        kafka::stream_producer(config)?,
        kafka::stream_producer(config)?,
    ));
    PARTITIONS.started();
    let (rejoin_tx, mut rejoin_rx) = mpsc::unbounded_channel();
    let lag_probe = partition_watch::spawn(config, shutdown.clone(), rejoin_tx)
        .map_err(|e| warn!(error = %e, "lag probe not started"))
        .ok();
    let (restored_tx, mut restored_rx) = mpsc::unbounded_channel();
    info!(topic = %topics.requests, brokers = %config.brokers(), state_store = config.pipeline.state_store, "pipeline consuming");

    let answerer = Answerer {
        config: config.clone(),
        replies,
        fast_path: Arc::new(fast_path),
        sessions: Mutex::new(Sessions::new(config.pipeline.max_sessions)),
        computing: Arc::new(Semaphore::new(
            config.pipeline.max_concurrent_answers.max(1),
        )),
    };
    let mut work = Work {
        answerer: Arc::new(answerer),
        order: KeyOrder::default(),
        starter,
        outlet,
        shutdown: shutdown.clone(),
        local,
        states: States::new(config, restored_tx),
        tracker: OffsetTracker::default(),
        acks: FuturesUnordered::new(),
    };
    let max_in_flight = config.pipeline.max_in_flight.max(1);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            Some((topic, partition)) = revoked_rx.recv() => work.revoke(&topic, partition),
            Some(partitions) = assigned_rx.recv() => work.states.assigned(partitions),
            Some(restore) = restored_rx.recv() => {
                for record in work.states.restored(restore, &consumer) {
                    work.take(record);
                }
            }
            Some(()) = rejoin_rx.recv() => {
                // Owning nothing while records wait: ask the coordinator again.
                consumer.unsubscribe();
                if let Err(e) = consumer.subscribe(&[&topics.requests]) {
                    error!(error = %e, "rejoining the group failed");
                }
            }
            Some(ack) = work.acks.next(), if !work.acks.is_empty() => {
                work.acknowledged(&consumer, ack);
            }
            msg = consumer.recv(), if work.acks.len() < max_in_flight => {
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => {
                        warn!(error = %e, "consume error; continuing");
                        continue;
                    }
                };
                METRICS.consumed.inc();
                observe_age(&msg);
                // A rebalance signalled during this poll comes before the record it
                // returned: that record opens the partition's next assignment.
                while let Ok((topic, partition)) = revoked_rx.try_recv() {
                    work.revoke(&topic, partition);
                }
                while let Ok(partitions) = assigned_rx.try_recv() {
                    work.states.assigned(partitions);
                }
                let record = msg.detach();
                if let Some(record) = work.states.hold(record) {
                    work.take(record);
                }
            }
        }
    }

    // Drain: stop consuming, give in-flight produces until the deadline.
    let deadline = Instant::now() + Duration::from_millis(config.pipeline.shutdown_deadline_ms);
    info!(in_flight = work.acks.len(), "draining before shutdown");
    while !work.acks.is_empty() {
        match tokio::time::timeout_at(deadline.into(), work.acks.next()).await {
            Ok(Some(ack)) => work.acknowledged(&consumer, ack),
            Ok(None) => break,
            Err(_) => {
                warn!(
                    abandoned = work.acks.len(),
                    "shutdown deadline passed; those records will be redelivered"
                );
                break;
            }
        }
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last auto-commit is a benign "no offset" error.
        debug!(error = %e, "final commit");
    }
    work.states.close();
    PARTITIONS.stopped();
    if let Some(thread) = lag_probe {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    info!("pipeline stopped");
    Ok(())
}

type Acks = FuturesUnordered<std::pin::Pin<Box<dyn Future<Output = Acknowledgement> + Send>>>;

/// What the consume loop works with: how to answer, where answers go, and what is in flight.
struct Work {
    answerer: Arc<Answerer>,
    order: KeyOrder,
    starter: Starter,
    outlet: Arc<Outlet>,
    shutdown: watch::Receiver<bool>,
    local: Option<crate::ingress::LocalResults>,
    states: States,
    tracker: OffsetTracker,
    acks: Acks,
}

impl Work {
    /// Answers a record (its partition's state store ready, when there is one) and starts
    /// its delivery.
    fn take(&mut self, record: OwnedMessage) {
        let assignment = self
            .tracker
            .consumed(record.topic(), record.partition(), record.offset());
        let origin = Origin {
            topic: record.topic().to_string(),
            partition: record.partition(),
            offset: record.offset(),
            assignment,
        };
        let consumed_at = Instant::now();
        let store = self.states.ready(record.partition());
        let (before, after) = self.order.chain(record.key());
        let answerer = self.answerer.clone();
        let (starter, outlet, shutdown) = (
            self.starter.clone(),
            self.outlet.clone(),
            self.shutdown.clone(),
        );
        let local = self.local.clone();
        self.acks.push(Box::pin(async move {
            if let Some(before) = before {
                // Answered (or dropped at shutdown) either way.
                let _ = before.await;
            }
            let answered = answerer.answer(&record, store.as_deref()).await;
            drop(after);
            if answered.fenced {
                return Acknowledgement {
                    origin,
                    delivered: false,
                    changelog_offset: None,
                };
            }
            let start = answered.job.map(|job| (starter, job, consumed_at));
            let local = local.zip(answered.result);
            deliver(
                outlet,
                start,
                answered.outgoing,
                (record, origin),
                shutdown,
                local,
            )
            .await
        }));
        METRICS.in_flight.set(self.acks.len() as i64);
    }

    fn revoke(&mut self, topic: &str, partition: i32) {
        self.tracker.revoke(topic, partition);
        self.states.revoked(partition);
    }

    fn acknowledged(&mut self, consumer: &StreamConsumer<RebalanceContext>, ack: Acknowledgement) {
        if let Some(offset) = ack.changelog_offset
            && self.tracker.is_current(
                &ack.origin.topic,
                ack.origin.partition,
                ack.origin.assignment,
            )
        {
            self.states.written(ack.origin.partition, offset);
        }
        store_acknowledged(consumer, &mut self.tracker, ack);
        METRICS.in_flight.set(self.acks.len() as i64);
    }
}

/// The state stores of the partitions this process owns, and the records of partitions
/// still restoring theirs.
///
/// A partition assigned is paused (by [`RebalanceContext`]) until its store is restored
/// on a blocking thread; records of it fetched before the pause wait here, in order.
struct States {
    enabled: bool,
    dir: std::path::PathBuf,
    retention: Duration,
    config: VolcanoConfig,
    ready: HashMap<i32, Arc<PartitionStore>>,
    restoring: HashMap<i32, Restoring>,
    restores: u64,
    restored_tx: mpsc::UnboundedSender<RestoreDone>,
}

struct Restoring {
    id: u64,
    held: VecDeque<OwnedMessage>,
}

/// A restore finished, well or not.
struct RestoreDone {
    partition: i32,
    id: u64,
    store: Result<PartitionStore, StateError>,
}

impl States {
    fn new(config: &VolcanoConfig, restored_tx: mpsc::UnboundedSender<RestoreDone>) -> States {
        States {
            enabled: config.pipeline.state_store,
            dir: config.pipeline_state_dir(),
            retention: Duration::from_millis(config.pipeline.answer_retention_ms),
            config: config.clone(),
            ready: HashMap::new(),
            restoring: HashMap::new(),
            restores: 0,
            restored_tx,
        }
    }

    /// Partitions were assigned: restore their stores.
    fn assigned(&mut self, partitions: Vec<i32>) {
        if !self.enabled {
            return;
        }
        for partition in partitions {
            if !self.ready.contains_key(&partition) && !self.restoring.contains_key(&partition) {
                self.restore(partition, Duration::ZERO);
            }
        }
    }

    fn restore(&mut self, partition: i32, after: Duration) {
        self.restores += 1;
        let id = self.restores;
        let held = self
            .restoring
            .remove(&partition)
            .map(|r| r.held)
            .unwrap_or_default();
        self.restoring.insert(partition, Restoring { id, held });
        PARTITIONS.restoring(&self.config.kafka.topics.requests, partition, true);
        METRICS
            .state_restoring_partitions
            .set(self.restoring.len() as i64);
        let (dir, retention, config) = (self.dir.clone(), self.retention, self.config.clone());
        let tx = self.restored_tx.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(after);
            let topic = config.kafka.topics.changelog.as_str();
            let store = PartitionStore::open(&dir, (topic, partition), retention, STORE_LOCK_WAIT)
                .and_then(|store| store.restore(&config).map(|_| store));
            let _ = tx.send(RestoreDone {
                partition,
                id,
                store,
            });
        });
    }

    /// A restore ended: the partition's store is ready and its held records go on (or the
    /// restore is tried again). A restore of an assignment since revoked is dropped.
    fn restored(
        &mut self,
        done: RestoreDone,
        consumer: &StreamConsumer<RebalanceContext>,
    ) -> Vec<OwnedMessage> {
        if self.restoring.get(&done.partition).map(|r| r.id) != Some(done.id) {
            return Vec::new();
        }
        let store = match done.store {
            Ok(store) => store,
            Err(e) => {
                error!(partition = done.partition, error = %e, "state store restore failed; trying again in 5 s");
                self.restore(done.partition, Duration::from_secs(5));
                return Vec::new();
            }
        };
        let restoring = self.restoring.remove(&done.partition).expect("restoring");
        PARTITIONS.restoring(&self.config.kafka.topics.requests, done.partition, false);
        METRICS
            .state_restoring_partitions
            .set(self.restoring.len() as i64);
        self.ready.insert(done.partition, Arc::new(store));
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.config.kafka.topics.requests, done.partition);
        if let Err(e) = consumer.resume(&tpl) {
            // Revoked meanwhile: the revocation follows on its channel.
            debug!(partition = done.partition, error = %e, "resume");
        }
        restoring.held.into()
    }

    /// The record to answer now, or `None` when it waits for its partition's store.
    fn hold(&mut self, record: OwnedMessage) -> Option<OwnedMessage> {
        if !self.enabled || self.ready.contains_key(&record.partition()) {
            return Some(record);
        }
        let partition = record.partition();
        if !self.restoring.contains_key(&partition) {
            // Assigned without a callback seen yet: restore first.
            self.restore(partition, Duration::ZERO);
        }
        let restoring = self.restoring.get_mut(&partition).expect("restoring");
        restoring.held.push_back(record);
        None
    }

    fn ready(&self, partition: i32) -> Option<Arc<PartitionStore>> {
        self.ready.get(&partition).cloned()
    }

    /// This process's changelog record for `partition` is at `offset`.
    fn written(&self, partition: i32, offset: i64) {
        if let Some(store) = self.ready.get(&partition)
            && let Err(e) = store.advance_checkpoint(offset + 1)
        {
            warn!(partition, error = %e, "state store checkpoint not written");
        }
    }

    /// The partition moved away: close its store (another owner on this disk may open it)
    /// and drop what waited for it (redelivered to the new owner).
    fn revoked(&mut self, partition: i32) {
        if let Some(store) = self.ready.remove(&partition) {
            store.fence();
        }
        if self.restoring.remove(&partition).is_some() {
            PARTITIONS.restoring(&self.config.kafka.topics.requests, partition, false);
            METRICS
                .state_restoring_partitions
                .set(self.restoring.len() as i64);
        }
    }

    fn close(&mut self) {
        for partition in self.restoring.keys() {
            PARTITIONS.restoring(&self.config.kafka.topics.requests, *partition, false);
        }
        self.restoring.clear();
        for store in self.ready.values() {
            store.fence();
        }
        self.ready.clear();
        METRICS.state_restoring_partitions.set(0);
    }
}

/// How long a new owner waits for the last owner on the same disk to close a store.
const STORE_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Records how old `msg` is by its Kafka timestamp; a clock behind the producer's counts 0.
fn observe_age(msg: &BorrowedMessage<'_>) {
    if let Some(created) = msg.timestamp().to_millis() {
        let age_ms = chrono::Utc::now().timestamp_millis() - created;
        METRICS
            .record_age_seconds
            .observe(age_ms.max(0) as f64 / 1e3);
    }
}

/// The requests consumer's settings: our defaults under the user's `kafka.properties`, and
/// `pipeline.fetch_wait_ms` over both.
fn consumer_config(config: &VolcanoConfig) -> ClientConfig {
    let mut cc = kafka::client_config(config);
    cc.set("group.id", &config.pipeline.group_id);
    kafka::set_default(&mut cc, "enable.auto.commit", "true");
    kafka::set_default(&mut cc, "auto.commit.interval.ms", "1000");
    // Offsets are stored by us, only after the dependent produce is acknowledged.
    cc.set("enable.auto.offset.store", "false");
    kafka::set_default(&mut cc, "auto.offset.reset", "earliest");
    // Incremental rebalances: a member joining or leaving moves only the partitions that
    // change owner; the others keep their in-flight work (the eager protocols revoke every
    // partition of every member on each rebalance).
    kafka::set_default(
        &mut cc,
        "partition.assignment.strategy",
        "cooperative-sticky",
    );
    match config.pipeline.fetch_wait_ms {
        Some(ms) => {
            cc.set("fetch.wait.max.ms", ms.to_string());
        }
        None => kafka::set_default(
            &mut cc,
            "fetch.wait.max.ms",
            &PipelineConfig::DEFAULT_FETCH_WAIT_MS.to_string(),
        ),
    }
    cc
}

fn store_acknowledged(
    consumer: &StreamConsumer<RebalanceContext>,
    tracker: &mut OffsetTracker,
    ack: Acknowledgement,
) {
    if !ack.delivered {
        return;
    }
    let Origin {
        topic,
        partition,
        offset,
        assignment,
    } = &ack.origin;
    // An acknowledgement from an assignment since revoked stores nothing: the partition's
    // new owner (or this process's next assignment of it) redelivers what it has not seen.
    let Some(next) = tracker.acknowledge(topic, *partition, *offset, *assignment) else {
        return;
    };
    // `store_offsets` stores exactly the offset given: the next record to consume. (The legacy
    // single-offset call would add one more and skip a record.)
    let mut tpl = TopicPartitionList::new();
    let stored = tpl
        .add_partition_offset(topic, *partition, Offset::Offset(next))
        .and_then(|()| consumer.store_offsets(&tpl));
    if let Err(e) = stored {
        // The partition may have been revoked meanwhile; its new owner redelivers.
        debug!(error = %e, %topic, partition, "offset not stored");
    }
}

/// Where a record came from, and in which assignment of its partition it was consumed.
struct Origin {
    topic: String,
    partition: i32,
    offset: i64,
    assignment: u64,
}

/// A message to produce: topic, key, payload, and what it is to its request.
struct Outgoing {
    topic: String,
    /// The partition it must go to; `None`, the producer's partitioner (by key) chooses.
    partition: Option<i32>,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    role: OutRole,
}

/// What a produced record is to the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutRole {
    /// Its result, on the results topic.
    Result,
    /// A copy of its result on the request's `reply_topic`.
    ReplyCopy,
    /// Its dead letter.
    DeadLetter,
    /// Its answer's state-store changelog record.
    Changelog,
}

impl OutRole {
    fn as_str(self) -> &'static str {
        match self {
            OutRole::Result => "result",
            OutRole::ReplyCopy => "reply",
            OutRole::DeadLetter => "dead_letter",
            OutRole::Changelog => "changelog",
        }
    }
}

/// One record answered.
struct Answered {
    /// What must be produced before its offset may move: the result first (to the results
    /// topic), or a dead letter.
    outgoing: Vec<Outgoing>,
    /// The workflow to start first when the request went durable.
    job: Option<DurableJob>,
    /// The result that `outgoing[0]` carries, when there is one.
    result: Option<RequestResult>,
    /// Its partition was revoked while it was computed: nothing is stored or produced, and
    /// its offset does not move (the new owner answers it).
    fenced: bool,
}

impl Answered {
    fn fenced() -> Answered {
        Answered {
            outgoing: Vec::new(),
            job: None,
            result: None,
            fenced: true,
        }
    }

    fn dead_letter(letter: Outgoing) -> Answered {
        Answered {
            outgoing: vec![letter],
            job: None,
            result: None,
            fenced: false,
        }
    }
}

/// What answering a record needs, shared by the records in flight: the chain, where
/// sessions live when there is no state store, and the bound on answers computing at once.
///
/// Answers are computed off the consume loop, on blocking threads (an `http` tool waits on
/// its server, a transform may run long), at most `pipeline.max_concurrent_answers` at once.
/// Records with the same Kafka key (a session, or a request id sent twice) are answered one
/// after the other, each once the previous has stored what it left in its session: see
/// [`KeyOrder`].
struct Answerer {
    config: VolcanoConfig,
    replies: ReplyPolicy,
    fast_path: Arc<FastPath>,
    /// Sessions in this process's memory, when the state store is off.
    sessions: Mutex<Sessions>,
    computing: Arc<Semaphore>,
}

impl Answerer {
    /// Decodes and answers one record: from its partition's state store when the request
    /// was answered before, else by the fast path (the session's context read from, and its
    /// answer written to, the store first).
    async fn answer(&self, msg: &OwnedMessage, store: Option<&PartitionStore>) -> Answered {
        let config = &self.config;
        let topics = &config.kafka.topics;
        let bytes = msg.payload().unwrap_or_default();
        let decoded = avro::decode_request(bytes, config.pipeline.max_message_bytes, || {
            format!("{}-{}-{}", msg.topic(), msg.partition(), msg.offset())
        });
        let request = match decoded {
            Ok(request) => request,
            Err(e) => {
                debug!(
                    kind = e.kind(),
                    offset = msg.offset(),
                    "dead-lettering undecodable record"
                );
                let letter = dead_letter_of(msg, config, e.kind(), e.to_string());
                return Answered::dead_letter(letter);
            }
        };
        if let Some(store) = store {
            match store.answer(&request.id, chrono::Utc::now().timestamp_millis()) {
                Ok(Some(entry)) => return replayed(&request, entry, topics),
                Ok(None) => {}
                Err(e) => {
                    error!(error = %e, request = %request.id, "state store unreadable; answering anew")
                }
            }
        }
        // Observed when dropped: decoded request to encoded result.
        let _timer = METRICS.process_seconds.start_timer();
        let reply = request.reply_topic.clone().filter(|t| !t.is_empty());
        let refusal = reply.as_deref().and_then(|t| self.replies.refusal(t));
        let (mut result, job, reply, session) = match refusal {
            // Refused before anything runs: no answer computed, no workflow started.
            Some(reason) => {
                warn!(request = %request.id, %reason, "reply topic refused");
                let commit = self
                    .fast_path
                    .registry()
                    .load(&request.tenant)
                    .commit
                    .clone();
                let refused = RequestResult::error(&request, &commit, reply::REFUSED_KIND, reason);
                (refused, None, None, None)
            }
            None => {
                let key = session_key(&request);
                let (previous, seq) = self.session(store, key.as_deref());
                let turn = self.compute(&request, previous).await;
                let session = match (key, turn.session) {
                    (Some(key), Some(value)) => {
                        if store.is_none() {
                            let mut sessions = self.sessions.lock().expect("sessions");
                            sessions.remember(&key, value);
                        }
                        Some(SessionUpdate {
                            key,
                            value,
                            seq: seq + 1,
                        })
                    }
                    _ => None,
                };
                (turn.result, turn.job, reply, session)
            }
        };
        let now_ms = chrono::Utc::now().timestamp_millis();
        result.produced_at = now_ms;
        METRICS
            .results
            .with_label_values(&[result.status.as_str()])
            .inc();
        let payload = match avro::encode_result(&result) {
            Ok(payload) => payload,
            Err(e) => {
                error!(error = %e, request = %request.id, "result not encodable; dead-lettering");
                let letter = dead_letter_of(msg, config, "result_unencodable", e.to_string());
                return Answered::dead_letter(letter);
            }
        };
        let mut out = Vec::with_capacity(3);
        let payload = match store {
            Some(store) => {
                let entry = Entry {
                    meta: EntryMeta {
                        stored_at: now_ms,
                        reply_topic: reply.clone(),
                        job: job.clone(),
                        session,
                    },
                    payload,
                };
                match store.record(&request.id, &entry) {
                    // Acknowledged before the result goes out: see `crate::state_store`.
                    Ok(bytes) => out.push(Outgoing {
                        topic: topics.changelog.clone(),
                        partition: Some(msg.partition()),
                        key: Some(request.id.clone().into_bytes()),
                        payload: bytes,
                        role: OutRole::Changelog,
                    }),
                    Err(StateError::Fenced { .. }) => return Answered::fenced(),
                    Err(e) => {
                        error!(error = %e, request = %request.id, "answer not stored; a redelivery will compute it again")
                    }
                }
                entry.payload
            }
            None => payload,
        };
        out.extend(result_records(&request.id, payload, reply, topics));
        Answered {
            outgoing: out,
            job,
            result: Some(result),
            fenced: false,
        }
    }

    /// The session's previous answer and its sequence number, from the state store (or this
    /// process's memory without one).
    fn session(&self, store: Option<&PartitionStore>, key: Option<&str>) -> (Option<Decimal>, u64) {
        let Some(key) = key else {
            return (None, 0);
        };
        let Some(store) = store else {
            let sessions = self.sessions.lock().expect("sessions");
            return (sessions.get(key), 0);
        };
        match store.session(key) {
            Ok(Some((value, seq))) => (Some(value), seq),
            Ok(None) => (None, 0),
            Err(e) => {
                error!(error = %e, session = %key, "session unreadable; answering without it");
                (None, 0)
            }
        }
    }

    /// Runs the fast path on a blocking thread, within the bound on answers at once. A
    /// request not answered within `pipeline.answer_timeout_ms` (a tool that ignores the
    /// fast path's own deadline, such as a jq program that loops) gets a `timeout` error;
    /// its thread runs on, holding its place in the bound, and whatever it computes is
    /// dropped.
    async fn compute(&self, request: &Request, previous: Option<Decimal>) -> Turn {
        let snapshot = self.fast_path.registry().load(&request.tenant);
        let limit = Duration::from_millis(self.config.pipeline.answer_timeout_ms.max(1));
        let timed_out = || Turn {
            result: RequestResult::error(
                request,
                &snapshot.commit,
                TIMEOUT_KIND,
                format!("no answer within {} ms", limit.as_millis()),
            ),
            job: None,
            session: None,
        };
        let waited = Instant::now();
        let Ok(permit) = self.computing.clone().acquire_owned().await else {
            return timed_out();
        };
        // Time spent waiting for a place counts against the request too.
        let limit = limit.saturating_sub(waited.elapsed());
        let (fast_path, owned) = (self.fast_path.clone(), request.clone());
        let task = tokio::task::spawn_blocking(move || {
            let turn = fast_path.answer(&owned, previous);
            drop(permit);
            turn
        });
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(turn)) => turn,
            Ok(Err(panicked)) => {
                error!(request = %request.id, error = %panicked, "the fast path panicked");
                Turn {
                    result: RequestResult::error(
                        request,
                        &snapshot.commit,
                        "internal",
                        "the request could not be answered".into(),
                    ),
                    job: None,
                    session: None,
                }
            }
            Err(_) => {
                warn!(request = %request.id, limit_ms = limit.as_millis() as u64, "answer timed out; its tool runs on");
                timed_out()
            }
        }
    }
}

/// Keeps records of one Kafka key in order: each waits for the one before it to be answered
/// (and its session stored). Records with no key (the ingress and `volcano send` always key
/// theirs) go unordered.
#[derive(Default)]
struct KeyOrder {
    last: HashMap<Vec<u8>, oneshot::Receiver<()>>,
}

impl KeyOrder {
    /// What to wait for before answering a record with `key`, and what to signal after.
    fn chain(
        &mut self,
        key: Option<&[u8]>,
    ) -> (Option<oneshot::Receiver<()>>, Option<oneshot::Sender<()>>) {
        let Some(key) = key else {
            return (None, None);
        };
        if self.last.len() > 4096 {
            // Forget the keys whose last record is answered.
            self.last
                .retain(|_, rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        }
        let (tx, rx) = oneshot::channel();
        (self.last.insert(key.to_vec(), rx), Some(tx))
    }
}

/// A request answered before: the same bytes again, and its workflow started again (a
/// start finds the workflow if it runs).
fn replayed(request: &Request, entry: Entry, topics: &TopicNames) -> Answered {
    METRICS.answers_replayed.inc();
    debug!(request = %request.id, "answered from the state store");
    let result = avro::decode_result(&entry.payload).ok();
    Answered {
        outgoing: result_records(&request.id, entry.payload, entry.meta.reply_topic, topics),
        job: entry.meta.job,
        result,
        fenced: false,
    }
}

/// A result's records: on the results topic, and a copy on the request's reply topic.
fn result_records(
    id: &str,
    payload: Vec<u8>,
    reply: Option<String>,
    topics: &TopicNames,
) -> Vec<Outgoing> {
    let key = Some(id.as_bytes().to_vec());
    let copy = reply.map(|topic| Outgoing {
        topic,
        partition: None,
        key: key.clone(),
        payload: payload.clone(),
        role: OutRole::ReplyCopy,
    });
    std::iter::once(Outgoing {
        topic: topics.results.clone(),
        partition: None,
        key,
        payload,
        role: OutRole::Result,
    })
    .chain(copy)
    .collect()
}

/// [`dead_letter`] with the configured topic and limit.
fn dead_letter_of<M: Message>(
    msg: &M,
    config: &VolcanoConfig,
    kind: &str,
    message: String,
) -> Outgoing {
    dead_letter(
        msg,
        &config.kafka.topics.dlq,
        config.pipeline.dead_letter_max_original_bytes,
        kind,
        message,
    )
}

/// The dead letter of `msg` for `topic`: its value (cut to `max_original_bytes`, with the
/// whole value's size and SHA-256, so that the letter always fits the producer's limit: one
/// that did not was retried forever and held its partition), key, headers, where it was and
/// why it failed.
fn dead_letter<M: Message>(
    msg: &M,
    topic: &str,
    max_original_bytes: usize,
    kind: &str,
    message: String,
) -> Outgoing {
    METRICS.dead_letters.with_label_values(&[kind]).inc();
    let value = msg.payload().unwrap_or_default();
    let keep = value.len().min(max_original_bytes);
    let sha256: String = Sha256::digest(value)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let headers = msg
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    let value = h.value.unwrap_or_default().to_vec();
                    (h.key.to_string(), serde_bytes::ByteBuf::from(value))
                })
                .collect()
        })
        .unwrap_or_default();
    let letter = DeadLetter {
        original: value[..keep].to_vec(),
        original_key: msg.key().map(<[u8]>::to_vec),
        topic: msg.topic().to_string(),
        partition: msg.partition(),
        offset: msg.offset(),
        error_kind: kind.to_string(),
        message,
        failed_at: chrono::Utc::now().timestamp_millis(),
        original_size: value.len() as i64,
        original_sha256: sha256,
        original_truncated: keep < value.len(),
        headers,
    };
    let payload = avro::encode_dead_letter(&letter).expect("a dead letter always encodes");
    Outgoing {
        topic: topic.to_string(),
        partition: None,
        key: letter.original_key,
        payload,
        role: OutRole::DeadLetter,
    }
}

/// What every delivery shares: the producers and where results and dead letters go.
///
/// Changelog records have a producer (so a connection, with its one request in flight) of
/// their own: a result waits for its changelog record, so on one connection each batch of
/// results would wait behind a batch of changelog records, halving what goes through
/// (measured: 0.49 x the throughput with the store off, `benches/state_store.rs`). On two,
/// the next changelog batch is in flight while the last results batch is.
struct Outlet {
    producer: FutureProducer,
    changelog_producer: FutureProducer,
    results: String,
    dead_letters: String,
    dead_letter_max_original_bytes: usize,
}

impl Outlet {
    fn new(
        config: &VolcanoConfig,
        producer: FutureProducer,
        changelog_producer: FutureProducer,
    ) -> Self {
        Outlet {
            producer,
            changelog_producer,
            results: config.kafka.topics.results.clone(),
            dead_letters: config.kafka.topics.dlq.clone(),
            dead_letter_max_original_bytes: config.pipeline.dead_letter_max_original_bytes,
        }
    }
}

/// How one produce ended.
enum Produced {
    /// The broker has it, at this partition and offset.
    Acknowledged(i32, i64),
    /// Refused for good (see [`faults::of_produce`]): no retry can write it.
    Refused(KafkaError),
    /// Shutdown came first; the request will be redelivered.
    Abandoned,
}

/// Produces everything a record depends on, retrying transient failures; then starts its
/// workflow when it has one (retrying while Temporal is unreachable); and reports back.
///
/// The `accepted` result goes out before the start so that it always precedes the final
/// result on the results topic; the offset moves only after both. A crash in between
/// redelivers the request: `accepted` again, and a start that finds the workflow.
///
/// A permanent failure never holds the partition: a result or reply copy the broker refuses,
/// or a start Temporal refuses, makes the request a dead letter with the reason (a refused
/// start also answers the request with an `ERROR` result), and the offset moves on.
async fn deliver(
    outlet: Arc<Outlet>,
    start: Option<(Starter, DurableJob, Instant)>,
    outgoing: Vec<Outgoing>,
    (record, origin): (OwnedMessage, Origin),
    shutdown: watch::Receiver<bool>,
    local: Option<(crate::ingress::LocalResults, RequestResult)>,
) -> Acknowledgement {
    let mut changelog_offset = None;
    let delivered = deliver_record(
        &outlet,
        start,
        outgoing,
        &record,
        &shutdown,
        local,
        &mut changelog_offset,
    )
    .await;
    Acknowledgement {
        origin,
        delivered,
        changelog_offset,
    }
}

/// [`deliver`]'s work: true once the record's offset may move, false when shutdown came
/// first. Sets `changelog_offset` when its answer's changelog record is acknowledged.
async fn deliver_record(
    outlet: &Outlet,
    start: Option<(Starter, DurableJob, Instant)>,
    outgoing: Vec<Outgoing>,
    record: &OwnedMessage,
    shutdown: &watch::Receiver<bool>,
    mut local: Option<(crate::ingress::LocalResults, RequestResult)>,
    changelog_offset: &mut Option<i64>,
) -> bool {
    // A final result answers the ingress's waiting call now; `accepted` waits for the
    // broker, so that a client told "accepted" finds the workflow started soon after.
    if let Some((ingress, result)) = &local
        && result.status != Status::Accepted
    {
        // An ingress that stopped reads the topic instead; nothing to do.
        let _ = ingress.send(LocalResult::Answer(result.clone()));
    }
    let reply_topic = outgoing
        .iter()
        .find(|o| o.role == OutRole::ReplyCopy)
        .map(|o| o.topic.clone());
    for out in outgoing {
        if out.role == OutRole::Changelog {
            match produce(&outlet.changelog_producer, &out, shutdown).await {
                Produced::Acknowledged(_, offset) => *changelog_offset = Some(offset),
                Produced::Abandoned => return false,
                // Answered all the same; only a redelivery would compute it again.
                Produced::Refused(e) => {
                    METRICS
                        .produce_refused
                        .with_label_values(&[out.role.as_str()])
                        .inc();
                    error!(error = %e, topic = %out.topic, "changelog record refused; the answer is not kept");
                }
            }
            continue;
        }
        // The first record left is the result, when there is one: only its
        // acknowledgement (not a reply copy's) is handed over.
        let handed = local.take();
        match produce(&outlet.producer, &out, shutdown).await {
            Produced::Acknowledged(partition, offset) => {
                if let Some((ingress, result)) = handed {
                    let _ = ingress.send(LocalResult::Acknowledged(AcknowledgedResult {
                        partition,
                        offset,
                        result,
                        payload: out.payload,
                    }));
                }
            }
            Produced::Abandoned => return false,
            Produced::Refused(e) => {
                let reason = format!("topic {}: {e}", out.topic);
                return refused(outlet, record, out.role, reason, shutdown).await;
            }
        }
    }
    if let Some((starter, job, consumed_at)) = start {
        let started = start_until_accepted(&starter, job.clone(), shutdown).await;
        METRICS
            .durable_start_seconds
            .observe(consumed_at.elapsed().as_secs_f64());
        match started {
            Start::Accepted => {}
            Start::Abandoned => return false,
            Start::Refused(reason) => {
                return start_refused(outlet, record, job, reply_topic, reason, shutdown).await;
            }
        }
    }
    true
}

/// The error kind of a request not answered in time: the same as a tool's own timeout.
pub const TIMEOUT_KIND: &str = "timeout";

/// The dead-letter kind of a request whose result the broker refused.
pub const RESULT_REFUSED: &str = "result_refused";
/// The dead-letter kind of a request whose reply-topic copy the broker refused.
pub const REPLY_REFUSED: &str = "reply_refused";
/// The dead-letter and error kind of a durable request whose workflow Temporal refused.
pub const START_REFUSED: &str = "workflow_start_refused";

/// A record of `role` was refused for good: dead-letter the request (unless the refused
/// record was its dead letter: then nothing more can be written, and the loss is logged and
/// counted), so that its offset may move.
async fn refused(
    outlet: &Outlet,
    record: &OwnedMessage,
    role: OutRole,
    reason: String,
    shutdown: &watch::Receiver<bool>,
) -> bool {
    let kind = match role {
        OutRole::Result => RESULT_REFUSED,
        OutRole::ReplyCopy => REPLY_REFUSED,
        OutRole::DeadLetter | OutRole::Changelog => return dead_letter_lost(record, reason),
    };
    METRICS
        .produce_refused
        .with_label_values(&[role.as_str()])
        .inc();
    warn!(%reason, kind, offset = record.offset(), "record refused by the broker; dead-lettering the request");
    dead_letter_then_acknowledge(outlet, record, kind, reason, shutdown).await
}

/// Temporal refused a durable request's workflow for good: answer the request with an
/// `ERROR` result (after its `accepted` one, so the caller learns the end) and dead-letter it.
async fn start_refused(
    outlet: &Outlet,
    record: &OwnedMessage,
    job: DurableJob,
    reply_topic: Option<String>,
    reason: String,
    shutdown: &watch::Receiver<bool>,
) -> bool {
    warn!(request = %job.request.id, %reason, "workflow start refused; answering with an error");
    let mut result = RequestResult::error(
        &job.request,
        &job.registry_commit,
        START_REFUSED,
        reason.clone(),
    );
    result.produced_at = chrono::Utc::now().timestamp_millis();
    METRICS
        .results
        .with_label_values(&[result.status.as_str()])
        .inc();
    if let Ok(payload) = avro::encode_result(&result) {
        let key = Some(job.request.id.clone().into_bytes());
        let topics = std::iter::once(outlet.results.clone()).chain(reply_topic);
        for topic in topics {
            let out = Outgoing {
                topic,
                partition: None,
                key: key.clone(),
                payload: payload.clone(),
                role: OutRole::Result,
            };
            match produce(&outlet.producer, &out, shutdown).await {
                Produced::Acknowledged(..) => {}
                Produced::Abandoned => return false,
                // The dead letter below still says why.
                Produced::Refused(e) => {
                    warn!(error = %e, topic = %out.topic, "error result refused")
                }
            }
        }
    }
    dead_letter_then_acknowledge(outlet, record, START_REFUSED, reason, shutdown).await
}

/// Produces the dead letter of `record`; true (its offset may move) unless shutdown came
/// first.
async fn dead_letter_then_acknowledge(
    outlet: &Outlet,
    record: &OwnedMessage,
    kind: &str,
    reason: String,
    shutdown: &watch::Receiver<bool>,
) -> bool {
    let letter = dead_letter(
        record,
        &outlet.dead_letters,
        outlet.dead_letter_max_original_bytes,
        kind,
        reason,
    );
    match produce(&outlet.producer, &letter, shutdown).await {
        Produced::Acknowledged(..) => true,
        Produced::Abandoned => false,
        Produced::Refused(e) => dead_letter_lost(record, e),
    }
}

/// A dead letter the broker refused for good: nothing more can be written for the record,
/// so the loss is logged and counted, and its offset may move.
fn dead_letter_lost(record: &OwnedMessage, reason: impl std::fmt::Display) -> bool {
    METRICS
        .produce_refused
        .with_label_values(&[OutRole::DeadLetter.as_str()])
        .inc();
    error!(%reason, offset = record.offset(), "dead letter refused by the broker; the record is skipped");
    true
}

/// How a workflow start ended.
enum Start {
    Accepted,
    Refused(String),
    Abandoned,
}

/// Starts a workflow, retrying transient failures with [`faults::backoff`]; refused when
/// Temporal rejects it for good, abandoned when shutdown came first (the record is then
/// redelivered, and its start is idempotent).
async fn start_until_accepted(
    starter: &Starter,
    job: DurableJob,
    shutdown: &watch::Receiver<bool>,
) -> Start {
    let id = job.request.id.clone();
    let attempt = || starter.start(job.clone());
    let started = attempt
        .retry(faults::backoff())
        .when(|e| !matches!(e, DurableError::Refused { .. }) && !*shutdown.borrow())
        .notify(|e, wait| {
            warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "workflow start failed; retrying");
        })
        .await;
    match started {
        Ok(started) => {
            if started == Started::New {
                METRICS.durable_started.inc();
            }
            debug!(request = %id, ?started, "workflow started");
            Start::Accepted
        }
        Err(e @ DurableError::Refused { .. }) => Start::Refused(e.to_string()),
        Err(e) => {
            warn!(error = %e, "workflow not started before shutdown; the request will be redelivered");
            Start::Abandoned
        }
    }
}

/// Produces `out`, retrying transient failures with [`faults::backoff`] until the broker
/// acknowledges it, refuses it for good, or shutdown comes first.
async fn produce(
    producer: &FutureProducer,
    out: &Outgoing,
    shutdown: &watch::Receiver<bool>,
) -> Produced {
    let handed = Instant::now();
    let attempt = || async {
        let mut record = FutureRecord::to(&out.topic).payload(&out.payload);
        if let Some(k) = &out.key {
            record = record.key(k);
        }
        if let Some(p) = out.partition {
            record = record.partition(p);
        }
        producer
            .send(record, Duration::from_secs(5))
            .await
            .map_err(|(e, _)| e)
    };
    let sent = attempt
        .retry(faults::backoff())
        .when(|e| faults::of_produce(e) == Fault::Transient && !*shutdown.borrow())
        .notify(|e, wait| {
            METRICS.produce_retries.inc();
            warn!(error = %e, topic = %out.topic, retry_in_ms = wait.as_millis() as u64, "produce failed; retrying");
        })
        .await;
    match sent {
        Ok(delivery) => {
            METRICS
                .produce_seconds
                .observe(handed.elapsed().as_secs_f64());
            Produced::Acknowledged(delivery.partition, delivery.offset)
        }
        Err(e) if faults::of_produce(&e) == Fault::Permanent => Produced::Refused(e),
        Err(e) => {
            warn!(error = %e, topic = %out.topic, "produce failed during shutdown; record will be redelivered");
            Produced::Abandoned
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_s_fetch_wait_is_its_own_then_the_user_s_then_ours() {
        let mut config = VolcanoConfig::default();
        let wait = |c: &VolcanoConfig| {
            consumer_config(c)
                .get("fetch.wait.max.ms")
                .map(String::from)
        };
        assert_eq!(wait(&config).as_deref(), Some("10"));
        assert_eq!(
            consumer_config(&config).get("partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
        config
            .kafka
            .properties
            .insert("fetch.wait.max.ms".into(), "100".into());
        assert_eq!(wait(&config).as_deref(), Some("100"));
        config.pipeline.fetch_wait_ms = Some(5);
        assert_eq!(wait(&config).as_deref(), Some("5"));
        // Offsets are always stored by the loop, whatever the properties say.
        config
            .kafka
            .properties
            .insert("enable.auto.offset.store".into(), "true".into());
        assert_eq!(
            consumer_config(&config).get("enable.auto.offset.store"),
            Some("false")
        );
    }
}

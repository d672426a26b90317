//! The pipeline role: consume `volcano.requests`, answer on the fast path, produce results.
//!
//! One loop per process. Each record is decoded and answered in-process (microseconds), then
//! its result (or dead letter) is produced; the record's offset is stored only once that
//! produce is acknowledged by the broker, lowest pending offset first per partition (see
//! [`OffsetTracker`]). librdkafka auto-commits stored offsets. On shutdown the loop stops
//! consuming, waits for in-flight produces up to a deadline, and commits synchronously.
//! Failures are retried only while [`crate::faults`] calls them transient: a permanent one
//! dead-letters the request, so no record can hold its partition for good. The partition
//! watch ([`crate::partition_watch`]) learns from the rebalance callbacks what this process
//! owns and tells `/readyz` when the group stops moving.
//! When the REST ingress runs in the same process, each final result is handed to it as soon
//! as it is computed, and every result again once acknowledged
//! ([`crate::ingress::LocalResult`]), so its waiting call needs no second broker hop.

use std::sync::Arc;
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
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};
use volcano_pipeline::durable::DurableJob;
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::{RequestResult, Status};

use crate::avro::{self, DeadLetter};
use crate::config::{PipelineConfig, VolcanoConfig};
use crate::durable::{DurableError, Started, Starter};
use crate::faults::{self, Fault};
use crate::ingress::{AcknowledgedResult, LocalResult};
use crate::kafka::{self, BrokerError, OffsetTracker};
use crate::metrics::METRICS;
use crate::partition_watch::{self, PARTITIONS};
use crate::reply::{self, ReplyPolicy};

/// Logs rebalances, tells the loop which partitions it lost and the partition watch what
/// this process owns.
struct RebalanceContext {
    revoked: mpsc::UnboundedSender<(String, i32)>,
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

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            PARTITIONS.assigned(tpl.elements().iter().map(|e| e.partition()));
            info!(partitions = ?partition_ids(tpl), "partitions assigned");
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
}

/// Runs the pipeline until `shutdown` turns true. Creates missing topics first. Requests
/// routed to the durable path have their workflow started through `starter` before their
/// `accepted` result is produced and their offset stored.
/// `local`, when this process also serves the REST API, receives every final result when it
/// is computed and every result produced to the results topic once the broker has
/// acknowledged it: see [`crate::ingress::LocalResult`].
pub async fn run(
    config: &VolcanoConfig,
    mut fast_path: FastPath,
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
    let cc = consumer_config(config);
    let consumer: StreamConsumer<RebalanceContext> = cc.create_with_context(RebalanceContext {
        revoked: revoked_tx,
    })?;
    consumer.subscribe(&[&topics.requests])?;
    let outlet = Arc::new(Outlet::new(config, kafka::stream_producer(config)?));
    PARTITIONS.started();
    let (rejoin_tx, mut rejoin_rx) = mpsc::unbounded_channel();
    let lag_probe = partition_watch::spawn(config, shutdown.clone(), rejoin_tx)
        .map_err(|e| warn!(error = %e, "lag probe not started"))
        .ok();
    info!(topic = %topics.requests, brokers = %config.brokers(), "pipeline consuming");

    let mut tracker = OffsetTracker::default();
    let mut acks = FuturesUnordered::new();
    let max_in_flight = config.pipeline.max_in_flight.max(1);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            Some((topic, partition)) = revoked_rx.recv() => tracker.revoke(&topic, partition),
            Some(()) = rejoin_rx.recv() => {
                // Owning nothing while records wait: ask the coordinator again.
                consumer.unsubscribe();
                if let Err(e) = consumer.subscribe(&[&topics.requests]) {
                    error!(error = %e, "rejoining the group failed");
                }
            }
            Some(ack) = acks.next(), if !acks.is_empty() => {
                store_acknowledged(&consumer, &mut tracker, ack);
                METRICS.in_flight.set(acks.len() as i64);
            }
            msg = consumer.recv(), if acks.len() < max_in_flight => {
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => {
                        warn!(error = %e, "consume error; continuing");
                        continue;
                    }
                };
                METRICS.consumed.inc();
                observe_age(&msg);
                // A revocation signalled during this poll comes before the record it
                // returned: that record opens the partition's next assignment.
                while let Ok((topic, partition)) = revoked_rx.try_recv() {
                    tracker.revoke(&topic, partition);
                }
                let assignment = tracker.consumed(msg.topic(), msg.partition(), msg.offset());
                let origin = Origin {
                    topic: msg.topic().to_string(),
                    partition: msg.partition(),
                    offset: msg.offset(),
                    assignment,
                };
                let consumed_at = Instant::now();
                let answered = answer(&msg, config, &replies, &mut fast_path);
                let start = answered.job.map(|job| (starter.clone(), job, consumed_at));
                let local = local.clone().zip(answered.result);
                acks.push(deliver(outlet.clone(), start, answered.outgoing, (msg.detach(), origin), shutdown.clone(), local));
                METRICS.in_flight.set(acks.len() as i64);
            }
        }
    }

    // Drain: stop consuming, give in-flight produces until the deadline.
    let deadline = Instant::now() + Duration::from_millis(config.pipeline.shutdown_deadline_ms);
    info!(in_flight = acks.len(), "draining before shutdown");
    while !acks.is_empty() {
        match tokio::time::timeout_at(deadline.into(), acks.next()).await {
            Ok(Some(ack)) => store_acknowledged(&consumer, &mut tracker, ack),
            Ok(None) => break,
            Err(_) => {
                warn!(
                    abandoned = acks.len(),
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
    PARTITIONS.stopped();
    if let Some(thread) = lag_probe {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    info!("pipeline stopped");
    Ok(())
}

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
}

impl OutRole {
    fn as_str(self) -> &'static str {
        match self {
            OutRole::Result => "result",
            OutRole::ReplyCopy => "reply",
            OutRole::DeadLetter => "dead_letter",
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
}

impl Answered {
    fn dead_letter(letter: Outgoing) -> Answered {
        Answered {
            outgoing: vec![letter],
            job: None,
            result: None,
        }
    }
}

/// Decodes and answers one record.
fn answer(
    msg: &BorrowedMessage<'_>,
    config: &VolcanoConfig,
    replies: &ReplyPolicy,
    fast_path: &mut FastPath,
) -> Answered {
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
    // Observed when dropped: decoded request to encoded result.
    let _timer = METRICS.process_seconds.start_timer();
    let reply = request.reply_topic.clone().filter(|t| !t.is_empty());
    let refusal = reply.as_deref().and_then(|t| replies.refusal(t));
    let (mut result, job, reply) = match refusal {
        // Refused before anything runs: no answer computed, no workflow started.
        Some(reason) => {
            warn!(request = %request.id, %reason, "reply topic refused");
            let commit = fast_path.registry().load(&request.tenant).commit.clone();
            let refused = RequestResult::error(&request, &commit, reply::REFUSED_KIND, reason);
            (refused, None, None)
        }
        None => {
            let (result, job) = fast_path.process_routed(&request);
            (result, job, reply)
        }
    };
    result.produced_at = chrono::Utc::now().timestamp_millis();
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
    let key = Some(request.id.into_bytes());
    let mut out = vec![Outgoing {
        topic: topics.results.clone(),
        key,
        payload,
        role: OutRole::Result,
    }];
    if let Some(reply) = reply {
        let copy = Outgoing {
            topic: reply,
            key: out[0].key.clone(),
            payload: out[0].payload.clone(),
            role: OutRole::ReplyCopy,
        };
        out.push(copy);
    }
    Answered {
        outgoing: out,
        job,
        result: Some(result),
    }
}

/// [`dead_letter`] with the configured topic and limit.
fn dead_letter_of(
    msg: &BorrowedMessage<'_>,
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
        key: letter.original_key,
        payload,
        role: OutRole::DeadLetter,
    }
}

/// What every delivery shares: the producer and where its results and dead letters go.
struct Outlet {
    producer: FutureProducer,
    results: String,
    dead_letters: String,
    dead_letter_max_original_bytes: usize,
}

impl Outlet {
    fn new(config: &VolcanoConfig, producer: FutureProducer) -> Self {
        Outlet {
            producer,
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
    let delivered = deliver_record(&outlet, start, outgoing, &record, &shutdown, local).await;
    Acknowledgement { origin, delivered }
}

/// [`deliver`]'s work: true once the record's offset may move, false when shutdown came
/// first.
async fn deliver_record(
    outlet: &Outlet,
    start: Option<(Starter, DurableJob, Instant)>,
    outgoing: Vec<Outgoing>,
    record: &OwnedMessage,
    shutdown: &watch::Receiver<bool>,
    mut local: Option<(crate::ingress::LocalResults, RequestResult)>,
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
        // The first record is the result, when there is one: only its acknowledgement
        // (not a reply copy's) is handed over.
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
        OutRole::DeadLetter => return dead_letter_lost(record, reason),
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

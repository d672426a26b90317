//! The pipeline's state store: each request's answer and each session's context, kept per
//! partition of the requests topic the way Kafka Streams keeps a task's state.
//!
//! - One RocksDB per partition, at `<pipeline.state_dir>/<changelog topic>-<partition>`. RocksDB's lock on the
//!   directory is the owner's: two processes sharing a disk never write one partition's store
//!   at once (the next owner waits for the lock while the last one lets go).
//! - Every answer is also a record of the changelog topic (`kafka.topics.changelog`, same
//!   partition number as its request, keyed by request id, compacted and deleted after
//!   `pipeline.answer_retention_ms`). [`crate::pipeline_role`] produces that record and waits
//!   for the broker's acknowledgement *before* it produces the result, and stores the request's
//!   offset only after both. So every result anyone has read has its changelog record, and a
//!   later owner of the partition (after a crash or a rebalance) restores it and produces the
//!   same bytes again instead of computing a new answer.
//! - A session's context (its previous answer) rides in the changelog record of the request
//!   that changed it, with a sequence number per session, so the answer and the context it
//!   leaves are restored together or not at all.
//! - [`PartitionStore::restore`] replays the changelog from the store's checkpoint (the
//!   changelog offset up to which the local store holds everything) to the partition's end
//!   before the partition is consumed; progress is logged and counted.
//!
//! The store is written by one consumer loop; restores run on blocking threads. No Kafka
//! transactions: a process cut off from the group longer than its session timeout while
//! still running (a zombie, not a `kill -9`) can write an answer the next owner does not see.
//!
//! The stores write without RocksDB's write-ahead log, as Kafka Streams' do: the changelog is
//! the durable log. A `kill -9` loses what was not flushed yet, data and checkpoint together
//! (a flush keeps a prefix of the writes, and the checkpoint only ever follows its data), so
//! the next restore starts from the older checkpoint and reads the rest from the changelog.
//! Measured in `benches/state_store.rs`, the log was 40% of the store's write time.
//!
//! Entries are framed by hand (a version byte, a JSON header, then the result's Avro bytes
//! untouched): the bytes produced once must be the bytes produced again, so the payload is
//! never decoded and re-encoded.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use volcano_pipeline::durable::DurableJob;

use crate::config::VolcanoConfig;
use crate::kafka;
use crate::metrics::METRICS;

/// Version of the entry framing.
const ENTRY_VERSION: u8 = 1;
const ANSWER: u8 = b'r';
const SESSION: u8 = b's';
const CHECKPOINT: &[u8] = b"c";

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {path}: {source}")]
    Db {
        path: PathBuf,
        source: rocksdb::Error,
    },
    #[error("changelog {topic}[{partition}]: {source}")]
    Changelog {
        topic: String,
        partition: i32,
        source: rdkafka::error::KafkaError,
    },
    #[error("undecodable state entry: {0}")]
    Undecodable(String),
    #[error("partition {partition} was revoked: its store takes no more answers here")]
    Fenced { partition: i32 },
}

/// A request's stored answer: what was produced for it, and what it left in its session.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub meta: EntryMeta,
    /// The result exactly as produced (Avro).
    pub payload: Vec<u8>,
}

/// What an entry says besides the result's bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// When the answer was stored (ms since the epoch); it expires after the retention.
    pub stored_at: i64,
    /// The request's `reply_topic`, when its result was copied there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_topic: Option<String>,
    /// The workflow of a durable request (its start is idempotent, so a replay starts it
    /// again in case the last owner died before it did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<DurableJob>,
    /// The session's context from this request on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionUpdate>,
}

/// A session's previous answer after one request, numbered per session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionUpdate {
    pub key: String,
    pub value: Decimal,
    pub seq: u64,
}

impl Entry {
    pub fn encode(&self) -> Vec<u8> {
        let meta = serde_json::to_vec(&self.meta).expect("entry metadata serializes");
        let mut out = Vec::with_capacity(5 + meta.len() + self.payload.len());
        out.push(ENTRY_VERSION);
        out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&self.payload);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry, StateError> {
        let bad = |what: &str| StateError::Undecodable(what.to_string());
        let (&version, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        if version != ENTRY_VERSION {
            return Err(bad(&format!("version {version}")));
        }
        let len: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("short header"))?;
        let len = u32::from_be_bytes(len) as usize;
        let meta = rest.get(4..4 + len).ok_or_else(|| bad("short metadata"))?;
        let meta: EntryMeta =
            serde_json::from_slice(meta).map_err(|e| bad(&format!("metadata: {e}")))?;
        Ok(Entry {
            meta,
            payload: rest[4 + len..].to_vec(),
        })
    }
}

/// One partition's store, open (and locked) by its owner.
pub struct PartitionStore {
    db: rocksdb::DB,
    path: PathBuf,
    partition: i32,
    retention_ms: i64,
    /// Set when the partition is revoked: answers still computing for it are not stored
    /// (nor produced), so its next owner, which restores from the changelog, computes them.
    fenced: AtomicBool,
}

/// What a restore did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Changelog records applied.
    pub records: u64,
    /// Records skipped as undecodable.
    pub skipped: u64,
    /// Where the changelog partition ended when the restore finished.
    pub end: i64,
}

impl PartitionStore {
    /// Opens the store of `partition` (of the changelog `topic`) under `dir`, waiting up to
    /// `lock_wait` for the last owner to let go of it.
    pub fn open(
        dir: &Path,
        (topic, partition): (&str, i32),
        retention: Duration,
        lock_wait: Duration,
    ) -> Result<PartitionStore, StateError> {
        let path = dir.join(format!("{topic}-{partition}"));
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        // Small values, point reads: keep the memory of many partitions' stores low.
        opts.set_write_buffer_size(8 << 20);
        let deadline = Instant::now() + lock_wait;
        let mut wait = Duration::from_millis(50);
        let db = loop {
            match rocksdb::DB::open(&opts, &path) {
                Ok(db) => break db,
                // Another process on this disk still owns the partition: it is handing it
                // over, or dying.
                Err(e) if e.to_string().contains("lock") && Instant::now() < deadline => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
                Err(source) => return Err(StateError::Db { path, source }),
            }
        };
        Ok(PartitionStore {
            db,
            path,
            partition,
            retention_ms: retention.as_millis() as i64,
            fenced: AtomicBool::new(false),
        })
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The partition was revoked: refuse further answers (see [`StateError::Fenced`]).
    pub fn fence(&self) {
        self.fenced.store(true, Ordering::SeqCst);
    }

    fn db_error(&self, source: rocksdb::Error) -> StateError {
        StateError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// The stored answer of `request_id`, unless it has expired.
    pub fn answer(&self, request_id: &str, now_ms: i64) -> Result<Option<Entry>, StateError> {
        let Some(bytes) = self
            .db
            .get_pinned(key(ANSWER, request_id))
            .map_err(|e| self.db_error(e))?
        else {
            return Ok(None);
        };
        let entry = Entry::decode(&bytes)?;
        Ok((!self.expired(&entry, now_ms)).then_some(entry))
    }

    fn expired(&self, entry: &Entry, now_ms: i64) -> bool {
        self.retention_ms > 0 && now_ms - entry.meta.stored_at > self.retention_ms
    }

    /// A session's previous answer and its sequence number.
    pub fn session(&self, session_key: &str) -> Result<Option<(Decimal, u64)>, StateError> {
        let Some(bytes) = self
            .db
            .get_pinned(key(SESSION, session_key))
            .map_err(|e| self.db_error(e))?
        else {
            return Ok(None);
        };
        let update: SessionUpdate = serde_json::from_slice(&bytes)
            .map_err(|e| StateError::Undecodable(format!("session: {e}")))?;
        Ok(Some((update.value, update.seq)))
    }

    /// Stores `entry` as the answer of `request_id`, and its session update unless the store
    /// already holds a later one; returns the entry's bytes (the changelog record's value).
    pub fn record(&self, request_id: &str, entry: &Entry) -> Result<Vec<u8>, StateError> {
        if self.fenced.load(Ordering::SeqCst) {
            return Err(StateError::Fenced {
                partition: self.partition,
            });
        }
        let bytes = entry.encode();
        self.apply(request_id.as_bytes(), &bytes, entry)?;
        Ok(bytes)
    }

    fn apply(&self, request_id: &[u8], bytes: &[u8], entry: &Entry) -> Result<(), StateError> {
        let mut batch = rocksdb::WriteBatch::default();
        let mut answer_key = vec![ANSWER];
        answer_key.extend_from_slice(request_id);
        batch.put(answer_key, bytes);
        if let Some(update) = &entry.meta.session {
            let newer = match self.session(&update.key)? {
                // Equal: the changelog's record of a request this store also answered, maybe
                // differently, before its last owner died: the changelog's wins.
                Some((_, seq)) => update.seq >= seq,
                None => true,
            };
            if newer {
                let value = serde_json::to_vec(update).expect("session serializes");
                batch.put(key(SESSION, &update.key), value);
            }
        }
        self.db
            .write_opt(batch, &unlogged())
            .map_err(|e| self.db_error(e))
    }

    /// The changelog offset up to which this store holds every record.
    pub fn checkpoint(&self) -> Result<i64, StateError> {
        let bytes = self
            .db
            .get_pinned(CHECKPOINT)
            .map_err(|e| self.db_error(e))?;
        Ok(bytes
            .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
            .map(i64::from_be_bytes)
            .unwrap_or(0))
    }

    /// Moves the checkpoint forward to `next` (never back).
    pub fn advance_checkpoint(&self, next: i64) -> Result<(), StateError> {
        if next > self.checkpoint()? {
            self.db
                .put_opt(CHECKPOINT, next.to_be_bytes(), &unlogged())
                .map_err(|e| self.db_error(e))?;
        }
        Ok(())
    }

    /// Deletes everything: the changelog no longer holds what the store was built from.
    fn wipe(&self) -> Result<(), StateError> {
        let mut batch = rocksdb::WriteBatch::default();
        for item in self.db.iterator(rocksdb::IteratorMode::Start) {
            let (k, _) = item.map_err(|e| self.db_error(e))?;
            batch.delete(k);
        }
        self.db
            .write_opt(batch, &unlogged())
            .map_err(|e| self.db_error(e))
    }

    /// Deletes expired answers; returns how many.
    fn sweep(&self, now_ms: i64) -> Result<u64, StateError> {
        if self.retention_ms <= 0 {
            return Ok(0);
        }
        let mut batch = rocksdb::WriteBatch::default();
        let mut swept = 0;
        let prefix = [ANSWER];
        for item in self.db.prefix_iterator(prefix) {
            let (k, v) = item.map_err(|e| self.db_error(e))?;
            if k.first() != Some(&ANSWER) {
                break;
            }
            let expired = Entry::decode(&v).map_or(true, |e| self.expired(&e, now_ms));
            if expired {
                batch.delete(k);
                swept += 1;
            }
        }
        self.db
            .write_opt(batch, &unlogged())
            .map_err(|e| self.db_error(e))?;
        Ok(swept)
    }

    /// Brings the store up to the end of its changelog partition: reads from the
    /// checkpoint (or from the start, when the changelog no longer reaches back to it or
    /// was recreated behind it) and applies every record in order.
    pub fn restore(&self, config: &VolcanoConfig) -> Result<Restored, StateError> {
        let topic = &config.kafka.topics.changelog;
        let partition = self.partition;
        let changelog_error = |source| StateError::Changelog {
            topic: topic.clone(),
            partition,
            source,
        };
        let mut cc = kafka::client_config(config);
        cc.set("group.id", format!("{}-restore", config.pipeline.group_id));
        cc.set("enable.auto.commit", "false");
        cc.set("enable.partition.eof", "false");
        let consumer: BaseConsumer = cc.create().map_err(changelog_error)?;
        let timeout = Duration::from_secs(10);
        let (low, end) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(changelog_error)?;
        let mut from = self.checkpoint()?;
        if from > end {
            warn!(
                partition,
                checkpoint = from,
                end,
                "the changelog ends before this store's checkpoint (recreated?); restoring from scratch"
            );
            self.wipe()?;
            from = 0;
        }
        let from = from.max(low);
        let mut restored = Restored {
            records: 0,
            skipped: 0,
            end,
        };
        if from < end {
            METRICS.state_restore_remaining.add(end - from);
            info!(
                partition,
                from, end, "restoring the state store from its changelog"
            );
            let mut next = from;
            let replayed = self.replay(&consumer, topic, end, &mut next, &mut restored);
            // What was not read (a failure) is no longer waiting either.
            METRICS.state_restore_remaining.sub(end - next);
            replayed.map_err(|e| match e {
                Replay::Kafka(source) => changelog_error(source),
                Replay::State(e) => e,
            })?;
        }
        self.advance_checkpoint(end)?;
        let swept = self.sweep(chrono::Utc::now().timestamp_millis())?;
        info!(
            partition,
            records = restored.records,
            skipped = restored.skipped,
            expired = swept,
            "state store ready"
        );
        Ok(restored)
    }

    /// Applies the changelog from `*next` to `end`, moving `*next` along.
    fn replay(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        end: i64,
        next: &mut i64,
        restored: &mut Restored,
    ) -> Result<(), Replay> {
        let from = *next;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, self.partition, Offset::Offset(from))?;
        consumer.assign(&tpl)?;
        let started = Instant::now();
        let mut logged = Instant::now();
        while *next < end {
            let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
                continue;
            };
            let msg = msg?;
            // A compacted changelog has gaps: count progress by offset.
            let after = msg.offset() + 1;
            METRICS.state_restore_remaining.sub(after - *next);
            *next = after;
            let applied = match (msg.key(), msg.payload()) {
                (Some(id), Some(value)) => {
                    Entry::decode(value).and_then(|entry| self.apply(id, value, &entry))
                }
                // A tombstone: compaction's delete marker for an answer.
                (Some(id), None) => {
                    let mut k = vec![ANSWER];
                    k.extend_from_slice(id);
                    self.db
                        .delete_opt(k, &unlogged())
                        .map_err(|e| self.db_error(e))
                }
                (None, _) => Err(StateError::Undecodable("a record without a key".into())),
            };
            match applied {
                Ok(()) => {
                    restored.records += 1;
                    METRICS.state_restored.inc();
                }
                Err(StateError::Undecodable(why)) => {
                    restored.skipped += 1;
                    METRICS.state_changelog_skipped.inc();
                    warn!(partition = self.partition, offset = msg.offset(), %why, "undecodable changelog record skipped");
                }
                Err(e) => return Err(Replay::State(e)),
            }
            if logged.elapsed() >= Duration::from_secs(1) {
                logged = Instant::now();
                let rate = (*next - from) as f64 / started.elapsed().as_secs_f64().max(1e-3);
                info!(
                    partition = self.partition,
                    done = *next - from,
                    of = end - from,
                    records_per_s = rate as u64,
                    "restoring"
                );
                self.advance_checkpoint(*next).map_err(Replay::State)?;
            }
        }
        Ok(())
    }
}

/// How a replay failed: reading the changelog, or writing the store.
enum Replay {
    Kafka(rdkafka::error::KafkaError),
    State(StateError),
}

impl From<rdkafka::error::KafkaError> for Replay {
    fn from(e: rdkafka::error::KafkaError) -> Self {
        Replay::Kafka(e)
    }
}

impl Drop for PartitionStore {
    /// Flushes what the missing log would not bring back, so a clean handover or shutdown
    /// leaves nothing for the next owner on this disk to read again.
    fn drop(&mut self) {
        if let Err(e) = self.db.flush() {
            warn!(partition = self.partition, error = %e, "state store not flushed on close");
        }
    }
}

/// Writes without the write-ahead log (see the module's head).
fn unlogged() -> rocksdb::WriteOptions {
    let mut o = rocksdb::WriteOptions::default();
    o.disable_wal(true);
    o
}

fn key(kind: u8, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(kind);
    k.extend_from_slice(id.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stored_at: i64, session: Option<(&str, i64, u64)>) -> Entry {
        Entry {
            meta: EntryMeta {
                stored_at,
                reply_topic: Some("replies".into()),
                job: None,
                session: session.map(|(key, value, seq)| SessionUpdate {
                    key: key.into(),
                    value: Decimal::from(value),
                    seq,
                }),
            },
            payload: vec![0, 1, 2, 255],
        }
    }

    fn open(dir: &Path) -> PartitionStore {
        let week = Duration::from_secs(7 * 24 * 3600);
        PartitionStore::open(dir, ("changelog", 0), week, Duration::ZERO).unwrap()
    }

    #[test]
    fn an_entry_comes_back_as_it_went_and_garbage_is_refused() {
        let e = entry(5, Some(("t\u{1f}s", 100, 3)));
        assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
        for junk in [
            &b""[..],
            b"\x01",
            b"\x02\0\0\0\0",
            b"\x01\0\0\0\x09{}",
            b"not json",
        ] {
            assert!(Entry::decode(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn answers_sessions_and_the_checkpoint_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        {
            let store = open(dir.path());
            store
                .record("r1", &entry(now, Some(("s", 100, 1))))
                .unwrap();
            store
                .record("r2", &entry(now, Some(("s", 200, 2))))
                .unwrap();
            // A late record of an older turn of the session does not move it back.
            store.record("r0", &entry(now, Some(("s", 7, 1)))).unwrap();
            store.advance_checkpoint(12).unwrap();
            store.advance_checkpoint(3).unwrap();
        }
        let store = open(dir.path());
        assert_eq!(
            store.answer("r1", now).unwrap(),
            Some(entry(now, Some(("s", 100, 1))))
        );
        assert_eq!(store.session("s").unwrap(), Some((Decimal::from(200), 2)));
        assert_eq!(store.checkpoint().unwrap(), 12);
        assert_eq!(store.answer("nope", now).unwrap(), None);
    }

    #[test]
    fn an_answer_past_its_retention_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = PartitionStore::open(
            dir.path(),
            ("changelog", 1),
            Duration::from_secs(60),
            Duration::ZERO,
        )
        .unwrap();
        store.record("old", &entry(0, None)).unwrap();
        store.record("new", &entry(100_000, None)).unwrap();
        assert_eq!(store.answer("old", 100_000).unwrap(), None);
        assert!(store.answer("new", 100_000).unwrap().is_some());
        assert_eq!(store.sweep(100_000).unwrap(), 1);
    }

    #[test]
    fn a_fenced_store_takes_no_more_answers() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.record("before", &entry(1, None)).unwrap();
        store.fence();
        let refused = store.record("after", &entry(1, None));
        assert!(matches!(refused, Err(StateError::Fenced { partition: 0 })));
        assert!(store.answer("after", 1).unwrap().is_none());
        assert!(store.answer("before", 1).unwrap().is_some());
    }

    #[test]
    fn a_second_owner_waits_for_the_lock_then_gives_up_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let _owner = open(dir.path());
        let started = Instant::now();
        let second = PartitionStore::open(
            dir.path(),
            ("changelog", 0),
            Duration::from_secs(60),
            Duration::from_millis(300),
        );
        assert!(second.is_err());
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}

//! The ingress's view of `volcano.results`: one consumer per ingress instance that stores
//! every result in RocksDB (for `GET /api/v1/requests/{id}`) and hands it to the API call
//! waiting for it, correlated by request id.
//!
//! The consumer is assigned every partition (no consumer group: every ingress instance sees
//! every result). Results and the next offset of each partition are written in one
//! `WriteBatch`, so after a crash or restart the feed resumes exactly where its store
//! ends: a result that arrives while the ingress is down is stored when it comes back, and a
//! client that got a 202 can still read its answer. Stored results expire after the
//! configured TTL (checked on read, dropped by a compaction filter).
//!
//! The feed also knows which durable workflows are running: an `accepted` result opens one,
//! the request's final result closes it. The API checks the tenant's concurrent-workflow
//! quota against that count.
//!
//! A pipeline in the same process hands its results over: a final result as soon as it is
//! computed ([`ResultFeed::answer_local`]), which answers the waiting call without waiting for
//! the broker; and every result once the broker acknowledged it
//! ([`ResultFeed::deliver_local`]), which stores it, so that the feed skips it by offset and
//! polls the broker less often ([`FEED_FETCH_WAIT_RELAXED`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use rdkafka::Offset;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rocksdb::compaction_filter::Decision;
use rocksdb::{ColumnFamilyDescriptor, DB, DBCompressionType, IteratorMode, Options, WriteBatch};
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};
use volcano_pipeline::model::{RequestResult, Status};

use crate::avro;
use crate::config::VolcanoConfig;
use crate::kafka;
use crate::metrics::METRICS;

const CF_RESULTS: &str = "results";
const CF_OFFSETS: &str = "offsets";
/// Requests whose result is still `accepted` (their workflows run), by id, with the tenant:
/// kept beside the results so a restart reads the running workflows, not every result.
const CF_RUNNING: &str = "running";
/// Results at most this many per write batch.
pub(super) const BATCH: usize = 512;

/// The results feed's fetch wait. On the embedded broker (tansu), which holds every fetch
/// that long, it is most of the second hop of a REST call; and each fetch costs the broker
/// about 2 ms of CPU, so 5 ms costs it 40% of a core.
pub const FEED_FETCH_WAIT: Duration = Duration::from_millis(5);

/// The fetch wait when the pipeline of this process hands its results over: the feed then
/// only stores the results of other pipelines and of durable workflows, for `GET`.
pub const FEED_FETCH_WAIT_RELAXED: Duration = Duration::from_millis(50);

/// What went wrong with the result store.
#[derive(Debug, thiserror::Error)]
pub enum ResultStoreError {
    #[error("result store at {path}: {source}")]
    Open {
        path: String,
        source: rocksdb::Error,
    },
    #[error("result store: {0}")]
    Db(#[from] rocksdb::Error),
}

/// Results by request id, with the results topic's offsets, in RocksDB.
pub struct ResultStore {
    db: DB,
    ttl_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A stored value: when it was stored (8 bytes, big-endian ms) and the result's Avro bytes
/// exactly as the topic carried them.
fn split(value: &[u8]) -> Option<(u64, &[u8])> {
    let (at, payload) = value.split_at_checked(8)?;
    Some((u64::from_be_bytes(at.try_into().ok()?), payload))
}

impl ResultStore {
    pub fn open(dir: &Path, ttl: Duration) -> Result<ResultStore, ResultStoreError> {
        let ttl_ms = ttl.as_millis() as u64;
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_background_jobs(2);
        options.set_keep_log_file_num(4);
        let mut results = Options::default();
        results.set_compression_type(DBCompressionType::None);
        results.set_compaction_filter(
            "volcano-result-ttl",
            move |_level: u32, _key: &[u8], value: &[u8]| match split(value) {
                Some((at, _)) if at + ttl_ms >= now_ms() => Decision::Keep,
                _ => Decision::Remove,
            },
        );
        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_RESULTS, results),
            ColumnFamilyDescriptor::new(CF_OFFSETS, Options::default()),
            ColumnFamilyDescriptor::new(CF_RUNNING, Options::default()),
        ];
        let db = DB::open_cf_descriptors(&options, dir, cfs).map_err(|source| {
            ResultStoreError::Open {
                path: dir.display().to_string(),
                source,
            }
        })?;
        Ok(ResultStore { db, ttl_ms })
    }

    /// The stored result of `id`, unless it expired.
    pub fn get(&self, id: &str) -> Result<Option<RequestResult>, ResultStoreError> {
        let cf = self.db.cf_handle(CF_RESULTS).expect("column family");
        let Some(value) = self.db.get_pinned_cf(&cf, id.as_bytes())? else {
            return Ok(None);
        };
        Ok(self.live(&value).and_then(|p| avro::decode_result(p).ok()))
    }

    fn live<'a>(&self, value: &'a [u8]) -> Option<&'a [u8]> {
        let (at, payload) = split(value)?;
        (at + self.ttl_ms >= now_ms()).then_some(payload)
    }

    /// The next offset to read of each partition stored so far.
    pub fn offsets(&self) -> Result<HashMap<i32, i64>, ResultStoreError> {
        let cf = self.db.cf_handle(CF_OFFSETS).expect("column family");
        let mut out = HashMap::new();
        for item in self.db.iterator_cf(&cf, IteratorMode::Start) {
            let (key, value) = item?;
            if let (Ok(p), Ok(o)) = (
                <[u8; 4]>::try_from(&key[..]),
                <[u8; 8]>::try_from(&value[..]),
            ) {
                out.insert(i32::from_be_bytes(p), i64::from_be_bytes(o));
            }
        }
        Ok(out)
    }

    /// Requests whose stored result is still `accepted` (and not expired): their workflows
    /// are running. Returns (tenant, request id) pairs.
    pub fn running(&self) -> Result<Vec<(String, String)>, ResultStoreError> {
        let cf = self.db.cf_handle(CF_RUNNING).expect("column family");
        let mut out = Vec::new();
        for item in self.db.iterator_cf(&cf, IteratorMode::Start) {
            let (key, value) = item?;
            if let Some(tenant) = self.live(&value) {
                out.push((
                    String::from_utf8_lossy(tenant).into_owned(),
                    String::from_utf8_lossy(&key).into_owned(),
                ));
            }
        }
        Ok(out)
    }

    /// Stores results and the partitions' next offsets atomically. An `accepted` result never
    /// replaces a final one (a redelivered durable request is accepted again after its run).
    fn write(
        &self,
        results: &[Row<'_>],
        offsets: &HashMap<i32, i64>,
    ) -> Result<(), ResultStoreError> {
        let results_cf = self.db.cf_handle(CF_RESULTS).expect("column family");
        let offsets_cf = self.db.cf_handle(CF_OFFSETS).expect("column family");
        let running_cf = self.db.cf_handle(CF_RUNNING).expect("column family");
        let at = now_ms().to_be_bytes();
        let stamped = |bytes: &[u8]| [&at[..], bytes].concat();
        let mut batch = WriteBatch::default();
        for row in results {
            let id = row.id.as_bytes();
            if row.status == Status::Accepted {
                if self.is_final(row.id)? {
                    continue;
                }
                batch.put_cf(&running_cf, id, stamped(row.tenant.as_bytes()));
            } else {
                batch.delete_cf(&running_cf, id);
            }
            batch.put_cf(&results_cf, id, stamped(row.payload));
        }
        for (partition, next) in offsets {
            batch.put_cf(&offsets_cf, partition.to_be_bytes(), next.to_be_bytes());
        }
        self.db.write(batch)?;
        Ok(())
    }

    fn is_final(&self, id: &str) -> Result<bool, ResultStoreError> {
        let cf = self.db.cf_handle(CF_RESULTS).expect("column family");
        Ok(match self.db.get_pinned_cf(&cf, id.as_bytes())? {
            Some(v) => split(&v)
                .and_then(|(_, p)| avro::decode_result(p).ok())
                .is_some_and(|r| r.status != Status::Accepted),
            None => false,
        })
    }
}

/// A result the broker acknowledged at `offset` of `partition` of the results topic, handed
/// over by the pipeline of this process with its encoded bytes.
#[derive(Debug)]
pub struct AcknowledgedResult {
    pub partition: i32,
    pub offset: i64,
    pub result: RequestResult,
    pub payload: Vec<u8>,
}

/// One result to store: its request id, tenant and status, and its bytes from the topic.
struct Row<'a> {
    id: &'a str,
    tenant: &'a str,
    status: Status,
    payload: &'a [u8],
}

/// Results as they arrive: the store, the API calls waiting, the running workflows.
pub struct ResultFeed {
    store: ResultStore,
    waiting: Mutex<HashMap<String, oneshot::Sender<RequestResult>>>,
    running: Mutex<HashMap<String, HashSet<String>>>,
    caught_up: AtomicBool,
    handed_over: Mutex<HandedOver>,
}

/// Results the pipeline of this process handed over once the broker acknowledged them, by
/// partition and offset, that the feed has not read yet (it skips them when it does); and
/// how far the feed has read each partition. Entries behind the feed are pruned as it reads,
/// so this holds at most the feed's lag.
#[derive(Default)]
struct HandedOver {
    pending: HashMap<i32, BTreeSet<i64>>,
    read_to: HashMap<i32, i64>,
}

impl HandedOver {
    /// Remembers a handed-over offset, unless the feed has read past it.
    fn remember(&mut self, partition: i32, offset: i64) {
        if self
            .read_to
            .get(&partition)
            .is_none_or(|next| offset >= *next)
        {
            self.pending.entry(partition).or_default().insert(offset);
        }
    }

    /// Forgets a handed-over offset (its store failed).
    fn forget(&mut self, partition: i32, offset: i64) {
        if let Some(pending) = self.pending.get_mut(&partition) {
            pending.remove(&offset);
        }
    }

    /// True (once) when the feed reads an offset that was handed over.
    fn take(&mut self, partition: i32, offset: i64) -> bool {
        self.pending
            .get_mut(&partition)
            .is_some_and(|pending| pending.remove(&offset))
    }

    /// The feed has read up to `next` (exclusive) on these partitions.
    fn read(&mut self, offsets: &HashMap<i32, i64>) {
        for (partition, next) in offsets {
            self.read_to.insert(*partition, *next);
            if let Some(pending) = self.pending.get_mut(partition) {
                *pending = pending.split_off(next);
            }
        }
    }
}

/// An API call's wait for one result; dropping it (the call ended) forgets the wait.
pub struct Waiter<'a> {
    feed: &'a ResultFeed,
    id: String,
    rx: oneshot::Receiver<RequestResult>,
}

impl Waiter<'_> {
    /// The result, if it comes within `timeout`.
    pub async fn wait(&mut self, timeout: Duration) -> Option<RequestResult> {
        tokio::time::timeout(timeout, &mut self.rx).await.ok()?.ok()
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.feed.lock_waiting().remove(&self.id);
        METRICS.ingress_waiting.dec();
    }
}

impl ResultFeed {
    /// Opens the store and recovers the running workflows it records.
    pub fn open(config: &VolcanoConfig) -> Result<ResultFeed, ResultStoreError> {
        let dir = config.ingress_data_dir();
        let ttl = Duration::from_secs(config.ingress.result_ttl_secs.max(1));
        let store = ResultStore::open(&dir, ttl)?;
        let mut running: HashMap<String, HashSet<String>> = HashMap::new();
        for (tenant, id) in store.running()? {
            running.entry(tenant).or_default().insert(id);
        }
        Ok(ResultFeed {
            store,
            waiting: Mutex::new(HashMap::new()),
            running: Mutex::new(running),
            caught_up: AtomicBool::new(false),
            handed_over: Mutex::new(HandedOver::default()),
        })
    }

    pub fn store(&self) -> &ResultStore {
        &self.store
    }

    /// True once the consumer is assigned and has read up to where it started.
    pub fn is_live(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// Registers a wait for `id`. Register before producing the request, so its result
    /// cannot arrive unseen.
    pub fn expect(&self, id: &str) -> Waiter<'_> {
        let (tx, rx) = oneshot::channel();
        self.lock_waiting().insert(id.to_string(), tx);
        METRICS.ingress_waiting.inc();
        Waiter {
            feed: self,
            id: id.to_string(),
            rx,
        }
    }

    /// Durable workflows of `tenant` accepted and not yet finished.
    pub fn running_workflows(&self, tenant: &str) -> usize {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .map_or(0, HashSet::len)
    }

    fn lock_waiting(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<RequestResult>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Consumes the results topic until `shutdown`, from the stored offsets (or the end of
    /// each partition the store has never read).
    /// `fetch_wait` is the consumer's `fetch.wait.max.ms`: `FEED_FETCH_WAIT`, or
    /// `FEED_FETCH_WAIT_RELAXED` when a pipeline in this process hands its results over.
    pub async fn run(
        self: Arc<Self>,
        config: VolcanoConfig,
        mut shutdown: watch::Receiver<bool>,
        fetch_wait: Duration,
    ) -> anyhow::Result<()> {
        let topic = config.kafka.topics.results.clone();
        let mut cc = kafka::client_config(&config);
        kafka::set_default(
            &mut cc,
            "fetch.wait.max.ms",
            &fetch_wait.as_millis().max(1).to_string(),
        );
        cc.set("group.id", "volcano-ingress");
        cc.set("enable.auto.commit", "false");
        cc.set("enable.partition.eof", "false");
        let consumer: StreamConsumer = cc.create()?;
        let stored = self.store.offsets()?;
        let timeout = Duration::from_secs(10);
        let mut ends = HashMap::new();
        kafka::assign_all(&consumer, &topic, timeout, |p| {
            let (_, high) = consumer.fetch_watermarks(&topic, p, timeout)?;
            ends.insert(p, high);
            Ok(match stored.get(&p) {
                Some(next) => Offset::Offset(*next),
                None => Offset::Offset(high),
            })
        })?;
        // A partition read for the first time starts at its end; that start is stored now, so
        // a result arriving there while this ingress is down is not skipped after a restart.
        let fresh: HashMap<i32, i64> = ends
            .iter()
            .filter(|(p, _)| !stored.contains_key(p))
            .map(|(p, high)| (*p, *high))
            .collect();
        if !fresh.is_empty() {
            self.store.write(&[], &fresh)?;
        }
        let mut behind: HashMap<i32, i64> = ends
            .into_iter()
            .filter(|(p, high)| stored.get(p).is_some_and(|next| next < high))
            .collect();
        info!(topic, behind = behind.len(), "result feed assigned");
        if behind.is_empty() {
            self.caught_up.store(true, Ordering::Release);
        }
        loop {
            // Messages borrow the consumer and are not `Send`: they live only inside
            // `absorb`, never across an await.
            let stored = tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                m = consumer.recv() => self.absorb(&consumer, m, &mut behind),
            };
            if let Err(e) = stored {
                // Nothing was acknowledged: the batch is read again after a restart, and the
                // calls waiting for it time out to 202 instead of losing the answer.
                warn!(error = %e, "storing results; the ingress will re-read them after a restart");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Stores `first` and whatever else is already fetched, then wakes the waiting calls.
    fn absorb(
        &self,
        consumer: &StreamConsumer,
        first: rdkafka::error::KafkaResult<rdkafka::message::BorrowedMessage<'_>>,
        behind: &mut HashMap<i32, i64>,
    ) -> Result<(), ResultStoreError> {
        let mut messages = vec![first];
        while messages.len() < BATCH {
            match consumer.recv().now_or_never() {
                Some(m) => messages.push(m),
                None => break,
            }
        }
        let mut decoded = Vec::with_capacity(messages.len());
        let mut offsets = HashMap::new();
        let mut handed_over = self.lock_handed_over();
        for m in &messages {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    warn!(error = %e, "reading the results topic");
                    continue;
                }
            };
            offsets.insert(m.partition(), m.offset() + 1);
            if handed_over.take(m.partition(), m.offset()) {
                continue;
            }
            let payload = m.payload().unwrap_or_default();
            match avro::decode_result(payload) {
                Ok(result) => decoded.push((result, payload)),
                Err(e) => {
                    warn!(offset = m.offset(), error = %e, "skipping an undecodable result")
                }
            }
        }
        handed_over.read(&offsets);
        drop(handed_over);
        let rows: Vec<_> = decoded
            .iter()
            .map(|(r, payload)| Row {
                id: &r.request_id,
                tenant: &r.tenant,
                status: r.status,
                payload,
            })
            .collect();
        self.store.write(&rows, &offsets)?;
        METRICS.ingress_results_stored.inc_by(rows.len() as u64);
        for (result, _) in decoded {
            self.track(&result);
            if let Some(tx) = self.lock_waiting().remove(&result.request_id) {
                let _ = tx.send(result);
            }
        }
        if !behind.is_empty() {
            behind.retain(|p, high| offsets.get(p).is_none_or(|next| next < high));
            if behind.is_empty() {
                self.caught_up.store(true, Ordering::Release);
                info!("result feed caught up");
            }
        }
        Ok(())
    }

    /// A final result the pipeline of this process has, before the broker has it (see
    /// [`super::LocalResult::Answer`]): wakes its API call, if one waits. It is stored when
    /// it comes back acknowledged ([`Self::deliver_local`]).
    pub fn answer_local(&self, result: RequestResult) {
        let waiting = self.lock_waiting().remove(&result.request_id);
        if let Some(tx) = waiting
            && tx.send(result).is_ok()
        {
            METRICS.ingress_answered_early.inc();
        }
    }

    /// Results the pipeline of this process handed over once the broker acknowledged them
    /// (see [`super::LocalResult::Acknowledged`]): they are stored in one write and wake
    /// their API calls if any still wait; the feed skips their offsets when it reads them.
    pub fn deliver_local(&self, results: Vec<AcknowledgedResult>) {
        if results.is_empty() {
            return;
        }
        let mut handed_over = self.lock_handed_over();
        for r in &results {
            handed_over.remember(r.partition, r.offset);
        }
        drop(handed_over);
        let rows: Vec<_> = results
            .iter()
            .map(|r| Row {
                id: &r.result.request_id,
                tenant: &r.result.tenant,
                status: r.result.status,
                payload: &r.payload,
            })
            .collect();
        if let Err(e) = self.store.write(&rows, &HashMap::new()) {
            // Not skipped by the feed then: it stores them when it reads them.
            let mut handed_over = self.lock_handed_over();
            for r in &results {
                handed_over.forget(r.partition, r.offset);
            }
            warn!(error = %e, "storing handed-over results failed; the feed will store them");
        }
        METRICS
            .ingress_results_handed_over
            .inc_by(results.len() as u64);
        for AcknowledgedResult { result, .. } in results {
            // An `accepted` whose run the feed already saw end must not count as running
            // again.
            let ended = result.status == Status::Accepted
                && self.store.is_final(&result.request_id).unwrap_or(false);
            if !ended {
                self.track(&result);
            }
            if let Some(tx) = self.lock_waiting().remove(&result.request_id) {
                let _ = tx.send(result);
            }
        }
    }

    fn lock_handed_over(&self) -> std::sync::MutexGuard<'_, HandedOver> {
        self.handed_over.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn track(&self, result: &RequestResult) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let set = running.entry(result.tenant.clone()).or_default();
        match result.status {
            Status::Accepted => set.insert(result.request_id.clone()),
            _ => set.remove(&result.request_id),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use volcano_pipeline::model::Request;

    fn result(id: &str, status: Status) -> (RequestResult, Vec<u8>) {
        let request = Request {
            id: id.into(),
            tenant: "acme-corp".into(),
            session_id: None,
            text: "x".into(),
            submitted_at: 0,
            reply_topic: None,
            headers: Default::default(),
        };
        let r = RequestResult::new(&request, status, "c1");
        let bytes = avro::encode_result(&r).unwrap();
        (r, bytes)
    }

    fn acknowledged(
        partition: i32,
        offset: i64,
        result: RequestResult,
        payload: Vec<u8>,
    ) -> AcknowledgedResult {
        AcknowledgedResult {
            partition,
            offset,
            result,
            payload,
        }
    }

    fn row<'a>(id: &'a str, status: Status, payload: &'a [u8]) -> Row<'a> {
        Row {
            id,
            tenant: "acme-corp",
            status,
            payload,
        }
    }

    #[tokio::test]
    async fn handed_over_results_answer_their_calls_at_once_and_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = VolcanoConfig::default();
        config.ingress.data_dir = Some(dir.path().to_path_buf());
        let feed = ResultFeed::open(&config).unwrap();

        // A final result answers its call before the broker has it; it is stored once the
        // broker acknowledged it.
        let mut waiter = feed.expect("r1");
        let (sent, payload) = result("r1", Status::Ok);
        feed.answer_local(sent.clone());
        let got = waiter.wait(Duration::ZERO).await.expect("answered at once");
        assert_eq!(got, sent);
        assert!(feed.store().get("r1").unwrap().is_none());
        feed.deliver_local(vec![acknowledged(0, 7, sent, payload)]);
        assert_eq!(feed.store().get("r1").unwrap().unwrap().status, Status::Ok);
        assert!(feed.lock_handed_over().pending[&0].contains(&7));

        // An acknowledged result wakes a call that still waits (an `accepted` one does).
        // A run counts as running until its final result; an `accepted` handed over after
        // the final one (the feed was quicker) does not count it again.
        let mut waiter = feed.expect("w1");
        let (acc_result, acc) = result("w1", Status::Accepted);
        feed.deliver_local(vec![acknowledged(1, 0, acc_result.clone(), acc.clone())]);
        assert_eq!(
            waiter.wait(Duration::ZERO).await.unwrap().status,
            Status::Accepted
        );
        assert_eq!(feed.running_workflows("acme-corp"), 1);
        let (fin_result, fin) = result("w1", Status::Ok);
        feed.deliver_local(vec![acknowledged(1, 1, fin_result, fin)]);
        assert_eq!(feed.running_workflows("acme-corp"), 0);
        feed.deliver_local(vec![acknowledged(1, 0, acc_result, acc)]);
        assert_eq!(feed.running_workflows("acme-corp"), 0);
        assert_eq!(feed.store().get("w1").unwrap().unwrap().status, Status::Ok);

        // Several at once, as they queue up under load: one write, every call woken.
        let (mut first, mut second) = (feed.expect("b1"), feed.expect("b2"));
        let (r1, p1) = result("b1", Status::Ok);
        let (r2, p2) = result("b2", Status::Error);
        feed.deliver_local(vec![acknowledged(3, 0, r1, p1), acknowledged(3, 1, r2, p2)]);
        assert_eq!(first.wait(Duration::ZERO).await.unwrap().status, Status::Ok);
        assert_eq!(
            second.wait(Duration::ZERO).await.unwrap().status,
            Status::Error
        );
        assert_eq!(
            feed.store().get("b2").unwrap().unwrap().status,
            Status::Error
        );
        assert_eq!(feed.lock_handed_over().pending[&3], BTreeSet::from([0, 1]));
    }

    #[test]
    fn the_feed_skips_each_handed_over_offset_once_and_forgets_what_it_read_past() {
        let mut h = HandedOver::default();
        h.remember(0, 5);
        h.remember(0, 6);
        h.remember(1, 3);
        assert!(h.take(0, 5));
        assert!(!h.take(0, 5), "skipped once only");
        assert!(!h.take(0, 4), "never handed over");
        // The feed read partition 0 up to 9 (6 among them, unskipped: say it came back
        // before its hand-off): 6 is forgotten; partition 1 is untouched.
        h.read(&HashMap::from([(0, 9)]));
        assert!(h.pending[&0].is_empty());
        assert!(h.pending[&1].contains(&3));
        // A hand-off behind what the feed read is not remembered.
        h.remember(0, 8);
        assert!(!h.take(0, 8));
        h.remember(0, 9);
        h.forget(0, 9);
        assert!(!h.take(0, 9));
    }

    #[test]
    fn results_and_offsets_survive_a_reopen_and_accepted_never_replaces_final() {
        let dir = tempfile::tempdir().unwrap();
        let ttl = Duration::from_secs(60);
        {
            let store = ResultStore::open(dir.path(), ttl).unwrap();
            let (_, acc) = result("a", Status::Accepted);
            let (_, ok) = result("b", Status::Ok);
            let rows = [row("a", Status::Accepted, &acc), row("b", Status::Ok, &ok)];
            store
                .write(&rows, &HashMap::from([(0, 7), (1, 3)]))
                .unwrap();
            let (_, fin) = result("a", Status::Ok);
            store
                .write(&[row("a", Status::Ok, &fin)], &HashMap::from([(0, 8)]))
                .unwrap();
            // A redelivered request's second `accepted` comes after the final result.
            store
                .write(
                    &[row("a", Status::Accepted, &acc)],
                    &HashMap::from([(0, 9)]),
                )
                .unwrap();
        }
        let store = ResultStore::open(dir.path(), ttl).unwrap();
        assert_eq!(store.get("a").unwrap().unwrap().status, Status::Ok);
        assert_eq!(store.get("b").unwrap().unwrap().tenant, "acme-corp");
        assert!(store.get("c").unwrap().is_none());
        assert_eq!(store.offsets().unwrap(), HashMap::from([(0, 9), (1, 3)]));
        assert!(store.running().unwrap().is_empty());
    }

    #[test]
    fn expired_results_are_not_served_and_accepted_ones_count_as_running() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), Duration::from_secs(3600)).unwrap();
        let (_, acc) = result("w", Status::Accepted);
        store
            .write(&[row("w", Status::Accepted, &acc)], &HashMap::new())
            .unwrap();
        assert_eq!(
            store.running().unwrap(),
            vec![("acme-corp".to_string(), "w".to_string())]
        );
        let expired = ResultStore {
            db: store.db,
            ttl_ms: 0,
        };
        std::thread::sleep(Duration::from_millis(5));
        assert!(expired.get("w").unwrap().is_none());
    }
}

//! The git registry at the edges: the watcher that publishes the config repository's commits
//! to the commits topic, and the materializer that applies them to this instance's RocksDB
//! store and swaps each tenant's compiled registry.
//!
//! - **Watcher** ([`run_watcher`]). Its only memory is the commits topic itself: at start it
//!   reads the topic to learn the last published commit of every branch, so a restart neither
//!   repeats nor skips a commit. It then publishes pending events (oldest first, each
//!   acknowledged before the next) and waits on the ref watcher (inotify, with a slow poll as
//!   a safety net); there is no debounce delay.
//! - **Materializer** ([`Materializer`]). Every pipeline instance consumes the whole commits
//!   topic from the offset stored in its RocksDB store together with the state, so a crash at
//!   any point neither loses nor doubles an event. It first catches up to the end of the
//!   topic, a thousand events per write (the pipeline serves nothing before), then follows
//!   it on its own thread: the events already fetched are applied, then the tenants they
//!   affect are recompiled once and swapped atomically, while requests in flight finish on
//!   the snapshot they took.
//! - **Hand-off in one process** ([`LocalCommits`]). When the watcher runs in the same
//!   process as the materializer, it also hands each acknowledged event over with the offset
//!   the broker gave it. The materializer applies it at once if it is the next record of the
//!   log, so the topic's order is kept and a restart or a replay ends the same; the copy the
//!   consumer brings later is skipped by offset. A reload then waits for no fetch, and the
//!   consumer can poll the broker ten times less often.
//!
//! Git reading lives in `volcano-gitops`, state and validation in `volcano-store`; this module
//! only moves events between them and the broker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::FutureRecord;
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{oneshot, watch};
use tracing::{debug, info, warn};
use volcano_gitops::{BranchLayout, ConfigRepo, GitError, RefWatcher, WatchOptions};
use volcano_pipeline::registry::{CommitEvent, RegistryHandle};
use volcano_pipeline::tools::ToolServices;
use volcano_store::{ApplyOutcome, Store, StoreError};

use crate::avro;
use crate::config::VolcanoConfig;
use crate::kafka;
use crate::metrics::METRICS;

/// The single partition of the commits topic.
const COMMITS_PARTITION: i32 = 0;
/// How long a metadata or watermark request to the broker may take.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the watcher's wait returns to check for shutdown.
const WATCH_SLICE: Duration = Duration::from_millis(200);

/// Why the git registry could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum GitRegistryError {
    #[error("config repository: {0}")]
    Git(#[from] GitError),
    #[error("registry store: {0}")]
    Store(#[from] StoreError),
    #[error("commits topic: {0}")]
    Kafka(#[from] KafkaError),
    #[error("commits topic offset {offset}: undecodable commit event: {reason}")]
    Undecodable { offset: i64, reason: String },
    #[error("{0}")]
    Setup(String),
}

/// The branch names of the config repository, from the configuration.
pub fn layout(config: &VolcanoConfig) -> BranchLayout {
    BranchLayout {
        main: config.registry.main_branch.clone(),
        tenant_prefix: config.registry.tenant_prefix.clone(),
    }
}

/// The config repository, created from the example content when it does not exist yet.
pub fn ensure_repo(config: &VolcanoConfig) -> Result<PathBuf, GitRegistryError> {
    let repo = config.registry_repo();
    if is_git_repo(&repo) {
        return Ok(repo);
    }
    let content = &config.stack.config_repo;
    if !content.join("main").is_dir() {
        return Err(GitRegistryError::Setup(format!(
            "config repository {} does not exist and there is no example content in {} to \
             create it from; run `volcano repo init` or set registry.repo",
            repo.display(),
            content.display()
        )));
    }
    std::fs::create_dir_all(&repo)
        .map_err(|e| GitRegistryError::Setup(format!("{}: {e}", repo.display())))?;
    let summary = volcano_gitops::init_repo(content, &repo, &layout(config))?;
    info!(repo = %repo.display(), from = %content.display(), ?summary, "config repository created");
    Ok(repo)
}

/// Reads the commits topic from `start` to its current end, calling `each` per event.
/// Returns how many records were read.
pub fn read_commits(
    config: &VolcanoConfig,
    start: Offset,
    mut each: impl FnMut(&BorrowedMessage<'_>, CommitEvent) -> Result<(), GitRegistryError>,
) -> Result<u64, GitRegistryError> {
    let consumer = commits_consumer(config, start, CATCH_UP_FETCH_WAIT)?;
    let topic = &config.kafka.topics.commits;
    let (_, high) = watermarks(&consumer, topic)?;
    let mut read = 0;
    let mut position = match start {
        Offset::Offset(o) => o,
        _ => 0,
    };
    while position < high {
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message?;
        position = message.offset() + 1;
        read += 1;
        match decode(&message) {
            Ok(event) => each(&message, event)?,
            Err(e) => skip_undecodable(&e),
        }
    }
    Ok(read)
}

/// What every reader of the commits topic (start-up, the live follower, the watcher's
/// memory, replay) does with a record that is not a commit event: it was never produced by
/// a watcher, so skipping it (logged and counted) is the only way forward. Treating it as
/// fatal would keep every instance from starting again, the topic being kept forever.
fn skip_undecodable(error: &GitRegistryError) {
    warn!(%error, "skipping an undecodable record of the commits topic");
    METRICS
        .registry_commits
        .with_label_values(&["undecodable"])
        .inc();
}

/// The first and one-past-last offsets of the commits topic: a replay can rebuild the
/// state only when the first is 0 (retention deleted nothing).
pub fn commits_extent(config: &VolcanoConfig) -> Result<(i64, i64), GitRegistryError> {
    let consumer = commits_consumer(config, Offset::Beginning, CATCH_UP_FETCH_WAIT)?;
    Ok(watermarks(&consumer, &config.kafka.topics.commits)?)
}

/// The extent of the commits topic; a topic created a moment ago may need a few tries.
fn watermarks(consumer: &BaseConsumer, topic: &str) -> Result<(i64, i64), KafkaError> {
    let mut attempt = 0;
    loop {
        match consumer.fetch_watermarks(topic, COMMITS_PARTITION, BROKER_TIMEOUT) {
            Ok(extent) => return Ok(extent),
            Err(e) if attempt < 20 => {
                debug!(error = %e, "commits topic not ready; retrying");
                attempt += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long a fetch of the commits topic may wait for records when the caller reads it to the
/// end (replay, start-up, the watcher's memory).
const CATCH_UP_FETCH_WAIT: Duration = Duration::from_millis(5);

fn commits_consumer(
    config: &VolcanoConfig,
    start: Offset,
    fetch_wait: Duration,
) -> Result<BaseConsumer, KafkaError> {
    let mut c = kafka::client_config(config);
    // No group: every instance reads the whole topic and keeps its own offset with its state.
    c.set("group.id", "volcano-registry");
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    c.set(
        "fetch.wait.max.ms",
        fetch_wait.as_millis().max(1).to_string(),
    );
    let consumer: BaseConsumer = c.create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&config.kafka.topics.commits, COMMITS_PARTITION, start)?;
    consumer.assign(&tpl)?;
    Ok(consumer)
}

fn decode(message: &BorrowedMessage<'_>) -> Result<CommitEvent, GitRegistryError> {
    avro::decode_commit_event(message.payload().unwrap_or_default()).map_err(|e| {
        GitRegistryError::Undecodable {
            offset: message.offset(),
            reason: e.to_string(),
        }
    })
}

/// The last published commit of every branch, from the commits topic.
pub fn read_published(
    config: &VolcanoConfig,
) -> Result<BTreeMap<String, String>, GitRegistryError> {
    let mut published = BTreeMap::new();
    read_commits(config, Offset::Beginning, |_, event| {
        volcano_gitops::mark_published(&mut published, &event);
        Ok(())
    })?;
    Ok(published)
}

/// Publishes the config repository's commits until `shutdown`. `ready` fires once the first
/// pass (everything already in the repository) is acknowledged by the broker.
///
/// The repository is read on a thread of its own (gix's handles are not `Send`); each event
/// is produced through the runtime and acknowledged before the next is read.
/// `local`, when this process also runs the materializer, receives each event once the broker
/// has acknowledged it (see [`LocalCommits`]).
pub async fn run_watcher(
    config: VolcanoConfig,
    shutdown: watch::Receiver<bool>,
    ready: Option<oneshot::Sender<usize>>,
    local: Option<LocalCommits>,
) -> Result<(), GitRegistryError> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || watch_repository(&config, &runtime, shutdown, ready, local))
        .await
        .map_err(|e| GitRegistryError::Setup(e.to_string()))?
}

/// The hand-off of events from a watcher to the materializer of the same process: each event
/// with the offset the broker acknowledged it at. Make one with [`local_commits`].
pub type LocalCommits = std::sync::mpsc::Sender<LocalCommit>;

/// One event as the watcher published it.
pub struct LocalCommit {
    pub event: CommitEvent,
    /// Its offset in the commits topic.
    pub offset: i64,
    /// When it was sent to the broker (ms since the epoch), like a record's create time.
    pub published_ms: i64,
}

/// A watcher-to-materializer hand-off: give the sender to [`run_watcher`], the receiver to
/// [`Materializer::follow`].
pub fn local_commits() -> (LocalCommits, std::sync::mpsc::Receiver<LocalCommit>) {
    std::sync::mpsc::channel()
}

fn watch_repository(
    config: &VolcanoConfig,
    runtime: &tokio::runtime::Handle,
    mut shutdown: watch::Receiver<bool>,
    mut ready: Option<oneshot::Sender<usize>>,
    local: Option<LocalCommits>,
) -> Result<(), GitRegistryError> {
    let path = config.registry_repo();
    let mut published = read_published(config)?;
    let producer = kafka::commits_producer(config)?;
    let topic = config.kafka.topics.commits.clone();
    let options = WatchOptions {
        poll_interval: Duration::from_millis(config.registry.poll_interval_ms.max(10)),
        ..WatchOptions::default()
    };
    let repo = ConfigRepo::open(&path, layout(config))?;
    let mut watcher = RefWatcher::with_options(&path, &options)?;
    info!(repo = %path.display(), branches = published.len(), notify = watcher.is_notify_active(), "watching the config repository");
    loop {
        match repo.pending_events(&published) {
            Ok(events) => {
                let sent = events.len();
                for event in events {
                    let published_ms = chrono::Utc::now().timestamp_millis();
                    let offset =
                        runtime.block_on(publish(&producer, &topic, &event, &mut shutdown))?;
                    volcano_gitops::mark_published(&mut published, &event);
                    if let Some(local) = &local {
                        // A materializer that stopped reads the topic instead; nothing to do.
                        let _ = local.send(LocalCommit {
                            event: event.clone(),
                            offset,
                            published_ms,
                        });
                    }
                    METRICS.registry_published.inc();
                    info!(branch = %event.branch, commit = %event.commit_id, kind = ?event.kind, "commit published");
                }
                if let Some(tx) = ready.take() {
                    let _ = tx.send(sent);
                }
            }
            // A ref may be mid-update (a lock file, a half-written pack): look again soon.
            Err(e) => warn!(error = %e, "reading the config repository failed; retrying"),
        }
        // Wait for a ref change, a slice at a time so shutdown is noticed.
        loop {
            // Stop when asked, or when whoever could ask is gone.
            if *shutdown.borrow() || shutdown.has_changed().is_err() {
                info!("watcher stopped");
                return Ok(());
            }
            if watcher.wait(WATCH_SLICE) {
                break;
            }
        }
    }
}

/// Produces one event and waits for the broker's acknowledgement, retrying until it is
/// acknowledged or the process shuts down (the event is then published by the next watcher).
/// Returns the event's offset.
async fn publish(
    producer: &rdkafka::producer::FutureProducer,
    topic: &str,
    event: &CommitEvent,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<i64, GitRegistryError> {
    let payload = avro::encode_commit_event(event)
        .map_err(|e| GitRegistryError::Setup(format!("commit event not encodable: {e}")))?;
    loop {
        let record = FutureRecord::to(topic)
            .key(event.branch.as_bytes())
            .payload(&payload);
        match producer.send(record, Timeout::After(BROKER_TIMEOUT)).await {
            Ok(delivery) => return Ok(delivery.offset),
            Err((e, _)) => {
                warn!(error = %e, branch = %event.branch, "publishing a commit failed; retrying");
                METRICS.produce_retries.inc();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {
                        return Err(GitRegistryError::Setup("shut down before the commit was published".into()));
                    }
                }
            }
        }
    }
}

/// This instance's registry: the RocksDB store, fed from the commits topic, and the handle
/// the fast path reads.
pub struct Materializer {
    store: Arc<Store>,
    handle: RegistryHandle,
    services: ToolServices,
    config: VolcanoConfig,
}

impl Materializer {
    /// Opens the store in `registry_data_dir()` and catches up to the end of the commits
    /// topic; the returned materializer's handle serves the newest valid commit of every
    /// branch.
    pub fn start(config: &VolcanoConfig, services: ToolServices) -> Result<Self, GitRegistryError> {
        let dir = config.registry_data_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| GitRegistryError::Setup(format!("{}: {e}", dir.display())))?;
        let store = Arc::new(Store::open(&dir)?.with_layout(layout(config)));
        let start = next_offset(&store)?;
        let mut counts = BTreeMap::<&'static str, u64>::new();
        // Applied a thousand at a time: one write (state and offsets together) per batch,
        // and the batch's files parsed on every core.
        let mut batch: Vec<(CommitEvent, (i32, i64))> = Vec::new();
        let mut apply =
            |batch: &mut Vec<(CommitEvent, (i32, i64))>| -> Result<(), GitRegistryError> {
                let outcomes = store.apply_batch(batch.iter().map(|(e, p)| (e, Some(*p))))?;
                for outcome in &outcomes {
                    *counts.entry(outcome_name(outcome)).or_default() += 1;
                    record(outcome);
                }
                batch.clear();
                Ok(())
            };
        let read = read_commits(config, start, |message, event| {
            batch.push((event, (message.partition(), message.offset())));
            if batch.len() == CATCH_UP_BATCH {
                apply(&mut batch)?;
            }
            Ok(())
        })?;
        apply(&mut batch)?;
        let handle = store.registry_handle_with(&services)?;
        info!(dir = %dir.display(), events = read, ?counts, tenants = ?handle.tenants(), commit = %handle.load("main").commit, "registry caught up");
        Ok(Materializer {
            store,
            handle,
            services,
            config: config.clone(),
        })
    }

    /// The handle the fast path reads; swaps are visible to it at once.
    pub fn handle(&self) -> RegistryHandle {
        self.handle.clone()
    }

    /// Follows the commits topic on a thread of its own until `stop` is set. `fetch_wait` is
    /// the consumer's `fetch.wait.max.ms`: on the embedded broker (tansu), which holds every
    /// fetch that long even when a commit is waiting, it is most of a reload's latency; and
    /// each fetch costs the broker about 1.8 ms of CPU, so 5 ms costs it a third of a core.
    /// See [`FOLLOW_FETCH_WAIT`] and [`FOLLOW_FETCH_WAIT_RELAXED`]. `local` receives the
    /// events this process's watcher published; they are applied without waiting for a fetch.
    pub fn follow(
        self,
        stop: Arc<AtomicBool>,
        fetch_wait: Duration,
        local: Option<std::sync::mpsc::Receiver<LocalCommit>>,
    ) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("materializer".into())
            .spawn(move || {
                if let Err(e) = self.follow_until(&stop, fetch_wait, local) {
                    tracing::error!(error = %e, "the materializer stopped; the registry no longer follows commits");
                }
            })
            .expect("spawn the materializer thread")
    }

    fn follow_until(
        &self,
        stop: &AtomicBool,
        fetch_wait: Duration,
        local: Option<std::sync::mpsc::Receiver<LocalCommit>>,
    ) -> Result<(), GitRegistryError> {
        let consumer = commits_consumer(&self.config, next_offset(&self.store)?, fetch_wait)?;
        // With a watcher in this process, look at its hand-off this often; the consumer's
        // poll only waits on librdkafka's local queue, not on the broker.
        let slice = match local {
            Some(_) => LOCAL_SLICE,
            None => Duration::from_millis(100),
        };
        // The last offset applied from the hand-off: the consumer's copies up to it are
        // skipped quietly (they are not redeliveries).
        let mut handed_over = -1;
        while !stop.load(Ordering::Relaxed) {
            // Apply every event already fetched, then compile once: a burst of commits (a
            // push of many) costs one compilation per tenant, not one per commit.
            let mut batch = Batch::default();
            if let Some(local) = &local {
                self.take_local(local, &mut batch, &mut handed_over)?;
            }
            let mut wait = match batch.events {
                0 => slice,
                _ => Duration::ZERO,
            };
            while batch.events < MAX_BATCH {
                let Some(message) = consumer.poll(wait) else {
                    break;
                };
                wait = Duration::ZERO;
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        warn!(error = %e, "reading the commits topic failed; retrying");
                        std::thread::sleep(Duration::from_millis(500));
                        break;
                    }
                };
                if message.offset() <= handed_over {
                    continue;
                }
                let event = match decode(&message) {
                    Ok(event) => event,
                    Err(e) => {
                        batch.events += 1;
                        skip_undecodable(&e);
                        continue;
                    }
                };
                self.apply(
                    &event,
                    message.partition(),
                    message.offset(),
                    message.timestamp().to_millis(),
                    &mut batch,
                )?;
            }
            if batch.tenants.is_empty() {
                continue;
            }
            let started = std::time::Instant::now();
            let tenants: Vec<String> = batch.tenants.into_iter().collect();
            for error in self.store.refresh(&self.handle, &tenants, &self.services) {
                warn!(%error, "a tenant's registry did not compile; it keeps its previous one");
            }
            let now = chrono::Utc::now().timestamp_millis();
            for published in &batch.published {
                METRICS
                    .registry_reload_seconds
                    .observe((now - published).max(0) as f64 / 1000.0);
            }
            debug!(
                events = batch.events,
                compile_ms = started.elapsed().as_secs_f64() * 1e3,
                ?tenants,
                "registry swapped"
            );
        }
        Ok(())
    }

    /// Applies one event at `offset` of the commits topic and notes what it changed.
    fn apply(
        &self,
        event: &CommitEvent,
        partition: i32,
        offset: i64,
        published_ms: Option<i64>,
        batch: &mut Batch,
    ) -> Result<(), GitRegistryError> {
        batch.events += 1;
        let outcome = self.store.apply(event, Some((partition, offset)))?;
        record(&outcome);
        if let ApplyOutcome::Applied {
            tenants_affected, ..
        }
        | ApplyOutcome::Deleted {
            tenants_affected, ..
        } = &outcome
        {
            batch.tenants.extend(tenants_affected.iter().cloned());
            batch.published.extend(published_ms);
        }
        Ok(())
    }

    /// Applies the events the watcher of this process handed over that are next in the log.
    /// One further on (an event of another watcher lies between) is left to the consumer,
    /// which brings both in order; one already applied is skipped.
    fn take_local(
        &self,
        local: &std::sync::mpsc::Receiver<LocalCommit>,
        batch: &mut Batch,
        handed_over: &mut i64,
    ) -> Result<(), GitRegistryError> {
        while let Ok(commit) = local.try_recv() {
            let next = next_commit_offset(&self.store)?.unwrap_or(0);
            if commit.offset == next {
                self.apply(
                    &commit.event,
                    COMMITS_PARTITION,
                    commit.offset,
                    Some(commit.published_ms),
                    batch,
                )?;
                *handed_over = commit.offset;
                METRICS.registry_handed_over.inc();
            } else {
                debug!(
                    offset = commit.offset,
                    next, "a handed-over commit is not next in the log; the consumer brings it"
                );
            }
        }
        Ok(())
    }
}

/// How often a materializer with a watcher in its process looks at the watcher's hand-off.
const LOCAL_SLICE: Duration = Duration::from_millis(2);

/// The fetch wait of a pipeline's materializer when no watcher runs in its process: a commit
/// changes the answers of the next requests within the hot-reload budget (p99 ≤ 50 ms from
/// `git commit`).
pub const FOLLOW_FETCH_WAIT: Duration = Duration::from_millis(5);

/// The fetch wait of a materializer whose commits come from the watcher of its own process
/// (the hand-off brings them at once), or that only feeds the REST API (its registry holds
/// the API keys and limits, for which a tenth of a second is prompt): a tenth of the
/// broker's CPU of [`FOLLOW_FETCH_WAIT`].
pub const FOLLOW_FETCH_WAIT_RELAXED: Duration = Duration::from_millis(50);

/// Events applied in one write while catching up.
const CATCH_UP_BATCH: usize = 1000;

/// Most events applied before the registry is compiled and swapped.
const MAX_BATCH: usize = 1000;

/// The events applied since the last swap.
#[derive(Default)]
struct Batch {
    events: usize,
    /// Tenants whose registry the applied events changed.
    tenants: std::collections::BTreeSet<String>,
    /// When each applied event was published (ms since the epoch).
    published: Vec<i64>,
}

/// Where to resume the commits topic: one past the stored offset, or the beginning.
fn next_offset(store: &Store) -> Result<Offset, GitRegistryError> {
    Ok(next_commit_offset(store)?.map_or(Offset::Beginning, Offset::Offset))
}

/// The commits topic's offset the store applies next; none before its first event.
fn next_commit_offset(store: &Store) -> Result<Option<i64>, GitRegistryError> {
    Ok(store.next_offsets()?.get(&COMMITS_PARTITION).copied())
}

/// The `outcome` label of `volcano_registry_commits_total`, also used in replay summaries.
pub fn outcome_name(outcome: &ApplyOutcome) -> &'static str {
    match outcome {
        ApplyOutcome::Applied { .. } => "applied",
        ApplyOutcome::Rejected { .. } => "rejected",
        ApplyOutcome::Deleted { .. } => "deleted",
        ApplyOutcome::AlreadyApplied { .. } => "duplicate",
        ApplyOutcome::Ignored { .. } => "ignored",
    }
}

/// Logs and counts one outcome; a rejection names the branch, commit and every reason.
fn record(outcome: &ApplyOutcome) {
    METRICS
        .registry_commits
        .with_label_values(&[outcome_name(outcome)])
        .inc();
    match outcome {
        ApplyOutcome::Applied { branch, commit, .. } => {
            info!(%branch, %commit, "commit applied")
        }
        ApplyOutcome::Rejected {
            branch,
            commit,
            rejection,
        } => {
            warn!(%branch, %commit, reason = %rejection, "commit rejected; the branch keeps serving its last good commit")
        }
        other => debug!(?other, "commit event"),
    }
}

/// Whether `path` looks like a git work tree or repository.
fn is_git_repo(path: &Path) -> bool {
    path.join(".git").exists() || path.join("HEAD").is_file()
}

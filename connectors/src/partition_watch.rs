//! Is the pipeline's consumer group moving? Lag per partition of the requests topic, and a
//! stall detector that `/readyz` and the metrics report.
//!
//! A consumer group can stop answering with every process up: a broker that keeps a dead
//! member's partitions (tansu 0.6 does, measured), a member that owns nothing after a
//! rebalance, a record whose work never finishes. None of that shows in the pipeline loop,
//! which simply receives nothing. So a thread of the pipeline role probes the broker every
//! `pipeline.lag_probe_ms`: each partition's end offset and the group's committed offset
//! (the same numbers `kafka-consumer-groups --describe` prints). A partition *stalls* when
//! records wait in it (committed < end) and its committed offset has not moved for
//! `pipeline.stall_after_ms`. The process is not ready when a partition it owns stalls, or
//! when it owns none while any partition stalls (nobody is serving it); in that second case
//! it also leaves and rejoins the group, once per stall period, which is all a member can do
//! to ask the coordinator for a new assignment.
//!
//! Neighbours: [`crate::pipeline_role`] reports assignments and revocations from its
//! rebalance callbacks and runs [`spawn`]; the REST ingress's `/readyz` and the metrics
//! server's `/readyz` read [`PARTITIONS`]; [`crate::metrics`] holds the gauges.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{LazyLock, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use crate::config::VolcanoConfig;
use crate::kafka;
use crate::metrics::METRICS;

/// The pipeline of this process, as the partition watch sees it.
pub static PARTITIONS: LazyLock<PartitionWatch> = LazyLock::new(PartitionWatch::default);

/// What the watch knows: which partitions this process owns, and each partition's progress.
#[derive(Debug, Default)]
pub struct PartitionWatch {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Pipelines running in this process: one in production (tests may run several, whose
    /// partitions then mix).
    running: usize,
    assigned: BTreeSet<i32>,
    /// Owned partitions (topic, partition) whose state store is being restored.
    restoring: BTreeSet<(String, i32)>,
    progress: BTreeMap<i32, Progress>,
    /// Why the pipeline is not ready; `None` when it is.
    not_ready: Option<String>,
    /// When the group was last rejoined for want of a partition.
    rejoined_at: Option<Instant>,
}

/// One partition's offsets, and when its committed offset last moved.
#[derive(Debug, Clone, Copy)]
struct Progress {
    committed: i64,
    end: i64,
    moved_at: Instant,
}

/// One partition as a probe read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    pub partition: i32,
    /// The group's committed offset (the partition's start when nothing is committed).
    pub committed: i64,
    /// One past the last record.
    pub end: i64,
}

/// What a probe concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Why the pipeline is not ready, when it is not.
    pub not_ready: Option<String>,
    /// Whether to leave and rejoin the group: it owns nothing while a partition stalls.
    pub rejoin: bool,
}

impl PartitionWatch {
    /// A pipeline started (it owns nothing yet).
    pub fn started(&self) {
        let mut s = self.state.lock().expect("partition watch");
        s.running += 1;
    }

    /// A pipeline stopped; the last one to stop clears what the watch knew.
    pub fn stopped(&self) {
        let mut s = self.state.lock().expect("partition watch");
        s.running = s.running.saturating_sub(1);
        if s.running == 0 {
            *s = State::default();
            METRICS.partitions_assigned.set(0);
            METRICS.stalled_partitions.set(0);
        }
    }

    /// A rebalance gave this process `partitions` (added to what it owns: the incremental
    /// protocols report only the change).
    pub fn assigned(&self, partitions: impl IntoIterator<Item = i32>) {
        let mut s = self.state.lock().expect("partition watch");
        s.assigned.extend(partitions);
        METRICS.partitions_assigned.set(s.assigned.len() as i64);
    }

    /// A rebalance took `partitions` away.
    pub fn revoked(&self, partitions: impl IntoIterator<Item = i32>) {
        let mut s = self.state.lock().expect("partition watch");
        for p in partitions {
            s.assigned.remove(&p);
        }
        METRICS.partitions_assigned.set(s.assigned.len() as i64);
    }

    /// A partition's state store started (`true`) or ended (`false`) its restore.
    pub fn restoring(&self, topic: &str, partition: i32, restoring: bool) {
        let mut s = self.state.lock().expect("partition watch");
        let key = (topic.to_string(), partition);
        if restoring {
            s.restoring.insert(key);
        } else {
            s.restoring.remove(&key);
        }
    }

    /// `None` when no pipeline runs in this process; else "ok" or why it is not ready.
    pub fn readiness(&self) -> Option<String> {
        self.readiness_of(None)
    }

    /// [`Self::readiness`], counting only the restores of `requests` (a topic) when given:
    /// an ingress asks about its own pipeline's topic.
    pub fn readiness_of(&self, requests: Option<&str>) -> Option<String> {
        let s = self.state.lock().expect("partition watch");
        if s.running == 0 {
            return None;
        }
        let restoring: Vec<String> = s
            .restoring
            .iter()
            .filter(|(topic, _)| requests.is_none_or(|r| r == topic))
            .map(|(_, p)| p.to_string())
            .collect();
        if !restoring.is_empty() {
            let list = restoring;
            return Some(format!(
                "restoring the state store of partition(s) {}",
                list.join(", ")
            ));
        }
        Some(s.not_ready.clone().unwrap_or_else(|| "ok".into()))
    }

    /// Takes a probe's offsets read at `now`: updates progress and the lag gauges, and
    /// judges.
    pub fn observe(&self, probe: &[Offsets], now: Instant, stall_after: Duration) -> Verdict {
        let mut s = self.state.lock().expect("partition watch");
        for o in probe {
            let moved = match s.progress.get(&o.partition) {
                Some(p) if p.committed == o.committed => p.moved_at,
                _ => now,
            };
            s.progress.insert(
                o.partition,
                Progress {
                    committed: o.committed,
                    end: o.end,
                    moved_at: moved,
                },
            );
            METRICS
                .consumer_lag
                .with_label_values(&[&o.partition.to_string()])
                .set((o.end - o.committed).max(0));
        }
        let stalled: Vec<(i32, i64, Duration)> = s
            .progress
            .iter()
            .filter(|(_, p)| p.end > p.committed)
            .map(|(&partition, p)| (partition, p.end - p.committed, now - p.moved_at))
            .filter(|(_, _, still)| *still >= stall_after)
            .collect();
        METRICS.stalled_partitions.set(stalled.len() as i64);
        let mine: Vec<_> = stalled
            .iter()
            .filter(|(p, _, _)| s.assigned.contains(p))
            .collect();
        let orphaned = s.assigned.is_empty() && !stalled.is_empty();
        let not_ready = if let Some((partition, waiting, still)) = mine.first() {
            Some(format!(
                "partition {partition} has {waiting} records waiting and its committed offset \
                 has not moved for {} s",
                still.as_secs()
            ))
        } else if orphaned {
            let waiting: i64 = stalled.iter().map(|(_, w, _)| w).sum();
            let partitions: Vec<String> = stalled.iter().map(|(p, _, _)| p.to_string()).collect();
            Some(format!(
                "this member owns no partition while {waiting} records wait with no progress \
                 for {} s or more (partitions {})",
                stall_after.as_secs(),
                partitions.join(", ")
            ))
        } else {
            None
        };
        let rejoin = orphaned
            && s.rejoined_at
                .is_none_or(|at| now.duration_since(at) >= stall_after);
        if rejoin {
            s.rejoined_at = Some(now);
        }
        s.not_ready = not_ready.clone();
        Verdict { not_ready, rejoin }
    }
}

/// Reads every partition's end offset and the group's committed offset.
pub fn probe(
    consumer: &BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<Offsets>, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let mut tpl = TopicPartitionList::new();
    for p in metadata.topics().iter().flat_map(|t| t.partitions()) {
        tpl.add_partition(topic, p.id());
    }
    let committed = consumer.committed_offsets(tpl, timeout)?;
    let mut out = Vec::new();
    for e in committed.elements() {
        let (start, end) = consumer.fetch_watermarks(topic, e.partition(), timeout)?;
        let committed = match e.offset() {
            Offset::Offset(o) => o,
            _ => start,
        };
        out.push(Offsets {
            partition: e.partition(),
            committed,
            end,
        });
    }
    Ok(out)
}

/// Probes the requests topic every `pipeline.lag_probe_ms` until `shutdown`, on a thread of
/// its own (the client calls block). Asks the pipeline loop to rejoin the group through
/// `rejoin` when it owns nothing while a partition stalls.
pub fn spawn(
    config: &VolcanoConfig,
    mut shutdown: watch::Receiver<bool>,
    rejoin: mpsc::UnboundedSender<()>,
) -> std::io::Result<JoinHandle<()>> {
    let topic = config.kafka.topics.requests.clone();
    let mut cc = kafka::client_config(config);
    // The group's committed offsets are read without joining it.
    cc.set("group.id", &config.pipeline.group_id);
    cc.set("enable.auto.commit", "false");
    let every = Duration::from_millis(config.pipeline.lag_probe_ms.max(100));
    let stall_after = Duration::from_millis(config.pipeline.stall_after_ms);
    std::thread::Builder::new()
        .name("volcano-lag".into())
        .spawn(move || {
            let consumer: BaseConsumer = match cc.create() {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "the partition watch has no client; lag is not measured");
                    return;
                }
            };
            let timeout = every.min(Duration::from_secs(5));
            let mut next = Instant::now();
            loop {
                // Sleep in short slices so that shutdown is seen at once.
                while Instant::now() < next {
                    if *shutdown.borrow_and_update() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100).min(every));
                }
                next = Instant::now() + every;
                match probe(&consumer, &topic, timeout) {
                    Ok(offsets) => {
                        let verdict = PARTITIONS.observe(&offsets, Instant::now(), stall_after);
                        if let Some(reason) = &verdict.not_ready {
                            warn!(%reason, "the pipeline is not keeping up");
                        }
                        if verdict.rejoin {
                            warn!("owning no partition while records wait: rejoining the group");
                            let _ = rejoin.send(());
                        }
                    }
                    Err(e) => debug!(error = %e, "lag probe failed; next one soon"),
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(30);

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    fn offsets(partition: i32, committed: i64, end: i64) -> Offsets {
        Offsets {
            partition,
            committed,
            end,
        }
    }

    #[test]
    fn an_owned_partition_with_waiting_records_and_no_progress_is_a_stall() {
        let w = PartitionWatch::default();
        w.started();
        w.assigned([0]);
        let t0 = Instant::now();
        let probe = [offsets(0, 10, 20)];
        assert_eq!(w.observe(&probe, t0, STALL).not_ready, None);
        assert_eq!(w.observe(&probe, at(t0, 29), STALL).not_ready, None);
        let v = w.observe(&probe, at(t0, 31), STALL);
        let reason = v.not_ready.expect("stalled");
        assert!(
            reason.contains("partition 0 has 10 records waiting"),
            "{reason}"
        );
        assert!(!v.rejoin, "it owns the partition: rejoining would not help");
        assert_eq!(w.readiness().as_deref(), Some(reason.as_str()));
        // Progress clears it.
        let v = w.observe(&[offsets(0, 15, 20)], at(t0, 32), STALL);
        assert_eq!(v.not_ready, None);
        assert_eq!(w.readiness().as_deref(), Some("ok"));
    }

    #[test]
    fn a_caught_up_partition_never_stalls() {
        let w = PartitionWatch::default();
        w.started();
        w.assigned([0]);
        let t0 = Instant::now();
        w.observe(&[offsets(0, 20, 20)], t0, STALL);
        assert_eq!(
            w.observe(&[offsets(0, 20, 20)], at(t0, 300), STALL)
                .not_ready,
            None
        );
    }

    #[test]
    fn owning_nothing_while_records_wait_is_not_ready_and_rejoins_once_per_period() {
        let w = PartitionWatch::default();
        w.started();
        let t0 = Instant::now();
        let probe = [offsets(0, 0, 7), offsets(1, 3, 3)];
        assert!(!w.observe(&probe, t0, STALL).rejoin);
        let v = w.observe(&probe, at(t0, 30), STALL);
        assert!(v.rejoin);
        let reason = v.not_ready.unwrap();
        assert!(
            reason.contains("owns no partition while 7 records wait"),
            "{reason}"
        );
        assert!(reason.contains("partitions 0)"), "{reason}");
        assert!(
            !w.observe(&probe, at(t0, 40), STALL).rejoin,
            "not again at once"
        );
        assert!(w.observe(&probe, at(t0, 61), STALL).rejoin);
        // Another member's stalled partition is not this one's problem once it owns some.
        w.assigned([1]);
        assert_eq!(w.observe(&probe, at(t0, 62), STALL).not_ready, None);
    }

    #[test]
    fn no_pipeline_no_readiness_check() {
        let w = PartitionWatch::default();
        assert_eq!(w.readiness(), None);
        w.started();
        assert_eq!(w.readiness().as_deref(), Some("ok"));
        w.stopped();
        assert_eq!(w.readiness(), None);
    }
}

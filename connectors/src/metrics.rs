//! Prometheus metrics of the pipeline role, registered once, cheap on the hot path, and
//! served at `GET /metrics` on `pipeline.metrics_addr`.
//!
//! Names are stable and documented in the README: `volcano_<part>_<what>_<unit>`.

use std::net::SocketAddr;
use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tokio::sync::watch;
use tracing::{info, warn};

/// Every metric of this process.
pub struct Metrics {
    pub registry: Registry,
    pub consumed: IntCounter,
    pub results: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub produce_retries: IntCounter,
    /// Records the broker refused for good, by what they were to their request (`result`,
    /// `reply`, `dead_letter`).
    pub produce_refused: IntCounterVec,
    pub in_flight: IntGauge,
    /// Records waiting in each partition of the requests topic: its end offset less the
    /// group's committed offset.
    pub consumer_lag: IntGaugeVec,
    /// Partitions of the requests topic this process owns.
    pub partitions_assigned: IntGauge,
    /// Partitions with records waiting and no progress for `pipeline.stall_after_ms`.
    pub stalled_partitions: IntGauge,
    /// Partitions of the requests topic taken from this process by rebalances.
    pub partitions_revoked: IntCounter,
    /// Requests answered again from the state store (a redelivery, a restart, a new owner),
    /// not computed again.
    pub answers_replayed: IntCounter,
    /// Changelog records applied by state-store restores.
    pub state_restored: IntCounter,
    /// Changelog records (by offset) that restores running now have still to read.
    pub state_restore_remaining: IntGauge,
    /// Partitions assigned to this process whose state store is being restored.
    pub state_restoring_partitions: IntGauge,
    /// Undecodable changelog records skipped by restores.
    pub state_changelog_skipped: IntCounter,
    pub process_seconds: Histogram,
    /// From a record handed to the producer to the broker's acknowledgement, retries
    /// included.
    pub produce_seconds: Histogram,
    /// How old each request record was when the pipeline read it: from its Kafka timestamp
    /// (its producer's clock) to now.
    pub record_age_seconds: Histogram,
    /// Commit events applied by the materializer, by outcome.
    pub registry_commits: IntCounterVec,
    /// Commit events the watcher published.
    pub registry_published: IntCounter,
    /// Commit events applied as the watcher of the same process handed them over, without
    /// waiting for the consumer to fetch them.
    pub registry_handed_over: IntCounter,
    /// From the watcher seeing a commit to its registry serving requests.
    pub registry_reload_seconds: Histogram,
    /// Durable workflows the pipeline started (a redelivered request's start counts once).
    pub durable_started: IntCounter,
    /// From a request consumed to Temporal accepting its workflow start.
    pub durable_start_seconds: Histogram,
    /// Step attempts the worker ran, by outcome (`ok`, `error`).
    pub durable_steps: IntCounterVec,
    /// Durable results the worker published.
    pub durable_finished: IntCounter,
    /// REST API responses, by route and status code.
    pub ingress_responses: IntCounterVec,
    /// `POST /api/v1/execute`, from the request read to the response, by outcome
    /// (`answered`, `accepted`, `pending`, `refused`).
    pub ingress_execute_seconds: HistogramVec,
    /// API calls waiting for their result.
    pub ingress_waiting: IntGauge,
    /// Results the ingress's feed stored.
    pub ingress_results_stored: IntCounter,
    /// Results the pipeline of the same process handed to the ingress once acknowledged,
    /// stored without the result feed decoding them again.
    pub ingress_results_handed_over: IntCounter,
    /// API calls answered with a final result the pipeline of the same process handed
    /// over as soon as it was computed, before the broker had it.
    pub ingress_answered_early: IntCounter,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let consumed = IntCounter::new(
            "volcano_pipeline_records_consumed_total",
            "Records consumed from the requests topic.",
        )
        .expect("metric");
        let results = IntCounterVec::new(
            Opts::new(
                "volcano_pipeline_results_total",
                "Results produced, by status.",
            ),
            &["status"],
        )
        .expect("metric");
        let dead_letters = IntCounterVec::new(
            Opts::new(
                "volcano_pipeline_dead_letters_total",
                "Records dead-lettered, by error kind.",
            ),
            &["kind"],
        )
        .expect("metric");
        let produce_retries = IntCounter::new(
            "volcano_pipeline_produce_retries_total",
            "Produces of results or dead letters retried after a failure.",
        )
        .expect("metric");
        let produce_refused = IntCounterVec::new(
            Opts::new(
                "volcano_pipeline_produce_refused_total",
                "Records the broker refused for good (unknown topic, too large, not \
                 authorized), by what they were to their request (result, reply, dead_letter); \
                 the request is dead-lettered instead, or skipped when its dead letter was \
                 the refused record.",
            ),
            &["record"],
        )
        .expect("metric");
        let in_flight = IntGauge::new(
            "volcano_pipeline_in_flight_records",
            "Records consumed whose result is not yet acknowledged.",
        )
        .expect("metric");
        let consumer_lag = IntGaugeVec::new(
            Opts::new(
                "volcano_pipeline_consumer_lag_records",
                "Records waiting in each partition of the requests topic: its end offset less \
                 the pipeline group's committed offset, read every pipeline.lag_probe_ms.",
            ),
            &["partition"],
        )
        .expect("metric");
        let partitions_assigned = IntGauge::new(
            "volcano_pipeline_partitions_assigned",
            "Partitions of the requests topic this process owns.",
        )
        .expect("metric");
        let stalled_partitions = IntGauge::new(
            "volcano_pipeline_stalled_partitions",
            "Partitions of the requests topic with records waiting whose committed offset has \
             not moved for pipeline.stall_after_ms.",
        )
        .expect("metric");
        let partitions_revoked = IntCounter::new(
            "volcano_pipeline_partitions_revoked_total",
            "Partitions of the requests topic taken from this process by rebalances (with the \
             cooperative-sticky assignor, only those that change owner).",
        )
        .expect("metric");
        let answers_replayed = IntCounter::new(
            "volcano_pipeline_answers_replayed_total",
            "Requests answered again from the state store (a redelivery, a restart, a new \
             owner of the partition), byte for byte, instead of being computed again.",
        )
        .expect("metric");
        let state_restored = IntCounter::new(
            "volcano_state_restored_records_total",
            "Changelog records applied by state-store restores.",
        )
        .expect("metric");
        let state_restore_remaining = IntGauge::new(
            "volcano_state_restore_remaining_records",
            "Changelog records (by offset) that the restores running now have still to read.",
        )
        .expect("metric");
        let state_restoring_partitions = IntGauge::new(
            "volcano_state_restoring_partitions",
            "Partitions assigned to this process whose state store is being restored.",
        )
        .expect("metric");
        let state_changelog_skipped = IntCounter::new(
            "volcano_state_changelog_skipped_total",
            "Undecodable changelog records skipped by state-store restores.",
        )
        .expect("metric");
        let process_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "volcano_pipeline_process_duration_seconds",
                "In-process time from decoded request to encoded result.",
            )
            .buckets(vec![
                1e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 5e-4, 1e-3, 1e-2, 0.1,
            ]),
        )
        .expect("metric");
        let produce_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "volcano_pipeline_produce_seconds",
                "From a record of the pipeline (a result, its reply-topic copy or a dead \
                 letter) handed to the producer to the broker's acknowledgement, retries \
                 included.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
        )
        .expect("metric");
        let record_age_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "volcano_pipeline_record_age_seconds",
                "How old each consumed request was when the pipeline read it, from its Kafka \
                 timestamp: the time it spent in its producer, the broker and the fetch, or \
                 in the topic while the pipeline was behind or down.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15,
                0.25, 0.5, 1.0, 5.0, 30.0, 300.0,
            ]),
        )
        .expect("metric");
        let registry_commits = IntCounterVec::new(
            Opts::new(
                "volcano_registry_commits_total",
                "Commit events applied by the materializer, by outcome (applied, rejected, \
                 deleted, duplicate, ignored, undecodable: a record that is no commit event, \
                 skipped).",
            ),
            &["outcome"],
        )
        .expect("metric");
        let registry_published = IntCounter::new(
            "volcano_registry_commits_published_total",
            "Commit events the watcher published to the commits topic.",
        )
        .expect("metric");
        let registry_handed_over = IntCounter::new(
            "volcano_registry_commits_handed_over_total",
            "Commit events applied as the watcher of the same process handed them over, \
             without waiting for a fetch.",
        )
        .expect("metric");
        let registry_reload_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "volcano_registry_reload_seconds",
                "From the watcher publishing a commit to the new registry serving requests.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
        )
        .expect("metric");
        let durable_started = IntCounter::new(
            "volcano_durable_workflows_started_total",
            "Durable workflows started by the pipeline.",
        )
        .expect("metric");
        let durable_start_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "volcano_durable_start_seconds",
                "From a request consumed to Temporal accepting its workflow start.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
        )
        .expect("metric");
        let durable_steps = IntCounterVec::new(
            Opts::new(
                "volcano_durable_step_attempts_total",
                "Workflow step attempts run by the worker, by outcome (ok, error).",
            ),
            &["outcome"],
        )
        .expect("metric");
        let durable_finished = IntCounter::new(
            "volcano_durable_results_total",
            "Final results of durable workflows published by the worker.",
        )
        .expect("metric");
        let ingress_responses = IntCounterVec::new(
            Opts::new(
                "volcano_ingress_responses_total",
                "REST API responses, by route and status code.",
            ),
            &["route", "code"],
        )
        .expect("metric");
        let ingress_execute_seconds = HistogramVec::new(
            HistogramOpts::new(
                "volcano_ingress_execute_duration_seconds",
                "POST /api/v1/execute from request to response, by outcome.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
            &["outcome"],
        )
        .expect("metric");
        let ingress_waiting = IntGauge::new(
            "volcano_ingress_waiting_requests",
            "API calls waiting for their result.",
        )
        .expect("metric");
        let ingress_results_stored = IntCounter::new(
            "volcano_ingress_results_stored_total",
            "Results the ingress stored from the results topic.",
        )
        .expect("metric");
        let ingress_answered_early = IntCounter::new(
            "volcano_ingress_answered_early_total",
            "API calls answered with a final result the pipeline of this process handed over \
             as soon as it was computed, before the broker had it.",
        )
        .expect("metric");
        let ingress_results_handed_over = IntCounter::new(
            "volcano_ingress_results_handed_over_total",
            "Results the pipeline of the same process handed to the ingress once the broker \
             acknowledged them, stored without the result feed decoding them again.",
        )
        .expect("metric");
        for c in [
            Box::new(consumed.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(ingress_responses.clone()),
            Box::new(ingress_execute_seconds.clone()),
            Box::new(ingress_waiting.clone()),
            Box::new(ingress_results_stored.clone()),
            Box::new(ingress_results_handed_over.clone()),
            Box::new(ingress_answered_early.clone()),
            Box::new(durable_started.clone()),
            Box::new(durable_start_seconds.clone()),
            Box::new(durable_steps.clone()),
            Box::new(durable_finished.clone()),
            Box::new(registry_commits.clone()),
            Box::new(registry_published.clone()),
            Box::new(registry_handed_over.clone()),
            Box::new(registry_reload_seconds.clone()),
            Box::new(results.clone()),
            Box::new(dead_letters.clone()),
            Box::new(produce_retries.clone()),
            Box::new(produce_refused.clone()),
            Box::new(in_flight.clone()),
            Box::new(consumer_lag.clone()),
            Box::new(partitions_assigned.clone()),
            Box::new(stalled_partitions.clone()),
            Box::new(partitions_revoked.clone()),
            Box::new(answers_replayed.clone()),
            Box::new(state_restored.clone()),
            Box::new(state_restore_remaining.clone()),
            Box::new(state_restoring_partitions.clone()),
            Box::new(state_changelog_skipped.clone()),
            Box::new(process_seconds.clone()),
            Box::new(produce_seconds.clone()),
            Box::new(record_age_seconds.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            consumed,
            results,
            dead_letters,
            produce_retries,
            produce_refused,
            in_flight,
            consumer_lag,
            partitions_assigned,
            stalled_partitions,
            partitions_revoked,
            answers_replayed,
            state_restored,
            state_restore_remaining,
            state_restoring_partitions,
            state_changelog_skipped,
            process_seconds,
            produce_seconds,
            record_age_seconds,
            registry_commits,
            registry_published,
            registry_handed_over,
            registry_reload_seconds,
            durable_started,
            durable_start_seconds,
            durable_steps,
            durable_finished,
            ingress_responses,
            ingress_execute_seconds,
            ingress_waiting,
            ingress_results_stored,
            ingress_results_handed_over,
            ingress_answered_early,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

/// The pipeline's readiness (see [`crate::partition_watch`]) for a process that serves no
/// REST API: 200 "ok", or 503 with the reason; 200 "no pipeline" when none runs here.
async fn pipeline_readyz() -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    match crate::partition_watch::PARTITIONS.readiness() {
        Some(reason) if reason != "ok" => (StatusCode::SERVICE_UNAVAILABLE, reason),
        Some(ok) => (StatusCode::OK, ok),
        None => (StatusCode::OK, "no pipeline".into()),
    }
}

/// Serves `GET /metrics` (and the pipeline's `GET /readyz`) until shutdown. A bind failure is logged, not fatal: the pipeline
/// matters more than its metrics.
pub async fn serve(addr: SocketAddr, mut shutdown: watch::Receiver<bool>) {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|| async { METRICS.render() }),
        )
        .route("/readyz", axum::routing::get(pipeline_readyz));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            warn!(%addr, error = %e, "metrics endpoint not served");
            return;
        }
    };
    info!(%addr, "metrics at /metrics");
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        warn!(error = %e, "metrics endpoint stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_their_documented_names() {
        METRICS.consumed.inc();
        METRICS.results.with_label_values(&["ok"]).inc();
        METRICS.dead_letters.with_label_values(&["bad_json"]).inc();
        let text = METRICS.render();
        for name in [
            "volcano_pipeline_records_consumed_total",
            "volcano_pipeline_results_total{status=\"ok\"}",
            "volcano_pipeline_dead_letters_total{kind=\"bad_json\"}",
            "volcano_pipeline_process_duration_seconds_bucket",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}

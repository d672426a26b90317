//! Which failures are worth retrying, and how long to wait between tries.
//!
//! The pipeline ([`crate::pipeline_role`]) may store a record's offset only once everything
//! the record depends on is done: its result produced, its workflow started. A failure that
//! trying again can cure (a broker restarting, a leader moving, Temporal unreachable) is
//! [`Fault::Transient`] and is retried with [`backoff`] until it succeeds or the process
//! shuts down. A failure that no retry can cure (a topic that does not exist or may not be
//! written, a record over the broker's limit, a start Temporal rejects as invalid) is
//! [`Fault::Permanent`]: retried forever it would hold its partition's offset back for good,
//! so the request is dead-lettered with the reason instead, and the partition moves on.
//!
//! librdkafka has already retried a produce internally (`message.send.max.retries`) before it
//! reports a delivery failure, so a broker error code that Kafka calls retriable but that
//! outlived those retries (an unknown topic) is permanent here.

use std::time::Duration;

use backon::ExponentialBuilder;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::tonic::{Code, Status};

/// Whether a retry may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Transient,
    Permanent,
}

/// The retry policy of produces and workflow starts: exponential from 50 ms to 5 s, with
/// jitter so that instances retrying after the same outage do not arrive together, and no
/// limit on tries (a transient fault is waited out; shutdown stops the waiting).
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
}

/// A failed produce (as the delivery report or the enqueueing call gives it).
pub fn of_produce(error: &KafkaError) -> Fault {
    match error.rdkafka_error_code() {
        Some(code) if permanent_produce_code(code) => Fault::Permanent,
        _ => Fault::Transient,
    }
}

fn permanent_produce_code(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        // No such topic or partition, or a name the broker will not take.
        C::UnknownTopic
            | C::UnknownPartition
            | C::UnknownTopicOrPartition
            | C::InvalidTopic
            // Too large for the producer (`message.max.bytes`) or for the broker.
            | C::MessageSizeTooLarge
            | C::MessageBatchTooLarge
            | C::InvalidMessageSize
            | C::InvalidRecord
            | C::PolicyViolation
            // Not allowed: ACLs change by an operator, not by waiting.
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::InvalidArgument
    )
}

/// A failed workflow start, by the gRPC status Temporal answered with. Statuses that say the
/// request itself is wrong (an id over the server's length limit, a bad argument, a
/// namespace or permission that will not change by waiting) are permanent; the ones that say
/// the server is busy, moving or unreachable are transient.
pub fn of_start(error: &WorkflowStartError) -> Fault {
    match error {
        WorkflowStartError::PayloadConversion(_) => Fault::Permanent,
        WorkflowStartError::Rpc(status) => of_status(status),
        // Not a failure: the caller treats it as "already started".
        WorkflowStartError::AlreadyStarted { .. } => Fault::Permanent,
        // A kind this SDK version does not have yet: waited out, as an outage would be.
        _ => Fault::Transient,
    }
}

fn of_status(status: &Status) -> Fault {
    match status.code() {
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::OutOfRange
        | Code::PermissionDenied
        | Code::Unimplemented => Fault::Permanent,
        _ => Fault::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backon::BackoffBuilder;

    #[test]
    fn size_topic_and_permission_errors_are_permanent_and_outages_are_not() {
        use RDKafkaErrorCode as C;
        let produce = |c| of_produce(&KafkaError::MessageProduction(c));
        for c in [
            C::MessageSizeTooLarge,
            C::UnknownTopic,
            C::UnknownTopicOrPartition,
            C::TopicAuthorizationFailed,
            C::InvalidTopic,
        ] {
            assert_eq!(produce(c), Fault::Permanent, "{c:?}");
        }
        for c in [
            C::MessageTimedOut,
            C::AllBrokersDown,
            C::NotLeaderForPartition,
            C::NotEnoughReplicas,
            C::QueueFull,
            C::BrokerTransportFailure,
        ] {
            assert_eq!(produce(c), Fault::Transient, "{c:?}");
        }
        // An error with no code (a client-side failure) is waited out.
        assert_eq!(of_produce(&KafkaError::Canceled), Fault::Transient);
    }

    #[test]
    fn temporal_s_invalid_argument_is_permanent_and_unavailable_is_not() {
        let start = |code| of_start(&WorkflowStartError::Rpc(Status::new(code, "x")));
        assert_eq!(start(Code::InvalidArgument), Fault::Permanent);
        assert_eq!(start(Code::PermissionDenied), Fault::Permanent);
        assert_eq!(start(Code::Unavailable), Fault::Transient);
        assert_eq!(start(Code::DeadlineExceeded), Fault::Transient);
        assert_eq!(start(Code::ResourceExhausted), Fault::Transient);
    }

    #[test]
    fn the_backoff_grows_to_its_cap_and_never_gives_up() {
        let delays: Vec<Duration> = backoff().build().take(200).collect();
        assert_eq!(delays.len(), 200, "no limit on tries");
        // Jitter adds up to one delay again on top of the exponential one.
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(10)));
        assert!(delays[199] >= Duration::from_secs(5));
    }
}

//! A request client: produce a request and wait for its result on the results topic.
//!
//! Used by `volcano send` and the tests. It reads the results topic by partition assignment
//! (no consumer group, so no join delay), starting at each partition's end offset taken
//! *before* the request is produced, so the result cannot slip past it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::Offset;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use volcano_pipeline::model::{Request, RequestResult, Status};

use crate::avro;
use crate::config::VolcanoConfig;
use crate::kafka;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("cannot encode the request: {0}")]
    Encode(#[from] avro::EncodeError),
    #[error("no result for request {id} within {waited_ms} ms (is `volcano run` up?)")]
    Timeout { id: String, waited_ms: u128 },
    #[error("topic {0} has no partitions (does it exist?)")]
    NoPartitions(String),
}

/// Reads results from the end of the results topic, as of its creation.
pub struct ResultWaiter {
    consumer: StreamConsumer,
}

impl ResultWaiter {
    /// Assigns every partition of the results topic at its current end.
    pub fn at_end(config: &VolcanoConfig, timeout: Duration) -> Result<Self, ClientError> {
        let topic = &config.kafka.topics.results;
        let mut cc = kafka::client_config(config);
        kafka::set_default(&mut cc, "fetch.wait.max.ms", "10");
        cc.set("group.id", "volcano-client");
        cc.set("enable.auto.commit", "false");
        let consumer: StreamConsumer = cc.create()?;
        let partitions = kafka::assign_all(&consumer, topic, timeout, |p| {
            let (_, high) = consumer.fetch_watermarks(topic, p, timeout)?;
            Ok(Offset::Offset(high))
        })?;
        if partitions == 0 {
            return Err(ClientError::NoPartitions(topic.clone()));
        }
        Ok(ResultWaiter { consumer })
    }

    /// Waits for the results of `ids`; returns those that arrived by the deadline. The first
    /// result per id wins (a redelivered request yields the same result again).
    pub async fn wait_for(
        &self,
        ids: &[String],
        timeout: Duration,
    ) -> HashMap<String, RequestResult> {
        self.wait(ids, timeout, false).await
    }

    /// The next decodable result on the topic, whatever its request; `None` when none
    /// comes within `timeout`.
    pub async fn next(&self, timeout: Duration) -> Option<RequestResult> {
        loop {
            let msg = tokio::time::timeout(timeout, self.consumer.recv())
                .await
                .ok()?;
            if let Ok(msg) = msg
                && let Ok(result) = avro::decode_result(msg.payload().unwrap_or_default())
            {
                return Some(result);
            }
        }
    }

    /// [`Self::wait_for`], passing over `accepted` results: a durable request's final result
    /// comes when its workflow ends.
    pub async fn wait_for_final(
        &self,
        ids: &[String],
        timeout: Duration,
    ) -> HashMap<String, RequestResult> {
        self.wait(ids, timeout, true).await
    }

    async fn wait(
        &self,
        ids: &[String],
        timeout: Duration,
        final_only: bool,
    ) -> HashMap<String, RequestResult> {
        let mut found = HashMap::new();
        let deadline = Instant::now() + timeout;
        while found.len() < ids.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let Ok(msg) = tokio::time::timeout(left, self.consumer.recv()).await else {
                break;
            };
            let Ok(msg) = msg else { continue };
            let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                continue;
            };
            if found.contains_key(key) || !ids.iter().any(|i| i == key) {
                continue;
            }
            if let Ok(result) = avro::decode_result(msg.payload().unwrap_or_default())
                && !(final_only && result.status == Status::Accepted)
            {
                found.insert(key.to_string(), result);
            }
        }
        found
    }
}

/// Produces a request to the requests topic, keyed by session (or id) so a session stays in
/// order on one partition.
pub async fn produce_request(
    producer: &FutureProducer,
    topic: &str,
    request: &Request,
) -> Result<(), ClientError> {
    let payload = avro::encode_request(request)?;
    let key = request.session_id.as_deref().unwrap_or(&request.id);
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)?;
    Ok(())
}

/// Sends one request and waits for its result.
pub async fn send_and_wait(
    config: &VolcanoConfig,
    request: &Request,
    timeout: Duration,
) -> Result<RequestResult, ClientError> {
    send(config, request, timeout, false).await
}

/// Sends one request and waits for its result; for a durable request, for the final one.
pub async fn send(
    config: &VolcanoConfig,
    request: &Request,
    timeout: Duration,
    final_only: bool,
) -> Result<RequestResult, ClientError> {
    let started = Instant::now();
    let waiter = ResultWaiter::at_end(config, timeout)?;
    let producer = kafka::stream_producer(config)?;
    produce_request(&producer, &config.kafka.topics.requests, request).await?;
    let left = timeout.saturating_sub(started.elapsed());
    let mut found = waiter
        .wait(std::slice::from_ref(&request.id), left, final_only)
        .await;
    found.remove(&request.id).ok_or(ClientError::Timeout {
        id: request.id.clone(),
        waited_ms: started.elapsed().as_millis(),
    })
}

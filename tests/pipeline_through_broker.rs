//! The pipeline against the real broker: requests in (Avro and JSON), results out, bad input
//! to the dead-letter topic with its reason and original bytes, offsets committed past all of
//! it, and nothing lost across a restart.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use volcano_connectors::avro;
use volcano_connectors::client::ResultWaiter;
use volcano_pipeline::model::{RequestResult, Status};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_and_json_requests_get_results_through_the_broker() {
    let config = test_config("basic");
    let pipeline = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = producer(&config);
    let topic = &config.kafka.topics.requests;

    let avro_req = request("avro-1", "Calculate 42 + 58");
    produce_raw(
        &producer,
        topic,
        "avro-1",
        &avro::encode_request(&avro_req).unwrap(),
    )
    .await;
    produce_raw(
        &producer,
        topic,
        "json-1",
        br#"{"id": "json-1", "text": "what is 7 times 8 minus 6", "tenant": "acme-corp"}"#,
    )
    .await;

    let ids = vec!["avro-1".to_string(), "json-1".to_string()];
    let results = waiter.wait_for(&ids, WAIT).await;
    let avro_result = &results["avro-1"];
    assert_eq!(avro_result.status, Status::Ok, "{avro_result:?}");
    assert_eq!(avro_result.value.as_deref(), Some("100"));
    assert!(!avro_result.registry_commit.is_empty());
    assert!(!avro_result.plan.is_empty());
    let json_result = &results["json-1"];
    assert_eq!(json_result.tenant, "acme-corp");
    assert_eq!(json_result.value.as_deref(), Some("50"), "{json_result:?}");
    pipeline.stop().await;
}

/// One malformed message of each kind, by index.
fn malformed(i: usize, limit: usize) -> (Vec<u8>, &'static str) {
    match i % 6 {
        0 => {
            let mut b = avro::REQUEST.header.to_vec();
            b.extend_from_slice(&[
                0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, i as u8,
            ]);
            (b, "bad_avro")
        }
        1 => (
            format!("{{\"text\": \"unterminated {i}").into_bytes(),
            "bad_json",
        ),
        2 => (
            vec![b'{', 0xff, 0xfe, 0xfd, (i % 200) as u8],
            "invalid_utf8",
        ),
        3 => {
            let text = "9".repeat(limit + i);
            (
                format!("{{\"text\": \"{text}\"}}").into_bytes(),
                "oversized",
            )
        }
        4 => {
            let r = RequestResult::new(&request(&format!("wrong-{i}"), "x"), Status::Ok, "c");
            (avro::encode_result(&r).unwrap(), "unknown_schema")
        }
        _ => (Vec::new(), "empty"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_malformed_messages_land_in_the_dlq_and_valid_ones_still_get_results() {
    let mut config = test_config("dlq");
    config.pipeline.max_message_bytes = 2048;
    let limit = config.pipeline.max_message_bytes;
    let pipeline = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = producer(&config);
    let topic = config.kafka.topics.requests.clone();

    let mut expected_bad: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut expected_kinds: HashMap<&str, usize> = HashMap::new();
    let mut valid_ids = Vec::new();
    let mut sends = Vec::new();
    for i in 0..1000 {
        let (bytes, kind) = malformed(i, limit);
        *expected_bad.entry(bytes.clone()).or_default() += 1;
        *expected_kinds.entry(kind).or_default() += 1;
        sends.push((format!("bad-{i}"), bytes));
        if i % 5 == 0 {
            let id = format!("good-{i}");
            let req = request(&id, &format!("Calculate {i} + 1"));
            sends.push((id.clone(), avro::encode_request(&req).unwrap()));
            valid_ids.push(id);
        }
    }
    let futures = sends
        .iter()
        .map(|(key, bytes)| produce_raw(&producer, &topic, key, bytes));
    futures::future::join_all(futures).await;

    let results = waiter.wait_for(&valid_ids, WAIT).await;
    assert_eq!(
        results.len(),
        valid_ids.len(),
        "every valid request interleaved with bad ones gets a result"
    );
    for (id, r) in &results {
        let i: i64 = id.trim_start_matches("good-").parse().unwrap();
        assert_eq!(
            r.value.as_deref(),
            Some((i + 1).to_string().as_str()),
            "{r:?}"
        );
    }

    let letters = read_topic(&config, &config.kafka.topics.dlq, 1000, WAIT).await;
    assert_eq!(
        letters.len(),
        1000,
        "all malformed messages are dead-lettered"
    );
    let mut kinds: HashMap<String, usize> = HashMap::new();
    let mut seen_keys = HashSet::new();
    for m in &letters {
        let letter = avro::decode_dead_letter(rdkafka::Message::payload(m).unwrap()).unwrap();
        assert_eq!(letter.topic, topic);
        assert!(!letter.message.is_empty());
        let left = expected_bad
            .get_mut(&letter.original)
            .expect("original bytes are kept exactly");
        *left -= 1;
        *kinds.entry(letter.error_kind.clone()).or_default() += 1;
        let key = String::from_utf8(letter.original_key.clone().unwrap()).unwrap();
        assert!(
            key.starts_with("bad-"),
            "the original key travels with the letter"
        );
        assert!(seen_keys.insert(key), "no message is dead-lettered twice");
    }
    assert!(expected_bad.values().all(|n| *n == 0));
    for (kind, n) in expected_kinds {
        assert_eq!(
            kinds.get(kind).copied().unwrap_or(0),
            n,
            "dead letters of kind {kind}"
        );
    }

    pipeline.stop().await;
    assert_committed_to_end(&config, sends.len()).await;
}

/// After a graceful stop, the group's committed offset of every partition is one past the
/// last record in it: the pipeline committed past everything it consumed, bad input included.
async fn assert_committed_to_end(
    config: &volcano_connectors::config::VolcanoConfig,
    records: usize,
) {
    let topic = &config.kafka.topics.requests;
    let all = read_topic(config, topic, records, WAIT).await;
    assert_eq!(all.len(), records);
    let mut last: HashMap<i32, i64> = HashMap::new();
    for m in &all {
        let e = last.entry(rdkafka::Message::partition(m)).or_insert(-1);
        *e = (*e).max(rdkafka::Message::offset(m));
    }
    let mut cc = volcano_connectors::kafka::client_config(config);
    cc.set("group.id", &config.pipeline.group_id);
    let consumer: BaseConsumer = cc.create().unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in last.keys() {
        tpl.add_partition(topic, *p);
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .unwrap();
    for e in committed.elements() {
        assert_eq!(
            e.offset(),
            Offset::Offset(last[&e.partition()] + 1),
            "partition {} committed past its last record",
            e.partition()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_pipeline_loses_no_request_and_repeats_no_different_result() {
    let config = test_config("restart");
    let first = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = producer(&config);
    let topic = config.kafka.topics.requests.clone();
    let ids: Vec<String> = (0..600).map(|i| format!("r-{i}")).collect();
    for (i, id) in ids.iter().enumerate().take(300) {
        let bytes = avro::encode_request(&request(id, &format!("Calculate {i} * 2"))).unwrap();
        produce_raw(&producer, &topic, id, &bytes).await;
    }
    // Stop mid-stream: some of the first half may be in flight.
    first.stop().await;
    for (i, id) in ids.iter().enumerate().skip(300) {
        let bytes = avro::encode_request(&request(id, &format!("Calculate {i} * 2"))).unwrap();
        produce_raw(&producer, &topic, id, &bytes).await;
    }
    let second = RunningPipeline::start(&config).await;
    let results = waiter.wait_for(&ids, WAIT).await;
    assert_eq!(
        results.len(),
        ids.len(),
        "every request is answered across the restart"
    );
    second.stop().await;

    // Redelivered requests may be answered twice, but never differently.
    let by_id = one_answer_each(&read_results(&config, Duration::from_secs(5)).await);
    assert_eq!(by_id.len(), ids.len());
}

/// Requests that decode but cannot be answered: each gets an error result, through the broker,
/// whose kind and message say what is wrong, and the pipeline goes on answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_error_results_that_say_what_is_wrong() {
    let config = test_config("bad-input");
    let pipeline = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = producer(&config);
    let topic = &config.kafka.topics.requests;

    let deep = |n: usize| format!("Calculate {}1{}", "(".repeat(n), ")".repeat(n));
    // (id, text, what the message must mention)
    let cases: Vec<(&str, String, &str)> = vec![
        ("empty", String::new(), "empty"),
        ("blank", "   \t ".into(), "empty"),
        ("control", "Calculate 4\u{0} + 2\u{7}".into(), "control"),
        // Over the 4 KiB text limit but inside the 64 KiB message limit: answered, not dead-lettered.
        (
            "too-long",
            format!("Calculate 1 + {}", "1 + ".repeat(5_000)),
            "limit",
        ),
        ("nested-10000", deep(10_000), "limit"),
        ("nested-1000", deep(1_000), "nest"),
        ("div-zero", "Calculate 10 / 0".into(), "zero"),
        ("overflow", "Calculate 10 ^ 100000".into(), "large"),
        (
            "digits-5000",
            format!("Calculate {} + 1", "9".repeat(5_000)),
            "limit",
        ),
        (
            "digits-100",
            format!("Calculate {} + 1", "9".repeat(100)),
            "digits",
        ),
        (
            "unit",
            "convert 5 florps to miles".into(),
            "unknown unit 'florp'",
        ),
        ("currency", "convert 100 XQZ to EUR".into(), "XQZ"),
    ];
    for (id, text, _) in &cases {
        let encoded = avro::encode_request(&request(id, text)).unwrap();
        produce_raw(&producer, topic, id, &encoded).await;
    }
    // A good request after all of them is still answered.
    let good = avro::encode_request(&request("good-after", "Calculate 42 + 58")).unwrap();
    produce_raw(&producer, topic, "good-after", &good).await;

    let mut ids: Vec<String> = cases.iter().map(|(id, _, _)| id.to_string()).collect();
    ids.push("good-after".into());
    let results = waiter.wait_for(&ids, WAIT).await;
    for (id, _, mentions) in &cases {
        let Some(result) = results.get(*id) else {
            panic!("no result for {id}; got {:?}", results.keys());
        };
        assert_ne!(result.status, Status::Ok, "{id}: {result:?}");
        let message = result
            .error_message
            .clone()
            .unwrap_or_else(|| result.answer.clone());
        assert!(
            result.error_kind.is_some(),
            "{id} has an error kind: {result:?}"
        );
        assert!(
            message.to_lowercase().contains(&mentions.to_lowercase()),
            "{id}: '{message}' should mention '{mentions}'"
        );
    }
    assert_eq!(results["good-after"].value.as_deref(), Some("100"));
    pipeline.stop().await;
}

/// The pipeline measures how old each request is when it reads it, from the record's Kafka
/// timestamp: a request stamped two minutes ago adds at least two minutes to the histogram.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_s_age_is_measured_from_its_kafka_timestamp() {
    let config = test_config("record-age");
    let pipeline = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = producer(&config);
    let age = &volcano_connectors::metrics::METRICS.record_age_seconds;
    // Other tests of this binary add their own records' ages, never less than zero.
    let sum_before = age.get_sample_sum();
    let count_before = age.get_sample_count();
    let stamped = chrono::Utc::now().timestamp_millis() - 120_000;
    let bytes = avro::encode_request(&request("old-1", "Calculate 1 + 1")).unwrap();
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&config.kafka.topics.requests)
                .key("old-1")
                .payload(&bytes)
                .timestamp(stamped),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("produce");
    let results = waiter.wait_for(&["old-1".to_string()], WAIT).await;
    assert_eq!(results["old-1"].value.as_deref(), Some("2"));
    assert!(age.get_sample_count() > count_before);
    let added = age.get_sample_sum() - sum_before;
    assert!(added >= 120.0, "ages added: {added} s");
    pipeline.stop().await;
}

/// A producer names Volcano's own topics, or a name the operator's pattern refuses, as its
/// reply topic: each request gets an `ERROR` result that says why, nothing is written to
/// those topics, and the requests after it are answered and committed past.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_topic_of_volcano_s_own_is_refused_and_nothing_stalls() {
    let mut config = test_config("reply");
    config.pipeline.reply_topic_pattern = r"^replies\.".into();
    let pipeline = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = producer(&config);
    let topics = config.kafka.topics.clone();
    let mut sends = Vec::new();
    for (id, reply) in [
        ("into-commits", topics.commits.as_str()),
        ("into-requests", topics.requests.as_str()),
        ("outside-pattern", "elsewhere"),
    ] {
        let mut r = request(id, "Calculate 42 + 58");
        r.reply_topic = Some(reply.to_string());
        sends.push(r);
    }
    sends.push(request("after", "Calculate 1 + 1"));
    for r in &sends {
        produce_raw(
            &producer,
            &topics.requests,
            &r.id,
            &avro::encode_request(r).unwrap(),
        )
        .await;
    }
    let ids: Vec<String> = sends.iter().map(|r| r.id.clone()).collect();
    let results = waiter.wait_for(&ids, WAIT).await;
    for id in ["into-commits", "into-requests", "outside-pattern"] {
        let r = &results[id];
        assert_eq!(r.status, Status::Error, "{r:?}");
        assert_eq!(
            r.error_kind.as_deref(),
            Some("reply_topic_refused"),
            "{r:?}"
        );
        assert!(r.error_message.as_deref().unwrap().contains("reply_topic"));
    }
    assert_eq!(results["after"].value.as_deref(), Some("2"));
    // The commits topic holds nothing, the requests topic only what the test produced.
    let commits = read_topic(&config, &topics.commits, 1, Duration::from_secs(3)).await;
    assert!(
        commits.is_empty(),
        "{} records in the commits topic",
        commits.len()
    );
    pipeline.stop().await;
    assert_committed_to_end(&config, sends.len()).await;
}

/// A 1 MB request: its dead letter, holding the whole value, would be over the producer's
/// 1,000,000-byte limit and was retried forever, holding its partition. The letter now keeps the
/// first bytes with the value's size and SHA-256 and the record's headers, and the request
/// after it is answered and committed past.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_request_s_dead_letter_fits_and_nothing_stalls() {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::FutureRecord;
    use sha2::{Digest, Sha256};

    let config = test_config("huge");
    let pipeline = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let mut big = volcano_connectors::kafka::client_config(&config);
    big.set("message.max.bytes", "4000000");
    let big: rdkafka::producer::FutureProducer = big.create().unwrap();
    let topic = &config.kafka.topics.requests;
    // Under the broker's limit (Kafka's default `message.max.bytes`, 1,048,588) and over
    // the producer's (1,000,000): a letter that copied it whole could not be produced.
    let huge = format!("{{\"text\": \"{}\"}}", "9".repeat(1_040_000)).into_bytes();
    big.send(
        FutureRecord::to(topic)
            .key("huge")
            .payload(&huge)
            .headers(OwnedHeaders::new().insert(Header {
                key: "trace",
                value: Some("t-1"),
            })),
        Duration::from_secs(30),
    )
    .await
    .map_err(|(e, _)| e)
    .expect("the broker takes the request");
    let after = request("after-huge", "Calculate 2 + 3");
    produce_raw(
        &producer(&config),
        topic,
        "after-huge",
        &avro::encode_request(&after).unwrap(),
    )
    .await;

    let results = waiter.wait_for(&["after-huge".to_string()], WAIT).await;
    assert_eq!(results["after-huge"].value.as_deref(), Some("5"));
    let letters = read_topic(&config, &config.kafka.topics.dlq, 1, WAIT).await;
    assert_eq!(letters.len(), 1);
    let letter = avro::decode_dead_letter(rdkafka::Message::payload(&letters[0]).unwrap()).unwrap();
    assert_eq!(letter.error_kind, "oversized");
    assert_eq!(letter.original_size, huge.len() as i64);
    assert!(letter.original_truncated);
    assert_eq!(
        letter.original.len(),
        config.pipeline.dead_letter_max_original_bytes
    );
    assert_eq!(letter.original[..], huge[..letter.original.len()]);
    let sha: String = Sha256::digest(&huge)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(letter.original_sha256, sha);
    assert_eq!(letter.headers["trace"].as_ref(), b"t-1");
    pipeline.stop().await;
    assert_committed_to_end(&config, 2).await;
}

/// A reply topic the operator's pattern allows but the broker does not have: the copy is
/// refused for good. It was retried forever and held the partition's committed offset
/// behind it; now the request is dead-lettered (`reply_refused`, naming the topic), its
/// result still on the results topic, and the requests after it are answered and committed
/// past within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_topic_the_broker_does_not_have_is_dead_lettered_and_nothing_stalls() {
    let config = test_config("noreply");
    let pipeline = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = producer(&config);
    let topics = config.kafka.topics.clone();
    let missing = format!(
        "{}missing-replies",
        topics.requests.trim_end_matches("requests")
    );
    let mut nowhere = request("to-nowhere", "Calculate 42 + 58");
    nowhere.reply_topic = Some(missing.clone());
    let sends = [nowhere, request("after", "Calculate 1 + 1")];
    let started = std::time::Instant::now();
    for r in &sends {
        let bytes = avro::encode_request(r).unwrap();
        produce_raw(&producer, &topics.requests, &r.id, &bytes).await;
    }
    let ids: Vec<String> = sends.iter().map(|r| r.id.clone()).collect();
    let results = waiter.wait_for(&ids, WAIT).await;
    assert_eq!(results["to-nowhere"].value.as_deref(), Some("100"));
    assert_eq!(results["after"].value.as_deref(), Some("2"));
    let letters = read_topic(&config, &topics.dlq, 1, WAIT).await;
    assert_eq!(letters.len(), 1, "one dead letter");
    let took = started.elapsed();
    let letter = avro::decode_dead_letter(rdkafka::Message::payload(&letters[0]).unwrap()).unwrap();
    assert_eq!(letter.error_kind, "reply_refused", "{letter:?}");
    assert!(letter.message.contains(&missing), "{}", letter.message);
    assert_eq!(
        avro::decode_request(&letter.original, usize::MAX, String::new)
            .unwrap()
            .id,
        "to-nowhere"
    );
    assert!(
        took < Duration::from_secs(20),
        "dead-lettered after {took:?}"
    );
    pipeline.stop().await;
    assert_committed_to_end(&config, sends.len()).await;
}

/// A durable request whose workflow Temporal refuses for good (its id is over the server's
/// 1,000-character limit): the start was retried forever and held the partition. Now the
/// request is answered `accepted` then `ERROR` (`workflow_start_refused`, with Temporal's
/// reason), dead-lettered, and the request after it is answered and committed past.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_temporal_refuses_is_answered_with_an_error_and_nothing_stalls() {
    let config = test_config("refused");
    let pipeline = RunningPipeline::start(&config).await;
    let waiter = ResultWaiter::at_end(&config, WAIT).unwrap();
    let producer = producer(&config);
    let topic = config.kafka.topics.requests.clone();
    let long_id = format!("refused-{}", "x".repeat(1_100));
    let sends = [
        request(&long_id, "process customer data and generate report"),
        request("after", "Calculate 2 + 2"),
    ];
    for r in &sends {
        let bytes = avro::encode_request(r).unwrap();
        produce_raw(&producer, &topic, "k", &bytes).await;
    }
    let results = waiter.wait_for(&["after".to_string()], WAIT).await;
    assert_eq!(results["after"].value.as_deref(), Some("4"));
    let letters = read_topic(&config, &config.kafka.topics.dlq, 1, WAIT).await;
    assert_eq!(letters.len(), 1, "one dead letter");
    let letter = avro::decode_dead_letter(rdkafka::Message::payload(&letters[0]).unwrap()).unwrap();
    assert_eq!(letter.error_kind, "workflow_start_refused", "{letter:?}");
    // Its results, in order: accepted, then the error that ends it.
    let all = read_topic(&config, &config.kafka.topics.results, 3, WAIT).await;
    let mine: Vec<RequestResult> = all
        .iter()
        .map(|m| avro::decode_result(rdkafka::Message::payload(m).unwrap()).unwrap())
        .filter(|r| r.request_id == long_id)
        .collect();
    assert_eq!(
        mine.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Status::Accepted, Status::Error]
    );
    assert_eq!(
        mine[1].error_kind.as_deref(),
        Some("workflow_start_refused")
    );
    assert!(
        mine[1].error_message.as_deref().unwrap().contains("length"),
        "{:?}",
        mine[1].error_message
    );
    pipeline.stop().await;
    assert_committed_to_end(&config, sends.len()).await;
}

/// A client sends a session's "multiply that by 2" twice (a retry after a timeout): the
/// second copy is answered from the state store with the same bytes, and the session moves
/// once, so the next "multiply that by 3" gives 600. Before, the copy was computed again
/// from the session it had just changed (400), and the chain went on from there (1,200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sent_twice_gets_the_same_bytes_and_moves_its_session_once() {
    let config = test_config("resent");
    let pipeline = RunningPipeline::start(&config).await;
    let producer = producer(&config);
    let topic = &config.kafka.topics.requests;
    let in_session = |id: &str, text: &str| {
        let mut r = request(id, text);
        r.session_id = Some("resent-session".into());
        avro::encode_request(&r).unwrap()
    };
    let sends = [
        ("x1", "Calculate 42 + 58"),
        ("x2", "multiply that by 2"),
        ("x2", "multiply that by 2"),
        ("x3", "multiply that by 3"),
    ];
    for (id, text) in sends {
        produce_raw(&producer, topic, "resent-session", &in_session(id, text)).await;
    }
    let results = read_topic(&config, &config.kafka.topics.results, 4, WAIT).await;
    pipeline.stop().await;
    assert_eq!(results.len(), 4);
    let of = |id: &str| -> Vec<&[u8]> {
        results
            .iter()
            .filter(|m| key_of(m) == id)
            .map(|m| rdkafka::Message::payload(m).unwrap())
            .collect()
    };
    let copies = of("x2");
    assert_eq!(copies.len(), 2);
    assert_eq!(
        copies[0], copies[1],
        "the resent request's result is the same bytes"
    );
    let value = |id: &str| avro::decode_result(of(id)[0]).unwrap().value;
    assert_eq!(value("x1").as_deref(), Some("100"));
    assert_eq!(value("x2").as_deref(), Some("200"));
    assert_eq!(
        value("x3").as_deref(),
        Some("600"),
        "the session moved once"
    );
}

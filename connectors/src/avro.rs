//! Avro codecs for every topic, in Avro single-object encoding.
//!
//! Each message is `C3 01`, the schema's 8-byte Rabin fingerprint, then the Avro datum, so a
//! reader can tell which schema wrote it. The schemas are the files in `schemas/`, compiled in.
//! The requests topic also accepts JSON objects (so `kcat` users can produce by hand); anything
//! else is a [`DecodeError`] that the pipeline dead-letters with its kind.

use std::sync::LazyLock;

use apache_avro::headers::{HeaderBuilder, RabinFingerprintHeader};
use apache_avro::{Schema, from_avro_datum, from_value, write_avro_datum_ref};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use volcano_pipeline::model::{Request, RequestResult};
use volcano_pipeline::registry::CommitEvent;

pub const REQUEST_SCHEMA: &str = include_str!("../../schemas/Request.avsc");
pub const RESULT_SCHEMA: &str = include_str!("../../schemas/Result.avsc");
pub const DEAD_LETTER_SCHEMA: &str = include_str!("../../schemas/DeadLetter.avsc");
/// The dead letters written before `original_size`, `original_sha256`, `original_truncated`
/// and `headers`: still on the topic, read through schema resolution.
pub const DEAD_LETTER_SCHEMA_V1: &str = include_str!("../../schemas/history/DeadLetter-1.avsc");
pub const COMMIT_EVENT_SCHEMA: &str = include_str!("../../schemas/CommitEvent.avsc");

/// Largest allocation the Avro decoder may make for one field: a malformed length prefix must
/// not make the pipeline allocate gigabytes.
const MAX_AVRO_ALLOCATION: usize = 16 * 1024 * 1024;

/// A parsed schema and its single-object header, and the earlier versions of the schema it
/// still reads (records written by an earlier release stay on their topics).
pub struct Codec {
    pub schema: Schema,
    pub header: [u8; 10],
    pub name: &'static str,
    earlier: Vec<([u8; 10], Schema)>,
}

impl Codec {
    fn new(name: &'static str, text: &str) -> Codec {
        Self::with_history(name, text, &[])
    }

    /// A codec that also reads records written with the `earlier` schemas, resolving them to
    /// this one (fields added since take their defaults).
    fn with_history(name: &'static str, text: &str, earlier: &[&str]) -> Codec {
        apache_avro::util::max_allocation_bytes(MAX_AVRO_ALLOCATION);
        // The schemas are compiled in and covered by tests: failing here is a build defect.
        let parse = |text: &str| -> (Schema, [u8; 10]) {
            let schema = Schema::parse_str(text).unwrap_or_else(|e| panic!("schema {name}: {e}"));
            let header: [u8; 10] = RabinFingerprintHeader::from_schema(&schema)
                .build_header()
                .try_into()
                .expect("single-object header is 10 bytes");
            (schema, header)
        };
        let (schema, header) = parse(text);
        let earlier = earlier
            .iter()
            .map(|text| {
                let (schema, header) = parse(text);
                (header, schema)
            })
            .collect();
        Codec {
            schema,
            header,
            earlier,
            name,
        }
    }

    /// Encodes a serde value with this schema, as a single-object message. The value is
    /// written straight from serde against the schema, with no intermediate Avro `Value`
    /// (whose schema resolution was a tenth of the pipeline's CPU per request).
    pub fn encode<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&self.header);
        write_avro_datum_ref(&self.schema, value, &mut out).map_err(|e| EncodeError {
            schema: self.name,
            message: e.to_string(),
        })?;
        Ok(out)
    }

    /// Decodes a single-object message written with this schema.
    pub fn decode<T: for<'de> Deserialize<'de>>(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let earlier = self
            .earlier
            .iter()
            .find_map(|(header, schema)| Some((bytes.strip_prefix(&header[..])?, schema)));
        let (body, writer) = match bytes.strip_prefix(&self.header[..]) {
            Some(body) => (Some(body), None),
            None => match earlier {
                Some((body, schema)) => (Some(body), Some(schema)),
                None => (None, None),
            },
        };
        let Some(body) = body else {
            return Err(
                if bytes.starts_with(&SINGLE_OBJECT_MAGIC) && bytes.len() >= 10 {
                    DecodeError::UnknownSchema {
                        expected: self.name,
                        found: describe_fingerprint(&bytes[2..10]),
                    }
                } else {
                    DecodeError::BadAvro(format!(
                        "not an Avro single-object message of {} (no C3 01 header)",
                        self.name
                    ))
                },
            );
        };
        let mut reader = body;
        let value = match writer {
            // Written with an earlier version: resolved to this one.
            Some(writer) => from_avro_datum(writer, &mut reader, Some(&self.schema)),
            None => from_avro_datum(&self.schema, &mut reader, None),
        }
        .map_err(|e| DecodeError::BadAvro(e.to_string()))?;
        if !reader.is_empty() {
            return Err(DecodeError::BadAvro(format!(
                "{} trailing bytes after the {} datum",
                reader.len(),
                self.name
            )));
        }
        from_value(&value).map_err(|e| DecodeError::BadAvro(e.to_string()))
    }
}

const SINGLE_OBJECT_MAGIC: [u8; 2] = [0xC3, 0x01];

pub static REQUEST: LazyLock<Codec> = LazyLock::new(|| Codec::new("Request", REQUEST_SCHEMA));
pub static RESULT: LazyLock<Codec> = LazyLock::new(|| Codec::new("Result", RESULT_SCHEMA));
pub static DEAD_LETTER: LazyLock<Codec> = LazyLock::new(|| {
    Codec::with_history("DeadLetter", DEAD_LETTER_SCHEMA, &[DEAD_LETTER_SCHEMA_V1])
});
pub static COMMIT_EVENT: LazyLock<Codec> =
    LazyLock::new(|| Codec::new("CommitEvent", COMMIT_EVENT_SCHEMA));

/// Names a fingerprint: one of ours (written to the wrong topic) or an unknown one.
fn describe_fingerprint(fp: &[u8]) -> String {
    for codec in [&*REQUEST, &*RESULT, &*DEAD_LETTER, &*COMMIT_EVENT] {
        if codec.header[2..] == *fp {
            return format!("the {} schema", codec.name);
        }
    }
    let hex: String = fp.iter().map(|b| format!("{b:02x}")).collect();
    format!("unknown fingerprint {hex}")
}

/// Why a message could not be turned into a record. The kind travels to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message is empty")]
    Empty,
    #[error("message is {size} bytes, over the {limit}-byte limit")]
    Oversized { size: usize, limit: usize },
    #[error("invalid Avro: {0}")]
    BadAvro(String),
    #[error("wrong schema: expected {expected}, found {found}")]
    UnknownSchema {
        expected: &'static str,
        found: String,
    },
    #[error("invalid JSON request: {0}")]
    BadJson(String),
    #[error("invalid UTF-8 at byte {position}: neither Avro nor JSON")]
    InvalidUtf8 { position: usize },
    #[error("unrecognised message: neither Avro single-object (C3 01 ...) nor a JSON object")]
    Unrecognised,
}

impl DecodeError {
    /// Stable snake_case kind for the dead letter and the metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::Oversized { .. } => "oversized",
            DecodeError::BadAvro(_) => "bad_avro",
            DecodeError::UnknownSchema { .. } => "unknown_schema",
            DecodeError::BadJson(_) => "bad_json",
            DecodeError::InvalidUtf8 { .. } => "invalid_utf8",
            DecodeError::Unrecognised => "unrecognised",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot encode {schema}: {message}")]
pub struct EncodeError {
    pub schema: &'static str,
    pub message: String,
}

/// A request as `kcat` users write it: only `text` is required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    id: Option<String>,
    tenant: Option<String>,
    session_id: Option<String>,
    text: String,
    submitted_at: Option<i64>,
    reply_topic: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
}

/// Decodes a message from the requests topic: Avro single-object or a JSON object.
///
/// `fallback_id` names a JSON request that has no `id`; the caller derives it from the
/// record's partition and offset so a redelivery gets the same id.
pub fn decode_request(
    bytes: &[u8],
    limit: usize,
    fallback_id: impl FnOnce() -> String,
) -> Result<Request, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > limit {
        return Err(DecodeError::Oversized {
            size: bytes.len(),
            limit,
        });
    }
    if bytes.starts_with(&SINGLE_OBJECT_MAGIC) {
        return REQUEST.decode(bytes);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
        position: e.valid_up_to(),
    })?;
    if !text.trim_start().starts_with('{') {
        return Err(DecodeError::Unrecognised);
    }
    let json: JsonRequest =
        serde_json::from_str(text).map_err(|e| DecodeError::BadJson(e.to_string()))?;
    Ok(Request {
        id: json
            .id
            .filter(|s| !s.is_empty())
            .unwrap_or_else(fallback_id),
        tenant: json
            .tenant
            .filter(|s| !s.is_empty())
            .unwrap_or_else(volcano_pipeline::model::default_tenant),
        session_id: json.session_id,
        text: json.text,
        submitted_at: json.submitted_at.unwrap_or(0),
        reply_topic: json.reply_topic,
        headers: json.headers,
    })
}

pub fn encode_request(request: &Request) -> Result<Vec<u8>, EncodeError> {
    REQUEST.encode(request)
}

pub fn encode_result(result: &RequestResult) -> Result<Vec<u8>, EncodeError> {
    RESULT.encode(result)
}

pub fn decode_result(bytes: &[u8]) -> Result<RequestResult, DecodeError> {
    RESULT.decode(bytes)
}

/// A message that could not be processed, kept in `volcano.dlq`: whole, or its first bytes
/// with its size and SHA-256 when it is too large for a record of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    #[serde(with = "apache_avro::serde_avro_bytes")]
    pub original: Vec<u8>,
    #[serde(with = "apache_avro::serde_avro_bytes_opt")]
    pub original_key: Option<Vec<u8>>,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub error_kind: String,
    pub message: String,
    pub failed_at: i64,
    /// Size of the whole original value; 0 in letters of the first schema.
    #[serde(default)]
    pub original_size: i64,
    /// SHA-256 of the whole original value, lowercase hex.
    #[serde(default)]
    pub original_sha256: String,
    /// `original` holds only the first bytes of the value.
    #[serde(default)]
    pub original_truncated: bool,
    /// The original record's headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, ByteBuf>,
}

pub fn encode_dead_letter(letter: &DeadLetter) -> Result<Vec<u8>, EncodeError> {
    DEAD_LETTER.encode(letter)
}

pub fn decode_dead_letter(bytes: &[u8]) -> Result<DeadLetter, DecodeError> {
    DEAD_LETTER.decode(bytes)
}

/// A commit event for `volcano.commits`.
pub fn encode_commit_event(event: &CommitEvent) -> Result<Vec<u8>, EncodeError> {
    COMMIT_EVENT.encode(event)
}

pub fn decode_commit_event(bytes: &[u8]) -> Result<CommitEvent, DecodeError> {
    COMMIT_EVENT.decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use volcano_pipeline::model::{PlanStep, StageTiming, Status};

    fn request() -> Request {
        Request {
            id: "r-1".into(),
            tenant: "acme-corp".into(),
            session_id: Some("s-1".into()),
            text: "Calculate 42 + 58".into(),
            submitted_at: 1_764_000_000_000,
            reply_topic: None,
            headers: [("source".to_string(), "test".to_string())].into(),
        }
    }

    /// A dead letter of bytes that are not UTF-8, with no key.
    fn dead_letter() -> DeadLetter {
        DeadLetter {
            original: vec![0, 159, 146, 150],
            original_key: None,
            topic: "volcano.requests".into(),
            partition: 2,
            offset: 41,
            error_kind: "invalid_utf8".into(),
            message: "invalid UTF-8 at byte 1".into(),
            failed_at: 5,
            original_size: 4,
            original_sha256: "ab".repeat(32),
            original_truncated: false,
            headers: [("trace".to_string(), ByteBuf::from(b"t1".to_vec()))].into(),
        }
    }

    #[test]
    fn a_dead_letter_of_the_first_schema_still_decodes() {
        // Written by an earlier release: the fields added since take their defaults.
        #[derive(Serialize)]
        struct FirstDeadLetter {
            #[serde(with = "apache_avro::serde_avro_bytes")]
            original: Vec<u8>,
            #[serde(with = "apache_avro::serde_avro_bytes_opt")]
            original_key: Option<Vec<u8>>,
            topic: String,
            partition: i32,
            offset: i64,
            error_kind: String,
            message: String,
            failed_at: i64,
        }
        let first = Codec::new("DeadLetter", DEAD_LETTER_SCHEMA_V1);
        assert_ne!(first.header, DEAD_LETTER.header);
        let bytes = first
            .encode(&FirstDeadLetter {
                original: b"old".to_vec(),
                original_key: None,
                topic: "volcano.requests".into(),
                partition: 0,
                offset: 7,
                error_kind: "bad_json".into(),
                message: "m".into(),
                failed_at: 1,
            })
            .unwrap();
        let letter = decode_dead_letter(&bytes).unwrap();
        assert_eq!(letter.original, b"old");
        assert_eq!((letter.offset, letter.original_size), (7, 0));
        assert!(letter.headers.is_empty() && !letter.original_truncated);
        // A letter of the current schema round-trips with its new fields.
        let now = dead_letter();
        assert_eq!(
            decode_dead_letter(&encode_dead_letter(&now).unwrap()).unwrap(),
            now
        );
    }

    #[test]
    fn every_schema_parses_and_has_a_distinct_fingerprint() {
        let headers = [
            REQUEST.header,
            RESULT.header,
            DEAD_LETTER.header,
            COMMIT_EVENT.header,
        ];
        for (i, a) in headers.iter().enumerate() {
            assert_eq!(&a[..2], &SINGLE_OBJECT_MAGIC);
            for b in &headers[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn request_round_trips_through_single_object_encoding() {
        let bytes = encode_request(&request()).unwrap();
        assert_eq!(&bytes[..10], &REQUEST.header);
        let back = decode_request(&bytes, 1 << 16, || unreachable!()).unwrap();
        assert_eq!(back, request());
    }

    #[test]
    fn commit_event_round_trips_with_its_signed_bytes() {
        use volcano_pipeline::registry::{CommitEventKind, PathChange};
        for kind in [
            CommitEventKind::Commit,
            CommitEventKind::ForcePush,
            CommitEventKind::BranchDeleted,
        ] {
            let event = CommitEvent {
                kind,
                commit_id: "a".repeat(40),
                parent: Some("b".repeat(40)),
                branch: "customer/acme-corp".into(),
                author: "Ann <ann@example.com>".into(),
                committer: "Bob <bob@example.com>".into(),
                time: 1_764_000_000_000,
                message: "Add a tool".into(),
                signature: Some("-----BEGIN SSH SIGNATURE-----\nabc\n".into()),
                signed_payload: Some(vec![0, 159, 146, 150, 255]),
                changes: vec![
                    PathChange {
                        path: "tools/a.yaml".into(),
                        content: Some("version: 1\n".into()),
                    },
                    PathChange {
                        path: "tools/b.yaml".into(),
                        content: None,
                    },
                ],
            };
            let bytes = encode_commit_event(&event).unwrap();
            assert_eq!(&bytes[..10], &COMMIT_EVENT.header);
            assert_eq!(decode_commit_event(&bytes).unwrap(), event);
        }
    }

    #[test]
    fn result_round_trips() {
        let mut r = RequestResult::new(&request(), Status::Ok, "abc123");
        r.value = Some("100".into());
        r.answer = "42 + 58 = 100".into();
        r.plan.push(PlanStep {
            index: 0,
            tool: "calculator".into(),
            operation: "evaluate".into(),
            inputs: vec!["42 + 58".into()],
            output: Some("100".into()),
        });
        r.timings.push(StageTiming {
            stage: "execute".into(),
            micros: 3,
        });
        r.produced_at = 1_764_000_000_123;
        let back = decode_result(&encode_result(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    /// The encoding through Avro's generic `Value`, resolved against the schema: how records
    /// were written before the direct serde writer, and what any Avro library reads.
    fn reference_encoding<T: Serialize>(codec: &Codec, value: &T) -> Vec<u8> {
        let avro = apache_avro::to_value(value)
            .and_then(|v| v.resolve(&codec.schema))
            .unwrap();
        let datum = apache_avro::to_avro_datum(&codec.schema, avro).unwrap();
        [&codec.header[..], &datum].concat()
    }

    #[test]
    fn the_direct_writer_writes_the_same_bytes_as_avro_values() {
        let mut full = RequestResult::new(&request(), Status::Accepted, "abc123");
        full.value = Some("3.11".into());
        full.unit = Some("mile".into());
        full.plan.push(PlanStep {
            index: 1,
            tool: "unit_converter".into(),
            operation: "convert".into(),
            inputs: vec!["5".into(), "km".into(), "$0".into()],
            output: None,
        });
        full.timings.push(StageTiming {
            stage: "classify".into(),
            micros: 12,
        });
        full.matched_rule = Some("convert".into());
        full.tool = Some("unit_converter".into());
        full.route = Some("durable: report".into());
        full.error_kind = Some("division_by_zero".into());
        full.error_message = Some("cannot divide by zero".into());
        full.workflow_id = Some("r-1".into());
        full.current_commit = Some("def456".into());
        full.produced_at = 1_764_000_000_123;
        for status in [
            Status::Ok,
            Status::Error,
            Status::Unclassified,
            Status::Accepted,
        ] {
            let mut r = full.clone();
            r.status = status;
            assert_eq!(encode_result(&r).unwrap(), reference_encoding(&RESULT, &r));
        }
        let bare = RequestResult::new(&request(), Status::Ok, "");
        assert_eq!(
            encode_result(&bare).unwrap(),
            reference_encoding(&RESULT, &bare)
        );
        let mut plain = request();
        plain.session_id = None;
        plain.headers.clear();
        plain.reply_topic = Some("replies".into());
        for r in [request(), plain] {
            assert_eq!(
                encode_request(&r).unwrap(),
                reference_encoding(&REQUEST, &r)
            );
        }
        let letter = DeadLetter {
            original_key: Some(b"k".to_vec()),
            ..dead_letter()
        };
        assert_eq!(
            encode_dead_letter(&letter).unwrap(),
            reference_encoding(&DEAD_LETTER, &letter)
        );
    }

    #[test]
    fn json_requests_are_accepted_with_defaults() {
        let r =
            decode_request(br#"{"text":"Calculate 1 + 2"}"#, 1 << 16, || "p0-o7".into()).unwrap();
        assert_eq!(r.id, "p0-o7");
        assert_eq!(r.tenant, "main");
        assert_eq!(r.text, "Calculate 1 + 2");
    }

    #[test]
    fn bad_input_is_classified() {
        let kind = |b: &[u8]| decode_request(b, 64, || "x".into()).unwrap_err().kind();
        assert_eq!(kind(b""), "empty");
        assert_eq!(kind(&[b'{'; 65]), "oversized");
        assert_eq!(kind(b"{\"text\": 3}"), "bad_json");
        assert_eq!(kind(b"{\"txt\": \"a\"}"), "bad_json");
        assert_eq!(kind(&[0xff, 0xfe, b'{']), "invalid_utf8");
        assert_eq!(kind(b"hello"), "unrecognised");
        assert_eq!(kind(&[0xC3, 0x01, 1, 2]), "bad_avro");
        let mut truncated = encode_request(&request()).unwrap();
        truncated.truncate(truncated.len() - 3);
        assert_eq!(
            decode_request(&truncated, 1 << 16, || "x".into())
                .unwrap_err()
                .kind(),
            "bad_avro"
        );
        let result = encode_result(&RequestResult::new(&request(), Status::Ok, "c")).unwrap();
        let err = decode_request(&result, 1 << 16, || "x".into()).unwrap_err();
        assert_eq!(err.kind(), "unknown_schema");
        assert!(err.to_string().contains("Result schema"), "{err}");
    }

    #[test]
    fn a_huge_length_prefix_is_refused_not_allocated() {
        // A string field claiming ~1 TB must fail cleanly.
        let mut bytes = REQUEST.header.to_vec();
        bytes.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0x3f]);
        assert_eq!(
            decode_request(&bytes, 1 << 16, || "x".into())
                .unwrap_err()
                .kind(),
            "bad_avro"
        );
    }

    #[test]
    fn dead_letters_keep_the_original_bytes() {
        let letter = dead_letter();
        assert_eq!(
            decode_dead_letter(&encode_dead_letter(&letter).unwrap()).unwrap(),
            letter
        );
    }
}

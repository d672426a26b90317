//! Volcano's connectors: everything that talks to the outside world.
//!
//! - [`config`]: typed configuration with defaults for the embedded stack.
//! - [`avro`]: single-object Avro codecs for every topic, and JSON requests.
//! - [`kafka`]: client configuration, topic creation, the offset tracker.
//! - [`instance`]: one `volcano run`: watcher, materializer and pipeline, started in order.
//! - [`pipeline_role`]: the consumer loop that answers requests and stores offsets after acks.
//! - [`metrics`]: Prometheus metrics and their `/metrics` endpoint.
//! - [`partition_watch`]: the requests group's lag, stalled partitions, the pipeline's `/readyz`.
//! - [`faults`]: which failures are retried (with backoff) and which dead-letter a request.
//! - [`reply`]: which `reply_topic` a request may name.
//! - [`git_registry`]: the watcher (git → commits topic) and the materializer (commits topic →
//!   RocksDB → the compiled registry the fast path reads).
//! - [`registry_files`]: the registry fed from the config repository's files.
//! - [`http_client`]: the network side of the `http` tool kind (allow-listed hosts only).
//! - [`client`]: produce a request and wait for its result (`volcano send`).
//! - [`durable`]: the durable path on Temporal: workflow starts, the worker, control.
//! - [`ingress`]: the REST API: API keys, rate limits and quotas, execute-and-wait, stored
//!   results, workflow control.
//!
//! No business logic lives here: answers come from `volcano-pipeline`.

pub mod avro;
pub mod client;
pub mod config;
pub mod config_source;
pub mod durable;
pub mod faults;
pub mod git_registry;
pub mod http_client;
pub mod ingress;
pub mod instance;
pub mod kafka;
pub mod metrics;
pub mod partition_watch;
pub mod pipeline_role;
pub mod registry_files;
pub mod reply;
pub mod state_store;

//! The materialized registry: commit events of the config repository applied to RocksDB,
//! validated commit by commit, and compiled per tenant on demand.
//!
//! The connectors crate consumes `volcano.commits` and hands each
//! [`CommitEvent`](volcano_pipeline::registry::CommitEvent) with its partition and offset to
//! [`Store::apply`]; after an [`ApplyOutcome::Applied`] it swaps the affected tenants'
//! compiled registries ([`Store::refresh`]). A replay from git uses [`Store::apply_batch`]
//! without offsets. This crate does no Kafka, git or async IO.
//!
//! Per branch (`main`, `customer/<tenant>`) the store keeps the *head* files (the newest
//! commit seen) and the *served* files (the last commit that validated). A commit applies its
//! changes to the head; the resulting files are validated with the pipeline's own checks
//! (`volcano_pipeline::registry`), only the changed files being parsed again; a valid and
//! properly signed commit becomes the served state, an invalid one is rejected and audited
//! while the branch keeps serving. Modules: `store` (the API), `state` (the in-memory mirror
//! and incremental validation), `parses` (the parse cache, and a batch's files parsed on
//! every core), `signing` (SSH commit signatures), `codec` (RocksDB layout).

mod codec;
mod error;
mod parses;
mod signing;
mod state;
mod store;

pub use codec::COLUMN_FAMILIES;
pub use error::StoreError;
pub use signing::{GIT_NAMESPACE, check_signature};
pub use store::{
    ApplyOutcome, AuditRecord, AuditResult, Durability, EntryKind, MAIN, Rejection, ShowEntry,
    Store,
};

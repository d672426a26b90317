//! The store's errors: what went wrong, where, and whether trying again can help.
//!
//! A rejected commit is not an error (it is an [`crate::ApplyOutcome::Rejected`]); these are
//! failures of the store itself (RocksDB, a record it cannot read back) and requests for a
//! tenant it cannot serve.

use std::path::PathBuf;

use volcano_pipeline::registry::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed (open, write, read). Nothing of the failed call was applied.
    #[error("rocksdb at {}: {source}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    /// A stored record does not decode: the directory was written by something else, or is
    /// damaged.
    #[error("corrupt record in column family `{cf}`: {what}")]
    Corrupt { cf: &'static str, what: String },
    /// No branch `customer/<tenant>` is served (it never had a valid commit, or was deleted).
    #[error("tenant `{0}` has no served branch")]
    UnknownTenant(String),
    /// The served definitions of a tenant do not load or compile (e.g. a `main` commit removed
    /// a tool the tenant's workflows use): its previous compiled registry should stay in use.
    #[error(
        "registry of tenant `{tenant}` does not compile:\n{}",
        show(diagnostics)
    )]
    Compile {
        tenant: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl StoreError {
    /// Whether the same call may succeed later (a RocksDB IO error may; the rest will not
    /// until something changes).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Db { .. })
    }
}

pub(crate) fn show(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

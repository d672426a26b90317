//! Reads the config repository with gix: creating it from `repos/` ([`init_repo`]), turning
//! branch history into [`CommitEvent`]s ([`ConfigRepo::pending_events`]) and noticing when a
//! branch moves ([`RefWatcher`]).
//!
//! Behaviour lives in git: branch `main` holds the definitions every tenant sees and
//! `customer/<tenant>` holds one tenant's overlay ([`BranchLayout`]). A branch's registry state
//! is the set of files under `tools/`, `workflows/` and `configs/` at its tip. The connectors
//! crate drives this crate: it waits on a [`RefWatcher`], asks [`ConfigRepo::pending_events`]
//! for what it has not published yet, produces those events to `volcano.commits` and records
//! each published commit ([`mark_published`]). Nothing here touches Kafka, RocksDB or an async
//! runtime.
//!
//! [`CommitEvent`]: volcano_pipeline::registry::CommitEvent

mod events;
mod init;
mod signature;
mod watcher;

use std::path::PathBuf;

pub use events::{ConfigRepo, history_events, mark_published, pending_events};
pub use init::{AUTHOR, BranchSummary, InitSummary, init_repo};
pub use signature::split_signature;
/// The branch names, shared with the store that serves them.
pub use volcano_pipeline::registry::BranchLayout;
pub use watcher::{DEFAULT_POLL_INTERVAL, RefWatcher, WatchOptions};

/// The directories whose files make up a branch's registry state, in git's tree order.
pub const DEFINITION_DIRS: [&str; 3] = ["configs", "tools", "workflows"];

/// What can go wrong reading or creating the config repository.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The repository could not be opened (missing, not a git repository, bad config).
    #[error("cannot open the config repository at {path}: {source:#}")]
    Open {
        path: PathBuf,
        #[source]
        source: gix::Error,
    },
    /// A git read or write failed: a ref, an object, the index.
    #[error("{context}: {source:#}")]
    Git {
        context: String,
        #[source]
        source: gix::Error,
    },
    /// The repository holds something this crate cannot read as a registry (a branch that
    /// does not point at a commit, a corrupt object).
    #[error("{0}")]
    Malformed(String),
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `init_repo` was pointed at a non-empty directory that is not a config repository.
    #[error(
        "{0} is not empty and is not a git repository with a main branch; refusing to initialise it"
    )]
    TargetNotEmpty(PathBuf),
    /// The content directory given to `init_repo` is not laid out as `repos/` is.
    #[error("content directory {path}: {message}")]
    Content { path: PathBuf, message: String },
}

impl GitError {
    /// Whether trying again later can help: reads can race with `git gc` or a ref lock,
    /// whereas a refused target or a malformed repository stays wrong until someone acts.
    pub fn is_retryable(&self) -> bool {
        matches!(self, GitError::Git { .. } | GitError::Io { .. })
    }

    pub(crate) fn git(context: impl Into<String>, source: gix::Error) -> Self {
        GitError::Git {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GitError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use volcano_pipeline::registry::CommitEvent;

    #[test]
    fn definition_dirs_are_what_the_registry_reads() {
        for dir in DEFINITION_DIRS {
            assert!(CommitEvent::is_definition_path(&format!("{dir}/x.yaml")));
        }
        let mut sorted = DEFINITION_DIRS;
        sorted.sort();
        assert_eq!(sorted, DEFINITION_DIRS, "kept in git tree order");
    }
}

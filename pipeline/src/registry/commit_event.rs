//! The commit event: one change to a branch of the config repository, as the watcher
//! publishes it to `volcano.commits` (schema `schemas/CommitEvent.avsc`) and the
//! materializer applies it.
//!
//! A branch's state is the set of definition files at its tip (`tools/`, `workflows/`,
//! `configs/`). A `Commit` event carries the files that changed against the commit's first
//! parent; a `ForcePush` carries every definition file of the new tip and replaces the
//! branch's state; `BranchDeleted` removes it. Replaying a branch's events in order rebuilds
//! its state exactly.

use serde::{Deserialize, Serialize};

/// What happened to the branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommitEventKind {
    /// A new commit on the branch; `changes` are relative to its first parent.
    #[default]
    Commit,
    /// The branch moved to a commit that does not descend from the last one published;
    /// `changes` hold the whole tree of the new tip.
    ForcePush,
    /// The branch is gone; `changes` is empty.
    BranchDeleted,
}

/// One changed path: its new content, or `None` when it was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathChange {
    /// Path relative to the repository root, e.g. `tools/calculator.yaml`.
    pub path: String,
    pub content: Option<String>,
}

/// One event of `volcano.commits`, keyed by branch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommitEvent {
    pub kind: CommitEventKind,
    /// Hex object id of the commit (empty for `BranchDeleted`).
    pub commit_id: String,
    /// First parent's hex id; `None` for a root commit.
    pub parent: Option<String>,
    /// `main` or `customer/<tenant>`.
    pub branch: String,
    /// `Name <email>`.
    pub author: String,
    pub committer: String,
    /// Commit time, milliseconds since the Unix epoch.
    pub time: i64,
    pub message: String,
    /// The commit's `gpgsig` header, verbatim (an SSH signature in sshsig armour).
    pub signature: Option<String>,
    /// The commit object without its `gpgsig` header: the bytes the signature covers.
    #[serde(with = "optional_bytes")]
    pub signed_payload: Option<Vec<u8>>,
    /// Changed paths under `tools/`, `workflows/` and `configs/`.
    pub changes: Vec<PathChange>,
}

impl CommitEvent {
    /// The tenant a branch serves: `main` for `main`, `acme-corp` for `customer/acme-corp`,
    /// `None` for a branch that is neither.
    pub fn tenant_of(branch: &str) -> Option<&str> {
        if branch == "main" {
            return Some("main");
        }
        branch
            .strip_prefix("customer/")
            .filter(|t| !t.is_empty() && !t.contains('/'))
    }

    /// Whether a path is a definition file the registry reads.
    pub fn is_definition_path(path: &str) -> bool {
        ["tools/", "workflows/", "configs/"]
            .iter()
            .any(|dir| path.starts_with(dir))
    }
}

/// `Option<Vec<u8>>` as bytes (Avro `bytes`), not as a sequence of integers.
mod optional_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_some(serde_bytes::Bytes::new(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<serde_bytes::ByteBuf>::deserialize(d)?.map(|b| b.into_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_come_from_branch_names() {
        assert_eq!(CommitEvent::tenant_of("main"), Some("main"));
        assert_eq!(
            CommitEvent::tenant_of("customer/acme-corp"),
            Some("acme-corp")
        );
        assert_eq!(CommitEvent::tenant_of("customer/"), None);
        assert_eq!(CommitEvent::tenant_of("customer/a/b"), None);
        assert_eq!(CommitEvent::tenant_of("feature/x"), None);
    }

    #[test]
    fn only_definition_directories_count() {
        assert!(CommitEvent::is_definition_path("tools/calculator.yaml"));
        assert!(CommitEvent::is_definition_path("configs/security.yaml"));
        assert!(!CommitEvent::is_definition_path("README.md"));
        assert!(!CommitEvent::is_definition_path("toolsx/a.yaml"));
    }
}

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
    /// Whether a path is a definition file the registry reads.
    pub fn is_definition_path(path: &str) -> bool {
        ["tools/", "workflows/", "configs/"]
            .iter()
            .any(|dir| path.starts_with(dir))
    }
}

/// How branches of the config repository are named: the watcher publishes them, the store
/// serves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchLayout {
    /// The branch every tenant sees, `main` by default.
    pub main: String,
    /// Prefix of tenant branches, `customer/` by default: tenant `acme-corp` lives on
    /// `customer/acme-corp`.
    pub tenant_prefix: String,
}

impl Default for BranchLayout {
    fn default() -> Self {
        BranchLayout {
            main: "main".to_string(),
            tenant_prefix: "customer/".to_string(),
        }
    }
}

impl BranchLayout {
    /// Whether `branch` (a short name like `customer/acme-corp`) is one this layout serves:
    /// the main branch, or the tenant prefix followed by a non-empty name without `/`.
    pub fn serves(&self, branch: &str) -> bool {
        self.registry_tenant(branch).is_some()
    }

    /// The tenant a tenant branch serves, `None` for main and for branches outside the layout.
    /// A tenant branch named like the main tenant (`customer/main`) is outside it.
    pub fn tenant_of<'a>(&self, branch: &'a str) -> Option<&'a str> {
        if branch == self.main {
            return None;
        }
        branch
            .strip_prefix(self.tenant_prefix.as_str())
            .filter(|t| !t.is_empty() && !t.contains('/') && *t != MAIN_TENANT)
    }

    /// The registry tenant a branch serves: [`MAIN_TENANT`] for the main branch, the tenant
    /// for a tenant branch, `None` for any other branch.
    pub fn registry_tenant<'a>(&self, branch: &'a str) -> Option<&'a str> {
        if branch == self.main {
            return Some(MAIN_TENANT);
        }
        self.tenant_of(branch)
    }

    /// The branch of registry tenant `tenant`: the main branch for [`MAIN_TENANT`],
    /// `customer/acme-corp` for `acme-corp`.
    pub fn branch_of(&self, tenant: &str) -> String {
        match tenant {
            MAIN_TENANT => self.main.clone(),
            _ => self.tenant_branch(tenant),
        }
    }

    /// The branch of `tenant`, e.g. `customer/acme-corp`.
    pub fn tenant_branch(&self, tenant: &str) -> String {
        format!("{}{tenant}", self.tenant_prefix)
    }
}

/// The registry tenant of the main branch, whatever the branch is called: requests with no
/// tenant of their own are served its definitions.
pub const MAIN_TENANT: &str = "main";

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
        let layout = BranchLayout::default();
        assert_eq!(layout.registry_tenant("main"), Some("main"));
        assert_eq!(layout.tenant_of("main"), None);
        assert_eq!(
            layout.registry_tenant("customer/acme-corp"),
            Some("acme-corp")
        );
        assert_eq!(layout.registry_tenant("customer/"), None);
        assert_eq!(layout.registry_tenant("customer/a/b"), None);
        assert_eq!(layout.registry_tenant("customer/main"), None);
        assert_eq!(layout.registry_tenant("feature/x"), None);
        assert_eq!(layout.branch_of("main"), "main");
        assert_eq!(layout.branch_of("acme-corp"), "customer/acme-corp");
        let renamed = BranchLayout {
            main: "trunk".into(),
            tenant_prefix: "tenants/".into(),
        };
        assert_eq!(renamed.registry_tenant("trunk"), Some("main"));
        assert_eq!(renamed.registry_tenant("main"), None);
        assert_eq!(renamed.registry_tenant("tenants/acme"), Some("acme"));
        assert_eq!(renamed.registry_tenant("customer/acme"), None);
        assert_eq!(renamed.branch_of("main"), "trunk");
        assert_eq!(renamed.branch_of("acme"), "tenants/acme");
    }

    #[test]
    fn only_definition_directories_count() {
        assert!(CommitEvent::is_definition_path("tools/calculator.yaml"));
        assert!(CommitEvent::is_definition_path("configs/security.yaml"));
        assert!(!CommitEvent::is_definition_path("README.md"));
        assert!(!CommitEvent::is_definition_path("toolsx/a.yaml"));
    }
}

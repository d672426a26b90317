//! Branch history as [`CommitEvent`]s: what the watcher has not published yet.
//!
//! Each branch of the [`BranchLayout`] is walked along its first-parent chain from its tip
//! back to the commit last published for it. Every commit found becomes a `Commit` event whose
//! changes are its definition files (`tools/`, `workflows/`, `configs/`) diffed against its
//! first parent, so replaying a branch's events rebuilds its state exactly, merges included.
//! A tip that no longer descends from the published commit gives one `ForcePush` with the
//! whole tree; a published branch that is gone gives `BranchDeleted`.
//!
//! The walk stops at the published commit, so the usual call (nothing new, or one commit on
//! top) reads a handful of objects whatever the length of the history. The tree diff is our
//! own: it only descends into the three definition directories and into subtrees whose ids
//! differ, and never tracks renames (a rename is a deletion plus an addition, which is what
//! the materializer needs).

use std::collections::BTreeMap;
use std::path::Path;

use gix::ObjectId;
use gix::objs::{CommitRef, CommitRefIter, TreeRefIter};
use volcano_pipeline::registry::{CommitEvent, CommitEventKind, PathChange};

use crate::signature::split_signature;
use crate::{BranchLayout, DEFINITION_DIRS, GitError};

/// Decoded objects kept for re-reads: a commit's root and definition trees are read again as
/// the next commit's parent trees during a history walk.
const OBJECT_CACHE_BYTES: usize = 4 << 20;
/// Delta bases kept while reading packed objects: consecutive versions of a tree or a file
/// are deltas of each other, and without this cache every read re-applies the whole chain.
const PACK_CACHE_BYTES: usize = 16 << 20;

/// The config repository, opened once and read many times.
///
/// Opening reads the repository's own config only (no global or system config, no
/// environment), so what the registry sees does not depend on who runs the watcher.
pub struct ConfigRepo {
    repo: gix::Repository,
    layout: BranchLayout,
}

impl std::fmt::Debug for ConfigRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigRepo")
            .field("git_dir", &self.repo.git_dir())
            .field("layout", &self.layout)
            .finish()
    }
}

/// A commit as read during the walk: enough to continue the walk and to build its event.
struct WalkedCommit {
    id: ObjectId,
    tree: ObjectId,
    first_parent: Option<ObjectId>,
    raw: Vec<u8>,
}

/// One entry of a tree that can hold definitions: a file (blob, executable or not) or a
/// directory. Symlinks and submodules are not definitions and are left out.
struct TreeEntry {
    name: Vec<u8>,
    is_tree: bool,
    id: ObjectId,
}

impl ConfigRepo {
    /// Opens the repository at `path` (its work tree or its git directory).
    pub fn open(path: &Path, layout: BranchLayout) -> Result<Self, GitError> {
        let mut repo = gix::open_opts(path, gix::open::Options::isolated()).map_err(|source| {
            GitError::Open {
                path: path.to_path_buf(),
                source,
            }
        })?;
        repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
        repo.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
                PACK_CACHE_BYTES,
            ))
        });
        Ok(ConfigRepo { repo, layout })
    }

    /// The branch layout this repository is read with.
    pub fn layout(&self) -> &BranchLayout {
        &self.layout
    }

    /// The git directory (`.git` of a non-bare repository), which [`crate::RefWatcher`]
    /// watches.
    pub fn git_dir(&self) -> &Path {
        self.repo.common_dir()
    }

    /// The tip of every branch the layout serves: short branch name → commit id.
    pub fn branch_tips(&self) -> Result<BTreeMap<String, ObjectId>, GitError> {
        let context = "cannot list the branches";
        let mut tips = BTreeMap::new();
        let platform = self
            .repo
            .references()
            .map_err(|e| GitError::git(context, e))?;
        for reference in platform
            .local_branches()
            .map_err(|e| GitError::git(context, e))?
        {
            let mut reference = reference.map_err(|e| GitError::git(context, e))?;
            let Some(branch) = reference
                .name()
                .as_bstr()
                .strip_prefix(b"refs/heads/")
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(str::to_owned)
            else {
                continue;
            };
            if !self.layout.serves(&branch) {
                continue;
            }
            let id = match reference.target().try_id() {
                Some(id) => id.to_owned(),
                // A symbolic branch: follow it like git does.
                None => reference
                    .peel_to_id()
                    .map_err(|e| GitError::git(format!("cannot resolve branch {branch}"), e))?
                    .detach(),
            };
            tips.insert(branch, id);
        }
        Ok(tips)
    }

    /// The definition files (`path`, content) at the tip of `branch`, in path order; `None`
    /// when the layout serves no such branch or it does not exist. `volcano validate` reads
    /// main's files this way to check a tenant's work tree over them.
    pub fn branch_files(&self, branch: &str) -> Result<Option<Vec<(String, String)>>, GitError> {
        let Some(&tip) = self.branch_tips()?.get(branch) else {
            return Ok(None);
        };
        let commit = self.read_commit(tip)?;
        let files = self
            .definition_changes(None, Some(commit.tree))?
            .into_iter()
            .filter_map(|change| change.content.map(|content| (change.path, content)))
            .collect();
        Ok(Some(files))
    }

    /// The branch checked out in the work tree (`customer/acme-corp`), `None` when HEAD is
    /// detached.
    pub fn current_branch(&self) -> Result<Option<String>, GitError> {
        let head = self
            .repo
            .head_name()
            .map_err(|e| GitError::git("cannot read HEAD", e))?;
        Ok(head.and_then(|name| {
            name.as_bstr()
                .strip_prefix(b"refs/heads/")
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(str::to_owned)
        }))
    }

    /// The events not yet published, given the last published commit id of each branch
    /// (short branch name → hex id; see [`mark_published`]).
    ///
    /// Branches come main first, then tenants in name order; each branch's events oldest
    /// first. A branch missing from `published` yields its whole first-parent history. A
    /// published id that is not on the tip's first-parent chain (a force-push, or an id this
    /// repository does not know) yields one `ForcePush` carrying the tip's whole tree.
    /// Entries of `published` for branches outside the layout are ignored.
    ///
    /// An event's message is the commit message without its trailing newline; its signature
    /// and signed payload are set only for a signed commit (see [`crate::split_signature`]).
    pub fn pending_events(
        &self,
        published: &BTreeMap<String, String>,
    ) -> Result<Vec<CommitEvent>, GitError> {
        let tips = self.branch_tips()?;
        let mut branches: Vec<&str> = tips
            .keys()
            .chain(published.keys())
            .map(String::as_str)
            .filter(|b| self.layout.serves(b))
            .collect();
        branches.sort_by_key(|b| (*b != self.layout.main, *b));
        branches.dedup();

        let mut events = Vec::new();
        for branch in branches {
            let last = published.get(branch);
            match tips.get(branch) {
                Some(&tip) => {
                    let last = last.map(|hex| {
                        ObjectId::from_hex(hex.as_bytes()).unwrap_or_else(|_| {
                            tracing::warn!(branch, id = %hex, "published commit id is not a hex object id; republishing the branch's whole tree");
                            ObjectId::null(self.repo.object_hash())
                        })
                    });
                    self.branch_events(branch, tip, last, &mut events)?;
                }
                None if last.is_some() => events.push(CommitEvent {
                    kind: CommitEventKind::BranchDeleted,
                    branch: branch.to_string(),
                    ..CommitEvent::default()
                }),
                None => {}
            }
        }
        Ok(events)
    }

    /// Every branch's whole first-parent history, as [`ConfigRepo::pending_events`] gives it
    /// when nothing was published: what `volcano replay --from git` feeds the materializer.
    pub fn history_events(&self) -> Result<Vec<CommitEvent>, GitError> {
        self.pending_events(&BTreeMap::new())
    }

    /// Appends the events of one existing branch whose last published commit is `last`.
    fn branch_events(
        &self,
        branch: &str,
        tip: ObjectId,
        last: Option<ObjectId>,
        events: &mut Vec<CommitEvent>,
    ) -> Result<(), GitError> {
        if Some(tip) == last {
            return Ok(());
        }
        // Newest first; stops at the published commit so that a fast-forward reads only the
        // new commits.
        let mut chain = Vec::new();
        let mut next = Some(tip);
        let mut reached_last = last.is_none();
        while let Some(id) = next {
            if Some(id) == last {
                reached_last = true;
                break;
            }
            let commit = self.read_commit(id)?;
            next = commit.first_parent;
            chain.push(commit);
        }

        if !reached_last {
            let tip = &chain[0];
            let changes = self.definition_changes(None, Some(tip.tree))?;
            events.push(self.event(CommitEventKind::ForcePush, branch, tip, changes)?);
            return Ok(());
        }

        let oldest_parent = chain.last().and_then(|c| c.first_parent);
        let mut parent_tree = match oldest_parent {
            Some(parent) => Some(self.read_commit(parent)?.tree),
            None => None,
        };
        for commit in chain.iter().rev() {
            let changes = self.definition_changes(parent_tree, Some(commit.tree))?;
            events.push(self.event(CommitEventKind::Commit, branch, commit, changes)?);
            parent_tree = Some(commit.tree);
        }
        Ok(())
    }

    fn read_commit(&self, id: ObjectId) -> Result<WalkedCommit, GitError> {
        let object = self
            .repo
            .find_object(id)
            .map_err(|e| GitError::git(format!("cannot read commit {id}"), e))?;
        if object.kind != gix::object::Kind::Commit {
            return Err(GitError::Malformed(format!(
                "{id} is a {}, not a commit",
                object.kind
            )));
        }
        let mut fields = CommitRefIter::from_bytes(&object.data, self.repo.object_hash());
        let tree = fields
            .tree_id()
            .map_err(|e| GitError::Malformed(format!("commit {id} has no tree: {e}")))?;
        let first_parent = fields.parent_ids().next();
        Ok(WalkedCommit {
            id,
            tree,
            first_parent,
            raw: object.detach().data,
        })
    }

    fn event(
        &self,
        kind: CommitEventKind,
        branch: &str,
        commit: &WalkedCommit,
        changes: Vec<PathChange>,
    ) -> Result<CommitEvent, GitError> {
        let malformed = |e: &dyn std::fmt::Display| {
            GitError::Malformed(format!("cannot parse commit {}: {e}", commit.id))
        };
        let parsed = CommitRef::from_bytes(&commit.raw, self.repo.object_hash())
            .map_err(|e| malformed(&e))?;
        let author = parsed.author().map_err(|e| malformed(&e))?;
        let committer = parsed.committer().map_err(|e| malformed(&e))?;
        let header = gix::objs::commit::signature_field_name(self.repo.object_hash());
        let (signature, payload) = split_signature(&commit.raw, header);
        Ok(CommitEvent {
            kind,
            commit_id: commit.id.to_string(),
            parent: commit.first_parent.map(|p| p.to_string()),
            branch: branch.to_string(),
            author: person(&author),
            committer: person(&committer),
            time: committer.seconds().saturating_mul(1000),
            message: parsed.message.to_string().trim_end().to_string(),
            signed_payload: signature.is_some().then_some(payload),
            signature,
            changes,
        })
    }

    /// The definition files that differ between two root trees (`None`: the empty tree),
    /// sorted by path; a deleted file has no content.
    fn definition_changes(
        &self,
        old_root: Option<ObjectId>,
        new_root: Option<ObjectId>,
    ) -> Result<Vec<PathChange>, GitError> {
        let mut changes = Vec::new();
        if old_root == new_root {
            return Ok(changes);
        }
        let old = self.tree_entries(old_root)?;
        let new = self.tree_entries(new_root)?;
        let dir_id = |entries: &[TreeEntry], dir: &str| {
            entries
                .iter()
                .find(|e| e.is_tree && e.name == dir.as_bytes())
                .map(|e| e.id)
        };
        for dir in DEFINITION_DIRS {
            let mut prefix = format!("{dir}/");
            self.diff_trees(
                dir_id(&old, dir),
                dir_id(&new, dir),
                &mut prefix,
                &mut changes,
            )?;
        }
        Ok(changes)
    }

    /// Appends the file changes between two trees at `prefix` (ending in `/`), in path order.
    fn diff_trees(
        &self,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        prefix: &mut String,
        changes: &mut Vec<PathChange>,
    ) -> Result<(), GitError> {
        if old == new {
            return Ok(());
        }
        let old = self.tree_entries(old)?;
        let new = self.tree_entries(new)?;
        let (mut o, mut n) = (old.iter().peekable(), new.iter().peekable());
        loop {
            // Both lists are in git's tree order; a file and a directory of the same name are
            // different entries (the file goes, the directory's files come).
            let order = match (o.peek(), n.peek()) {
                (None, None) => break,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(a), Some(b)) => {
                    gix::objs::tree::name_order(&a.name, a.is_tree, &b.name, b.is_tree)
                }
            };
            let (old_entry, new_entry) = match order {
                std::cmp::Ordering::Less => (o.next(), None),
                std::cmp::Ordering::Greater => (None, n.next()),
                std::cmp::Ordering::Equal => (o.next(), n.next()),
            };
            let entry = new_entry.or(old_entry).expect("one side has an entry");
            if old_entry.map(|e| e.id) == new_entry.map(|e| e.id) {
                continue;
            }
            let len = prefix.len();
            prefix.push_str(&String::from_utf8_lossy(&entry.name));
            if entry.is_tree {
                prefix.push('/');
                self.diff_trees(
                    old_entry.map(|e| e.id),
                    new_entry.map(|e| e.id),
                    prefix,
                    changes,
                )?;
            } else {
                let content = match new_entry {
                    Some(e) => Some(self.blob_text(e.id, prefix)?),
                    None => None,
                };
                changes.push(PathChange {
                    path: prefix.clone(),
                    content,
                });
            }
            prefix.truncate(len);
        }
        Ok(())
    }

    /// The files and directories of a tree (`None`: the empty tree).
    fn tree_entries(&self, id: Option<ObjectId>) -> Result<Vec<TreeEntry>, GitError> {
        let Some(id) = id else {
            return Ok(Vec::new());
        };
        let object = self
            .repo
            .find_object(id)
            .map_err(|e| GitError::git(format!("cannot read tree {id}"), e))?;
        if object.kind != gix::object::Kind::Tree {
            return Err(GitError::Malformed(format!(
                "{id} is a {}, not a tree",
                object.kind
            )));
        }
        let mut entries = Vec::new();
        for entry in TreeRefIter::from_bytes(&object.data, self.repo.object_hash()) {
            let entry =
                entry.map_err(|e| GitError::Malformed(format!("cannot parse tree {id}: {e}")))?;
            let is_tree = entry.mode.is_tree();
            if is_tree || entry.mode.is_blob() {
                entries.push(TreeEntry {
                    name: entry.filename.to_vec(),
                    is_tree,
                    id: entry.oid.to_owned(),
                });
            }
        }
        Ok(entries)
    }

    fn blob_text(&self, id: ObjectId, path: &str) -> Result<String, GitError> {
        let blob = self
            .repo
            .find_blob(id)
            .map_err(|e| GitError::git(format!("cannot read {path} ({id})"), e))?;
        Ok(String::from_utf8_lossy(&blob.data).into_owned())
    }
}

/// `Name <email>` as git prints it.
fn person(signature: &gix::actor::SignatureRef<'_>) -> String {
    let signature = signature.trim();
    format!("{} <{}>", signature.name, signature.email)
}

/// The events of `repo` not yet published; see [`ConfigRepo::pending_events`]. Opens the
/// repository on every call: a caller that polls keeps a [`ConfigRepo`] instead.
pub fn pending_events(
    repo: &Path,
    published: &BTreeMap<String, String>,
    layout: &BranchLayout,
) -> Result<Vec<CommitEvent>, GitError> {
    ConfigRepo::open(repo, layout.clone())?.pending_events(published)
}

/// Every branch's whole history; see [`ConfigRepo::history_events`].
pub fn history_events(repo: &Path, layout: &BranchLayout) -> Result<Vec<CommitEvent>, GitError> {
    ConfigRepo::open(repo, layout.clone())?.history_events()
}

/// Records that `event` was published: its branch's last published commit becomes the
/// event's commit, or the branch is forgotten when it was deleted.
pub fn mark_published(published: &mut BTreeMap<String, String>, event: &CommitEvent) {
    match event.kind {
        CommitEventKind::BranchDeleted => {
            published.remove(&event.branch);
        }
        CommitEventKind::Commit | CommitEventKind::ForcePush => {
            published.insert(event.branch.clone(), event.commit_id.clone());
        }
    }
}

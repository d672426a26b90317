//! `volcano repo init`: the example content directory (`repos/`) as a real git repository.
//!
//! `repos/main/` becomes branch `main` and `repos/customer/<tenant>/` becomes an orphan branch
//! `customer/<tenant>` (a tenant branch holds only its overlay). The history is written for a
//! reader: main gets its configs first, then one commit per kind of tool, then the workflows;
//! each tenant gets its configs, then its tools and workflows. Author, committer and
//! timestamps are fixed, so the same content always gives the same commit ids. Objects, refs
//! and the index are written with gix; main is checked out with an index that matches the
//! work tree, so `git status` is clean and the user can edit and commit straight away.

use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::objs::tree::EntryKind;
use volcano_pipeline::registry::read_tree;

use crate::{BranchLayout, ConfigRepo, GitError};

/// Author and committer of every commit `init_repo` writes: (name, email).
pub const AUTHOR: (&str, &str) = ("Volcano Examples", "examples@volcano.example");
/// Time of the first commit (2025-01-06 09:00:00 UTC); each further commit is a minute later.
const FIRST_COMMIT_TIME: i64 = 1_736_154_000;
const COMMIT_INTERVAL_SECS: i64 = 60;

/// Tool commits of main, in history order: the tool kinds each holds and its title. Tools of
/// a kind not listed here go into a last "Add other tools" commit.
const TOOL_GROUPS: [(&str, &str); 8] = [
    ("calculator", "Add arithmetic tools"),
    ("unit_convert", "Add unit conversion tools"),
    ("currency", "Add currency conversion"),
    ("datetime", "Add date and time tools"),
    ("lookup", "Add lookup tables"),
    ("template", "Add text templates"),
    ("transform", "Add JSON transforms"),
    ("http", "Add HTTP service tools"),
];

/// What `init_repo` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSummary {
    /// The repository's work tree.
    pub path: PathBuf,
    /// The target already was a config repository; nothing was written.
    pub already_initialised: bool,
    /// Every branch of the layout, main first.
    pub branches: Vec<BranchSummary>,
}

/// One branch of an initialised repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchSummary {
    pub branch: String,
    /// Hex id of the branch's tip.
    pub tip: String,
    /// Subject lines of the commits written, oldest first (empty when already initialised).
    pub commits: Vec<String>,
}

/// A file of a branch: path inside the branch and content.
type File = (String, String);

/// One commit to write: its message and the files it adds.
struct PlannedCommit {
    message: String,
    files: Vec<File>,
}

/// Creates the config repository at `target` from `content` (laid out as `repos/`:
/// `main/` and `customer/<tenant>/`).
///
/// `target` must be missing or empty. A target that already is a non-bare git repository with
/// the main branch is left as it is and reported with `already_initialised`; any other
/// non-empty target is refused. `content/README.md`, when present, goes into main's tree.
pub fn init_repo(
    content: &Path,
    target: &Path,
    layout: &BranchLayout,
) -> Result<InitSummary, GitError> {
    if let Some(summary) = existing_repo(target, layout)? {
        return Ok(summary);
    }
    // Everything is read before anything is written, so bad content leaves no half repository.
    let main = plan_main(content)?;
    let tenants = plan_tenants(content, layout)?;

    let repo = gix::ThreadSafeRepository::init_opts(
        target,
        gix::create::Kind::WithWorktree,
        gix::create::Options {
            destination_must_be_empty: Some(true),
            ..Default::default()
        },
        gix::open::Options::isolated()
            .config_overrides([format!("init.defaultBranch={}", layout.main)]),
    )
    .map_err(|e| {
        GitError::git(
            format!("cannot create a repository at {}", target.display()),
            e,
        )
    })?
    .to_thread_local();

    let mut writer = HistoryWriter {
        repo: &repo,
        next_time: FIRST_COMMIT_TIME,
    };
    let mut branches = Vec::new();
    let (main_tip, main_tree) = writer.write_branch(&layout.main, &main)?;
    branches.push(summary(&layout.main, main_tip, &main));
    for (tenant, commits) in &tenants {
        let branch = layout.tenant_branch(tenant);
        let (tip, _) = writer.write_branch(&branch, commits)?;
        branches.push(summary(&branch, tip, commits));
    }

    let main_files = main.iter().flat_map(|c| c.files.iter());
    check_out(&repo, target, main_tree, main_files)?;
    tracing::info!(path = %target.display(), branches = branches.len(), "initialised the config repository");
    Ok(InitSummary {
        path: target.to_path_buf(),
        already_initialised: false,
        branches,
    })
}

/// The summary of `target` when it already is a config repository; `None` when it is missing
/// or empty; an error when it holds anything else.
fn existing_repo(target: &Path, layout: &BranchLayout) -> Result<Option<InitSummary>, GitError> {
    let mut entries = match std::fs::read_dir(target) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(GitError::TargetNotEmpty(target.to_path_buf()));
        }
        Err(e) => return Err(GitError::io(target, e)),
    };
    if entries.next().is_none() {
        return Ok(None);
    }
    let not_a_config_repo = || GitError::TargetNotEmpty(target.to_path_buf());
    if !target.join(".git").is_dir() {
        return Err(not_a_config_repo());
    }
    let repo = ConfigRepo::open(target, layout.clone()).map_err(|_| not_a_config_repo())?;
    let tips = repo.branch_tips()?;
    if !tips.contains_key(&layout.main) {
        return Err(not_a_config_repo());
    }
    let mut branches: Vec<BranchSummary> = tips
        .into_iter()
        .map(|(branch, tip)| BranchSummary {
            branch,
            tip: tip.to_string(),
            commits: Vec::new(),
        })
        .collect();
    branches.sort_by_key(|b| b.branch != layout.main);
    Ok(Some(InitSummary {
        path: target.to_path_buf(),
        already_initialised: true,
        branches,
    }))
}

/// Main's history: configs (with the README), one commit per tool group, the workflows.
fn plan_main(content: &Path) -> Result<Vec<PlannedCommit>, GitError> {
    let dir = content.join("main");
    if !dir.is_dir() {
        return Err(GitError::Content {
            path: content.to_path_buf(),
            message: "has no main/ directory".into(),
        });
    }
    let BranchFiles {
        configs,
        tools,
        workflows,
    } = read_branch(&dir)?;
    let mut commits = Vec::new();

    let readme = content.join("README.md");
    let mut first = configs;
    let mut title = format!("Add {} configs", names_in_prose(&first));
    if readme.is_file() {
        let text = std::fs::read_to_string(&readme).map_err(|e| GitError::io(&readme, e))?;
        first.insert(0, ("README.md".into(), text));
        title = if first.len() == 1 {
            "Add the README".into()
        } else {
            format!("Add the README and the {} configs", names_in_prose(&first))
        };
    }
    push_commit(&mut commits, title, first);

    let mut groups: Vec<(String, Vec<File>)> = TOOL_GROUPS
        .iter()
        .map(|(_, title)| (title.to_string(), Vec::new()))
        .collect();
    groups.push(("Add other tools".into(), Vec::new()));
    for file in tools {
        let group = tool_kind(&file.1)
            .and_then(|kind| TOOL_GROUPS.iter().position(|(k, _)| *k == kind))
            .unwrap_or(TOOL_GROUPS.len());
        groups[group].1.push(file);
    }
    for (title, files) in groups {
        push_commit(&mut commits, title, files);
    }
    push_commit(&mut commits, "Add workflows".into(), workflows);

    if commits.is_empty() {
        push_empty(&mut commits, "Create the main branch");
    }
    Ok(commits)
}

/// Each tenant's history (tenants in name order): its configs, then its tools and workflows.
fn plan_tenants(
    content: &Path,
    layout: &BranchLayout,
) -> Result<Vec<(String, Vec<PlannedCommit>)>, GitError> {
    let dir = content.join("customer");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(GitError::io(&dir, e)),
    };
    let mut tenants = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| GitError::io(&dir, e))?;
        if !entry.path().is_dir() {
            continue;
        }
        let tenant = entry.file_name().to_string_lossy().into_owned();
        if !layout.serves(&layout.tenant_branch(&tenant)) {
            return Err(GitError::Content {
                path: entry.path(),
                message: format!("`{tenant}` is not a tenant name"),
            });
        }
        let BranchFiles {
            configs,
            tools,
            workflows,
        } = read_branch(&entry.path())?;
        let mut commits = Vec::new();
        push_commit(&mut commits, format!("Add {tenant} configs"), configs);
        let title = match (tools.is_empty(), workflows.is_empty()) {
            (false, false) => format!("Add {tenant} tools and workflows"),
            (false, true) => format!("Add {tenant} tools"),
            _ => format!("Add {tenant} workflows"),
        };
        push_commit(
            &mut commits,
            title,
            tools.into_iter().chain(workflows).collect(),
        );
        if commits.is_empty() {
            push_empty(&mut commits, &format!("Create the {tenant} branch"));
        }
        tenants.push((tenant, commits));
    }
    tenants.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(tenants)
}

/// A branch directory's definition files by directory, each sorted by path.
struct BranchFiles {
    configs: Vec<File>,
    tools: Vec<File>,
    workflows: Vec<File>,
}

fn read_branch(dir: &Path) -> Result<BranchFiles, GitError> {
    let files = read_tree(dir).map_err(|diagnostics| GitError::Content {
        path: dir.to_path_buf(),
        message: diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let (mut configs, mut tools, mut workflows) = (Vec::new(), Vec::new(), Vec::new());
    for file in files {
        match file.0.split('/').next() {
            Some("configs") => configs.push(file),
            Some("tools") => tools.push(file),
            _ => workflows.push(file),
        }
    }
    Ok(BranchFiles {
        configs,
        tools,
        workflows,
    })
}

/// Adds a commit of `files` (if any) whose message is `title` and the files' names.
fn push_commit(commits: &mut Vec<PlannedCommit>, title: String, files: Vec<File>) {
    if files.is_empty() {
        return;
    }
    let listed: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    commits.push(PlannedCommit {
        message: format!("{title}\n\n{}\n", listed.join("\n")),
        files,
    });
}

fn push_empty(commits: &mut Vec<PlannedCommit>, title: &str) {
    commits.push(PlannedCommit {
        message: format!("{title}\n"),
        files: Vec::new(),
    });
}

/// `routing and security` for `configs/routing.yaml` and `configs/security.yaml`.
fn names_in_prose(files: &[File]) -> String {
    let names: Vec<&str> = files
        .iter()
        .filter(|(path, _)| path.starts_with("configs/"))
        .map(|(path, _)| {
            let name = path.rsplit('/').next().unwrap_or(path);
            name.split('.').next().unwrap_or(name)
        })
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The builtin kind of a tool file (`kind:` under `tool:`), read without parsing the YAML so
/// that init also works on content the registry would reject.
fn tool_kind(text: &str) -> Option<&str> {
    let mut in_tool = false;
    for line in text.lines() {
        if line.trim_end() == "tool:" {
            in_tool = true;
        } else if in_tool {
            if !line.starts_with([' ', '\t']) && !line.trim().is_empty() {
                return None;
            }
            if let Some(kind) = line.trim().strip_prefix("kind:") {
                return Some(kind.trim().trim_matches(['"', '\'']));
            }
        }
    }
    None
}

fn summary(branch: &str, tip: ObjectId, commits: &[PlannedCommit]) -> BranchSummary {
    BranchSummary {
        branch: branch.to_string(),
        tip: tip.to_string(),
        commits: commits
            .iter()
            .map(|c| c.message.lines().next().unwrap_or_default().to_string())
            .collect(),
    }
}

/// Writes planned commits with the fixed author and advancing fixed timestamps.
struct HistoryWriter<'r> {
    repo: &'r gix::Repository,
    next_time: i64,
}

impl HistoryWriter<'_> {
    /// Writes `commits` as a new branch (starting from the empty tree, no parent) and returns
    /// its tip and tip tree.
    fn write_branch(
        &mut self,
        branch: &str,
        commits: &[PlannedCommit],
    ) -> Result<(ObjectId, ObjectId), GitError> {
        let reference = format!("refs/heads/{branch}");
        let failed = |what: &str, e| GitError::git(format!("{what} on branch {branch}"), e);
        let mut tree = ObjectId::empty_tree(self.repo.object_hash());
        let mut parent: Option<ObjectId> = None;
        for commit in commits {
            let mut editor = self
                .repo
                .edit_tree(tree)
                .map_err(|e| failed("cannot edit a tree", e))?;
            for (path, text) in &commit.files {
                let blob = self
                    .repo
                    .write_blob(text.as_bytes())
                    .map_err(|e| failed("cannot write a blob", e))?;
                editor
                    .upsert(path.as_str(), EntryKind::Blob, blob)
                    .map_err(|e| failed("cannot add a file", e))?;
            }
            tree = editor
                .write()
                .map_err(|e| failed("cannot write a tree", e))?
                .detach();
            let who = gix::actor::Signature {
                name: AUTHOR.0.into(),
                email: AUTHOR.1.into(),
                time: gix::date::Time::new(self.next_time, 0),
            };
            self.next_time += COMMIT_INTERVAL_SECS;
            let mut time = gix::date::parse::TimeBuf::default();
            let id = self
                .repo
                .commit_as(
                    who.to_ref(&mut time),
                    who.to_ref(&mut gix::date::parse::TimeBuf::default()),
                    reference.as_str(),
                    &commit.message,
                    tree,
                    parent,
                )
                .map_err(|e| failed("cannot commit", e))?;
            parent = Some(id.detach());
        }
        let tip = parent.expect("every branch has at least one commit");
        Ok((tip, tree))
    }
}

/// Writes main's files into the work tree and an index that matches them, stat data
/// included, so that git sees a clean checkout without rehashing anything.
fn check_out<'a>(
    repo: &gix::Repository,
    work_tree: &Path,
    tree: ObjectId,
    files: impl Iterator<Item = &'a File>,
) -> Result<(), GitError> {
    for (path, text) in files {
        let file = work_tree.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| GitError::io(dir, e))?;
        }
        std::fs::write(&file, text).map_err(|e| GitError::io(&file, e))?;
    }
    let mut index = repo
        .index_from_tree(&tree)
        .map_err(|e| GitError::git("cannot build the index", e))?;
    let (entries, paths) = index.entries_mut_and_pathbacking();
    for entry in entries {
        let file = work_tree.join(entry.path_in(paths).to_string());
        let metadata = gix::index::fs::Metadata::from_path_no_follow(&file)
            .map_err(|e| GitError::io(&file, e))?;
        entry.stat = gix::index::entry::Stat::from_fs(&metadata)
            .map_err(|e| GitError::io(&file, std::io::Error::other(format!("file time: {e}"))))?;
    }
    index.write(Default::default()).map_err(|e| GitError::Io {
        path: repo.index_path(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_kind_is_read_from_the_tool_block() {
        let text = "version: 1\nname: x\nkind: not-this\ntool:\n  # builtin\n  kind: calculator\n";
        assert_eq!(tool_kind(text), Some("calculator"));
        assert_eq!(tool_kind("tool:\n  kind: 'http'\n"), Some("http"));
        assert_eq!(tool_kind("tool:\nname: x\n  kind: http\n"), None);
        assert_eq!(tool_kind("name: x\n"), None);
    }

    #[test]
    fn config_names_read_as_prose() {
        let file = |p: &str| (p.to_string(), String::new());
        assert_eq!(
            names_in_prose(&[file("configs/routing.yaml"), file("configs/security.yaml")]),
            "routing and security"
        );
        assert_eq!(names_in_prose(&[file("configs/a.yaml")]), "a");
        assert_eq!(
            names_in_prose(&[file("configs/a.yaml"), file("configs/b"), file("configs/c")]),
            "a, b and c"
        );
    }
}

//! Temp repositories driven with the real `git` CLI, and a replay of events into branch
//! states to compare with what git itself says a branch holds.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use volcano_pipeline::registry::{CommitEvent, CommitEventKind};

/// The example content directory of the workspace.
pub fn example_content() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos")
}

/// A `git` command isolated from the user's and the system's config.
pub fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "A U Thor")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "C O Mitter")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ]);
    command
}

/// Runs git and returns its trimmed stdout; panics with stderr when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = git_command(dir).args(args).output().expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A scratch repository with a work tree.
pub struct TestRepo {
    pub dir: tempfile::TempDir,
    /// Committer time of the next commit, seconds.
    next_time: i64,
}

impl TestRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        TestRepo {
            dir,
            next_time: 1_700_000_000,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(self.path(), args)
    }

    pub fn write(&self, path: &str, content: &str) {
        let file = self.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.path().join(path)).unwrap();
    }

    /// Stages everything and commits with a fixed, advancing date; returns the commit id.
    pub fn commit(&mut self, message: &str) -> String {
        self.commit_with(message, &[])
    }

    /// Like `commit`, with extra arguments for `git commit` and `-c` config before them.
    pub fn commit_with(&mut self, message: &str, config: &[&str]) -> String {
        self.git(&["add", "-A"]);
        let date = format!("{} +0000", self.next_time);
        self.next_time += 60;
        let mut command = git_command(self.path());
        for c in config {
            command.args(["-c", c]);
        }
        let output = command
            .args(["commit", "-q", "--allow-empty", "-m", message])
            .args(
                config
                    .iter()
                    .any(|c| c.starts_with("user.signingkey"))
                    .then_some("-S"),
            )
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git commit failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.git(&["rev-parse", "HEAD"])
    }

    /// The definition files of `rev` as git reports them: path → content.
    pub fn definitions_at(&self, rev: &str) -> BTreeMap<String, String> {
        let listing = self.git(&[
            "ls-tree",
            "-r",
            "--name-only",
            rev,
            "--",
            "tools",
            "workflows",
            "configs",
        ]);
        listing
            .lines()
            .filter(|l| !l.is_empty())
            .map(|path| {
                let content = git_raw(self.path(), &["show", &format!("{rev}:{path}")]);
                (path.to_string(), content)
            })
            .collect()
    }
}

/// Like `git`, without trimming (file contents).
pub fn git_raw(dir: &Path, args: &[&str]) -> String {
    let output = git_command(dir).args(args).output().unwrap();
    assert!(output.status.success(), "git {args:?} failed");
    String::from_utf8(output.stdout).unwrap()
}

/// Every branch's state after applying `events` in order, as the materializer would.
pub fn replay(events: &[CommitEvent]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut states: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for event in events {
        match event.kind {
            CommitEventKind::BranchDeleted => {
                states.remove(&event.branch);
                continue;
            }
            CommitEventKind::ForcePush => {
                states.insert(event.branch.clone(), BTreeMap::new());
            }
            CommitEventKind::Commit => {}
        }
        let state = states.entry(event.branch.clone()).or_default();
        for change in &event.changes {
            match &change.content {
                Some(content) => state.insert(change.path.clone(), content.clone()),
                None => state.remove(&change.path),
            };
        }
    }
    states
}

/// The paths an event changed, with `+` for new content and `-` for deletion.
pub fn change_list(event: &CommitEvent) -> Vec<String> {
    event
        .changes
        .iter()
        .map(|c| match c.content {
            Some(_) => format!("+{}", c.path),
            None => format!("-{}", c.path),
        })
        .collect()
}

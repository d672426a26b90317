//! `init_repo` on the workspace's `repos/`: branches, history, a clean checkout, determinism.

mod common;

use std::collections::BTreeMap;

use common::{TestRepo, example_content, git, replay};
use volcano_gitops::{AUTHOR, BranchLayout, GitError, history_events, init_repo};
use volcano_pipeline::registry::read_tree;

#[test]
fn init_writes_one_branch_per_content_directory() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("config");
    let summary = init_repo(&example_content(), &target, &BranchLayout::default()).unwrap();

    assert!(!summary.already_initialised);
    let branches: Vec<&str> = summary.branches.iter().map(|b| b.branch.as_str()).collect();
    assert_eq!(
        branches,
        ["main", "customer/acme-corp", "customer/globex-inc"]
    );
    assert_eq!(
        git(
            &target,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"]
        ),
        "customer/acme-corp\ncustomer/globex-inc\nmain"
    );
    assert_eq!(git(&target, &["symbolic-ref", "HEAD"]), "refs/heads/main");
    for branch in &summary.branches {
        assert_eq!(git(&target, &["rev-parse", &branch.branch]), branch.tip);
    }

    // A readable history: configs, tools by kind, workflows; tenants in one or two commits.
    let main_log = git(&target, &["log", "--format=%s", "--reverse", "main"]);
    let subjects: Vec<&str> = main_log.lines().collect();
    assert_eq!(
        subjects.first(),
        Some(&"Add the README and the language, routing and security configs")
    );
    assert_eq!(subjects.last(), Some(&"Add workflows"));
    assert!(subjects.contains(&"Add arithmetic tools"), "{subjects:?}");
    assert!(
        subjects.contains(&"Add unit conversion tools"),
        "{subjects:?}"
    );
    assert_eq!(subjects, summary.branches[0].commits);
    assert_eq!(
        git(
            &target,
            &["log", "--format=%s", "--reverse", "customer/acme-corp"]
        ),
        "Add acme-corp configs\nAdd acme-corp tools"
    );
    assert_eq!(
        git(
            &target,
            &["log", "-1", "--format=%an <%ae>|%cn <%ce>", "main"]
        ),
        format!("{0} <{1}>|{0} <{1}>", AUTHOR.0, AUTHOR.1)
    );
    // Tenant branches are orphans: no history shared with main.
    let no_base = common::git_command(&target)
        .args(["merge-base", "main", "customer/acme-corp"])
        .status()
        .unwrap();
    assert!(!no_base.success());

    // The checkout is clean, the repository is sound.
    assert_eq!(
        git(&target, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    git(&target, &["fsck", "--strict", "--no-dangling"]);
    assert_eq!(
        std::fs::read_to_string(target.join("tools/arithmetic.yaml")).unwrap(),
        std::fs::read_to_string(example_content().join("main/tools/arithmetic.yaml")).unwrap()
    );
    assert!(!target.join("customer").exists());
}

#[test]
fn branch_trees_hold_exactly_the_content_directories() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("config");
    init_repo(&example_content(), &target, &BranchLayout::default()).unwrap();
    let states = replay(&history_events(&target, &BranchLayout::default()).unwrap());

    let expected = |sub: &str| -> BTreeMap<String, String> {
        read_tree(&example_content().join(sub))
            .unwrap()
            .into_iter()
            .collect()
    };
    assert_eq!(states["main"], expected("main"));
    assert_eq!(states["customer/acme-corp"], expected("customer/acme-corp"));
    assert_eq!(
        states["customer/globex-inc"],
        expected("customer/globex-inc")
    );
    assert_eq!(states.len(), 3);
    assert_eq!(
        git(&target, &["ls-tree", "--name-only", "main"]),
        "README.md\nconfigs\ntools\nworkflows"
    );
}

#[test]
fn same_content_gives_the_same_commit_ids() {
    let dir = tempfile::tempdir().unwrap();
    let layout = BranchLayout::default();
    let first = init_repo(&example_content(), &dir.path().join("a"), &layout).unwrap();
    let second = init_repo(&example_content(), &dir.path().join("b"), &layout).unwrap();
    assert_eq!(first.branches, second.branches);
}

#[test]
fn init_is_idempotent_and_refuses_foreign_directories() {
    let dir = tempfile::tempdir().unwrap();
    let layout = BranchLayout::default();
    let target = dir.path().join("config");
    let created = init_repo(&example_content(), &target, &layout).unwrap();

    let again = init_repo(&example_content(), &target, &layout).unwrap();
    assert!(again.already_initialised);
    let tips = |s: &volcano_gitops::InitSummary| {
        s.branches
            .iter()
            .map(|b| (b.branch.clone(), b.tip.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(tips(&again), tips(&created));

    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let refused = init_repo(&example_content(), &foreign, &layout).unwrap_err();
    assert!(matches!(refused, GitError::TargetNotEmpty(_)), "{refused}");
    assert!(!refused.is_retryable());
    assert!(!foreign.join(".git").exists());

    // A git repository without the main branch is not a config repository either.
    let other = TestRepo::new();
    let refused = init_repo(&example_content(), other.path(), &layout).unwrap_err();
    assert!(matches!(refused, GitError::TargetNotEmpty(_)), "{refused}");
}

#[test]
fn a_user_commit_on_the_initialised_repository_is_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let layout = BranchLayout::default();
    let target = dir.path().join("config");
    init_repo(&example_content(), &target, &layout).unwrap();
    let mut published = BTreeMap::new();
    for event in history_events(&target, &layout).unwrap() {
        volcano_gitops::mark_published(&mut published, &event);
    }

    let tool = target.join("tools/arithmetic.yaml");
    let edited = std::fs::read_to_string(&tool)
        .unwrap()
        .replace("description: ", "description: Edited. ");
    std::fs::write(&tool, &edited).unwrap();
    git(&target, &["commit", "-q", "-am", "Reword arithmetic"]);

    let events = volcano_gitops::pending_events(&target, &published, &layout).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message, "Reword arithmetic");
    assert_eq!(events[0].changes.len(), 1);
    assert_eq!(events[0].changes[0].path, "tools/arithmetic.yaml");
    assert_eq!(
        events[0].changes[0].content.as_deref(),
        Some(edited.as_str())
    );
}

#[test]
fn bad_content_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("config");
    let error = init_repo(dir.path(), &target, &BranchLayout::default()).unwrap_err();
    assert!(matches!(error, GitError::Content { .. }), "{error}");
    assert!(!target.exists());
}

//! `pending_events` against repositories written with the git CLI: exact changes per commit,
//! merges, force-pushes, deleted branches, publishing across calls, SSH signatures.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{TestRepo, change_list, git, replay};
use volcano_gitops::{BranchLayout, ConfigRepo, mark_published, pending_events};
use volcano_pipeline::registry::{CommitEvent, CommitEventKind};

fn open(repo: &TestRepo) -> ConfigRepo {
    ConfigRepo::open(repo.path(), BranchLayout::default()).unwrap()
}

/// Publishes everything pending and returns it.
fn publish_all(repo: &ConfigRepo, published: &mut BTreeMap<String, String>) -> Vec<CommitEvent> {
    let events = repo.pending_events(published).unwrap();
    for event in &events {
        mark_published(published, event);
    }
    events
}

#[test]
fn a_commit_carries_exactly_its_definition_changes() {
    let mut repo = TestRepo::new();
    repo.write("tools/a.yaml", "a: 1\n");
    repo.write("tools/b.yaml", "b: 1\n");
    repo.write("configs/routing.yaml", "version: 1\n");
    repo.write("README.md", "readme\n");
    repo.write("docs/tools/x.yaml", "not a definition\n");
    let first = repo.commit("First");
    let config = open(&repo);
    let mut published = BTreeMap::new();
    let events = publish_all(&config, &mut published);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, CommitEventKind::Commit);
    assert_eq!(
        events[0].parent, None,
        "root commit diffs against the empty tree"
    );
    assert_eq!(
        change_list(&events[0]),
        ["+configs/routing.yaml", "+tools/a.yaml", "+tools/b.yaml"]
    );

    repo.write("tools/a.yaml", "a: 2\n");
    repo.remove("tools/b.yaml");
    repo.write("workflows/w.yaml", "w: 1\n");
    repo.write("tools/nested/deep.yaml", "d: 1\n");
    repo.write("README.md", "changed\n");
    repo.write("toolsx/y.yaml", "outside\n");
    repo.write("tools.yaml", "outside\n");
    let second = repo.commit("Second\n\nWith a body.");

    let events = publish_all(&config, &mut published);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(
        change_list(event),
        [
            "+tools/a.yaml",
            "-tools/b.yaml",
            "+tools/nested/deep.yaml",
            "+workflows/w.yaml"
        ]
    );
    assert_eq!(event.changes[0].content.as_deref(), Some("a: 2\n"));
    assert_eq!(event.commit_id, second);
    assert_eq!(event.parent.as_deref(), Some(first.as_str()));
    assert_eq!(event.branch, "main");
    assert_eq!(event.author, "A U Thor <author@example.com>");
    assert_eq!(event.committer, "C O Mitter <committer@example.com>");
    assert_eq!(event.time, 1_700_000_060_000);
    assert_eq!(event.message, "Second\n\nWith a body.");
    assert_eq!(event.signature, None);
    assert_eq!(event.signed_payload, None);

    // A commit outside the definition directories is still an event, with no changes.
    repo.write("README.md", "again\n");
    repo.commit("Docs only");
    let events = publish_all(&config, &mut published);
    assert_eq!(events.len(), 1);
    assert!(events[0].changes.is_empty());

    // A directory replacing a file of the same name: the file goes, the directory's come.
    repo.remove("tools/a.yaml");
    repo.write("tools/a.yaml/inner.yaml", "i: 1\n");
    repo.commit("File becomes directory");
    let events = publish_all(&config, &mut published);
    assert_eq!(
        change_list(&events[0]),
        ["-tools/a.yaml", "+tools/a.yaml/inner.yaml"]
    );

    assert!(publish_all(&config, &mut published).is_empty());
    assert_eq!(replay_main(&config), repo.definitions_at("main"));
}

fn replay_main(config: &ConfigRepo) -> BTreeMap<String, String> {
    replay(&config.history_events().unwrap())
        .remove("main")
        .unwrap_or_default()
}

#[test]
fn non_utf8_content_is_lossy_text() {
    let mut repo = TestRepo::new();
    std::fs::create_dir_all(repo.path().join("tools")).unwrap();
    std::fs::write(repo.path().join("tools/bin.yaml"), b"a\xffb").unwrap();
    repo.commit("Binary");
    let events = open(&repo).history_events().unwrap();
    assert_eq!(events[0].changes[0].content.as_deref(), Some("a\u{fffd}b"));
}

#[test]
fn a_merge_diffs_against_its_first_parent() {
    let mut repo = TestRepo::new();
    repo.write("tools/base.yaml", "base\n");
    repo.commit("Base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("tools/feature.yaml", "feature\n");
    repo.write("tools/base.yaml", "base from feature\n");
    repo.commit("Feature work");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("tools/main.yaml", "main\n");
    let main_before = repo.commit("Main work");

    let config = open(&repo);
    let mut published = BTreeMap::new();
    publish_all(&config, &mut published);

    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge feature", "feature"]);
    let merge = repo.git(&["rev-parse", "HEAD"]);
    let events = publish_all(&config, &mut published);
    assert_eq!(
        events.len(),
        1,
        "the feature commit is not on main's first-parent chain"
    );
    assert_eq!(events[0].commit_id, merge);
    assert_eq!(events[0].parent.as_deref(), Some(main_before.as_str()));
    assert_eq!(
        change_list(&events[0]),
        ["+tools/base.yaml", "+tools/feature.yaml"]
    );
    assert_eq!(replay_main(&config), repo.definitions_at("main"));

    // Walking main from scratch also skips the merged-in commit.
    let history: Vec<String> = config
        .history_events()
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(history, ["Base", "Main work", "Merge feature"]);
}

#[test]
fn a_force_push_replaces_the_branch_with_its_whole_tree() {
    let mut repo = TestRepo::new();
    repo.write("tools/a.yaml", "a\n");
    repo.write("configs/routing.yaml", "r\n");
    let first = repo.commit("One");
    repo.write("tools/b.yaml", "b\n");
    repo.commit("Two");
    repo.write("tools/c.yaml", "c\n");
    repo.commit("Three");
    let config = open(&repo);
    let mut published = BTreeMap::new();
    publish_all(&config, &mut published);

    repo.git(&["reset", "-q", "--hard", &first]);
    repo.write("tools/d.yaml", "d\n");
    repo.write("README.md", "not a definition\n");
    let rewritten = repo.commit("Rewritten");
    let events = publish_all(&config, &mut published);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, CommitEventKind::ForcePush);
    assert_eq!(events[0].commit_id, rewritten);
    assert_eq!(events[0].parent.as_deref(), Some(first.as_str()));
    assert_eq!(
        change_list(&events[0]),
        ["+configs/routing.yaml", "+tools/a.yaml", "+tools/d.yaml"]
    );
    assert_eq!(published["main"], rewritten);
    assert!(publish_all(&config, &mut published).is_empty());

    // Rewinding to an ancestor is a force-push too.
    repo.git(&["reset", "-q", "--hard", &first]);
    let events = publish_all(&config, &mut published);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, CommitEventKind::ForcePush);
    assert_eq!(
        change_list(&events[0]),
        ["+configs/routing.yaml", "+tools/a.yaml"]
    );

    // A published id this repository never had: the whole tree again, never an error.
    published.insert(
        "main".into(),
        "0123456789012345678901234567890123456789".into(),
    );
    let events = publish_all(&config, &mut published);
    assert_eq!(events[0].kind, CommitEventKind::ForcePush);
    published.insert("main".into(), "not hex".into());
    assert_eq!(
        publish_all(&config, &mut published)[0].kind,
        CommitEventKind::ForcePush
    );
}

#[test]
fn a_deleted_branch_is_announced_once() {
    let mut repo = TestRepo::new();
    repo.write("tools/a.yaml", "a\n");
    repo.commit("Main");
    repo.git(&["checkout", "-q", "--orphan", "customer/acme"]);
    repo.git(&["rm", "-q", "-r", "--cached", "."]);
    repo.remove("tools/a.yaml");
    repo.write("tools/acme.yaml", "acme\n");
    repo.commit("Acme");
    repo.git(&["checkout", "-q", "main"]);
    let config = open(&repo);
    let mut published = BTreeMap::new();
    publish_all(&config, &mut published);
    assert!(published.contains_key("customer/acme"));

    repo.git(&["branch", "-q", "-D", "customer/acme"]);
    let events = publish_all(&config, &mut published);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, CommitEventKind::BranchDeleted);
    assert_eq!(events[0].branch, "customer/acme");
    assert_eq!(events[0].commit_id, "");
    assert!(events[0].changes.is_empty());
    assert!(!published.contains_key("customer/acme"));
    assert!(publish_all(&config, &mut published).is_empty());
}

#[test]
fn publishing_across_calls_neither_repeats_nor_skips() {
    let mut repo = TestRepo::new();
    let config = open(&repo);
    let mut published = BTreeMap::new();
    let mut seen = Vec::new();
    assert!(
        publish_all(&config, &mut published).is_empty(),
        "unborn main has no events"
    );

    for round in 0..6 {
        for i in 0..round {
            repo.write(
                &format!("tools/t{round}-{i}.yaml"),
                &format!("{round}.{i}\n"),
            );
            if i % 2 == 1 {
                repo.remove(&format!("tools/t{}-{}.yaml", round, i - 1));
            }
            repo.commit(&format!("main {round}.{i}"));
        }
        if round == 2 {
            repo.git(&["branch", "customer/zeta"]);
            repo.git(&["branch", "customer/alpha"]);
            repo.git(&["branch", "feature/ignored"]);
            repo.git(&["branch", "customer/not/a-tenant"]);
        }
        if round == 4 {
            repo.git(&["checkout", "-q", "customer/zeta"]);
            repo.write("configs/security.yaml", "zeta\n");
            repo.commit("zeta config");
            repo.git(&["checkout", "-q", "main"]);
            // Packed refs are read as well as loose ones.
            repo.git(&["pack-refs", "--all"]);
        }
        seen.extend(publish_all(&config, &mut published));
    }

    let history = config.history_events().unwrap();
    let key = |e: &CommitEvent| (e.branch.clone(), e.commit_id.clone());
    let mut seen_keys: Vec<_> = seen.iter().map(key).collect();
    let mut history_keys: Vec<_> = history.iter().map(key).collect();
    seen_keys.sort();
    history_keys.sort();
    assert_eq!(seen_keys, history_keys, "every commit once, none missed");

    // Branch order: main first, then tenants by name; other branches are not served.
    let mut branches: Vec<&str> = history.iter().map(|e| e.branch.as_str()).collect();
    branches.dedup();
    assert_eq!(branches, ["main", "customer/alpha", "customer/zeta"]);

    let states = replay(&seen);
    for branch in ["main", "customer/alpha", "customer/zeta"] {
        assert_eq!(states[branch], repo.definitions_at(branch), "{branch}");
    }
    assert_eq!(states.len(), 3);
}

#[test]
fn a_custom_layout_serves_its_own_branch_names() {
    let mut repo = TestRepo::new();
    repo.write("tools/a.yaml", "a\n");
    repo.commit("On main");
    repo.git(&["branch", "-m", "main", "trunk"]);
    repo.git(&["branch", "tenant-acme"]);
    repo.git(&["branch", "customer/acme"]);
    let layout = BranchLayout {
        main: "trunk".into(),
        tenant_prefix: "tenant-".into(),
    };
    let events = pending_events(repo.path(), &BTreeMap::new(), &layout).unwrap();
    let branches: Vec<&str> = events.iter().map(|e| e.branch.as_str()).collect();
    assert_eq!(branches, ["trunk", "tenant-acme"]);
}

#[test]
fn an_ssh_signed_commit_carries_exactly_the_signed_bytes() {
    let mut repo = TestRepo::new();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("signer");
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "signer@example.com",
            "-f",
        ])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    let public_key = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = keys.path().join("allowed_signers");
    std::fs::write(&allowed, format!("signer@example.com {public_key}")).unwrap();

    repo.write("tools/signed.yaml", "signed\n");
    let signing_key = format!("user.signingkey={}", key.display());
    let id = repo.commit_with("Signed change", &["gpg.format=ssh", &signing_key]);
    // git itself accepts the signature.
    git(
        repo.path(),
        &[
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", allowed.display()),
            "verify-commit",
            &id,
        ],
    );

    let events = open(&repo).history_events().unwrap();
    let event = &events[0];
    let signature = event.signature.as_deref().expect("signed");
    assert!(
        signature.starts_with("-----BEGIN SSH SIGNATURE-----\n"),
        "{signature}"
    );
    assert!(
        signature.ends_with("-----END SSH SIGNATURE-----"),
        "{signature}"
    );
    let payload = event.signed_payload.as_deref().expect("payload");
    assert!(!String::from_utf8_lossy(payload).contains("gpgsig"));
    assert!(payload.ends_with(b"\n\nSigned change\n"));
    assert_eq!(change_list(event), ["+tools/signed.yaml"]);

    let signature_file = keys.path().join("commit.sig");
    std::fs::write(&signature_file, format!("{signature}\n")).unwrap();
    let verify = |payload: &[u8]| {
        use std::io::Write;
        let mut child = Command::new("ssh-keygen")
            .args([
                "-Y",
                "verify",
                "-n",
                "git",
                "-I",
                "signer@example.com",
                "-f",
            ])
            .arg(&allowed)
            .arg("-s")
            .arg(&signature_file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(payload).unwrap();
        child.wait().unwrap().success()
    };
    assert!(verify(payload), "ssh-keygen accepts the payload as signed");
    let mut tampered = payload.to_vec();
    tampered.extend_from_slice(b"x");
    assert!(!verify(&tampered), "and rejects anything else");
}

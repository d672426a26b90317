//! The store against the example repository (`repos/`) and small hand-made histories:
//! validation and rejection, tenant views, force pushes and deletions, offsets across a
//! reopen, equal hashes for equal histories, and signed commits.

use std::path::{Path, PathBuf};

use ssh_key::private::Ed25519Keypair;
use ssh_key::{HashAlg, LineEnding, PrivateKey};
use tempfile::TempDir;
use volcano_pipeline::registry::BranchLayout;
use volcano_pipeline::registry::{
    CommitEvent, CommitEventKind, Definitions, PathChange, RegistryHandle, load_tenant_files,
    load_tree, overlay, read_tree,
};
use volcano_pipeline::tools::ToolServices;
use volcano_store::{ApplyOutcome, AuditResult, EntryKind, Rejection, Store, StoreError};

fn repos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos")
}

fn files_of(dir: &Path) -> Vec<(String, String)> {
    read_tree(dir).unwrap_or_else(|d| panic!("{d:?}"))
}

fn event(branch: &str, commit: &str, changes: Vec<(&str, Option<String>)>) -> CommitEvent {
    CommitEvent {
        kind: CommitEventKind::Commit,
        commit_id: commit.to_string(),
        parent: None,
        branch: branch.to_string(),
        author: "Dev <dev@volcano.example>".into(),
        committer: "Dev <dev@volcano.example>".into(),
        time: 1_700_000_000_000,
        message: format!("commit {commit}"),
        signature: None,
        signed_payload: None,
        changes: changes
            .into_iter()
            .map(|(path, content)| PathChange {
                path: path.to_string(),
                content,
            })
            .collect(),
    }
}

/// One root commit per branch of the example repository, `main` first.
fn example_events() -> Vec<CommitEvent> {
    let branches = [
        ("main", repos().join("main"), "c0main"),
        (
            "customer/acme-corp",
            repos().join("customer/acme-corp"),
            "c0acme",
        ),
        (
            "customer/globex-inc",
            repos().join("customer/globex-inc"),
            "c0globex",
        ),
    ];
    branches
        .iter()
        .map(|(branch, dir, commit)| {
            let files = files_of(dir);
            event(
                branch,
                commit,
                files
                    .iter()
                    .map(|(p, c)| (p.as_str(), Some(c.clone())))
                    .collect(),
            )
        })
        .collect()
}

fn example_store() -> (TempDir, Store) {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (offset, e) in example_events().iter().enumerate() {
        let outcome = store.apply(e, Some((0, offset as i64))).unwrap();
        assert!(
            matches!(outcome, ApplyOutcome::Applied { .. }),
            "{}: {outcome:?}",
            e.branch
        );
    }
    (dir, store)
}

fn main_file(path: &str) -> String {
    std::fs::read_to_string(repos().join("main").join(path)).unwrap()
}

/// What the pipeline's own loader makes of `repos/` for a tenant.
fn pipeline_definitions(tenant: &str) -> Definitions {
    let main = load_tree(&repos().join("main")).unwrap();
    if tenant == "main" {
        return main;
    }
    let own = load_tenant_files(&main, files_of(&repos().join("customer").join(tenant))).unwrap();
    overlay(&main, &own)
}

#[test]
fn configured_branch_names_serve_the_same_tenants() {
    let dir = TempDir::new().unwrap();
    let layout = BranchLayout {
        main: "trunk".into(),
        tenant_prefix: "tenants/".into(),
    };
    let store = Store::open(dir.path()).unwrap().with_layout(layout);
    for (offset, mut e) in example_events().into_iter().enumerate() {
        e.branch = match e.branch.strip_prefix("customer/") {
            Some(tenant) => format!("tenants/{tenant}"),
            None => "trunk".into(),
        };
        let outcome = store.apply(&e, Some((0, offset as i64))).unwrap();
        assert!(
            matches!(outcome, ApplyOutcome::Applied { .. }),
            "{outcome:?}"
        );
    }
    // Under this layout `main` and `customer/*` are just other branches.
    let stray = event(
        "main",
        "stray",
        vec![("tools/x.yaml", Some("version: 2\n".into()))],
    );
    assert!(matches!(
        store.apply(&stray, Some((0, 10))).unwrap(),
        ApplyOutcome::Ignored { .. }
    ));
    assert_eq!(
        store.tenants().unwrap(),
        ["main", "acme-corp", "globex-inc"]
    );
    for tenant in ["main", "acme-corp", "globex-inc"] {
        let compiled = store.compile_tenant(tenant).unwrap();
        assert_eq!(
            compiled.definitions,
            pipeline_definitions(tenant),
            "{tenant}"
        );
    }
    let shown = store.show("acme-corp").unwrap();
    let branches: std::collections::BTreeSet<&str> =
        shown.iter().map(|e| e.branch.as_str()).collect();
    assert_eq!(
        branches,
        ["tenants/acme-corp", "trunk"].into_iter().collect()
    );
}

#[test]
fn the_example_repository_compiles_as_the_pipeline_loads_it() {
    let (_dir, store) = example_store();
    assert_eq!(
        store.tenants().unwrap(),
        ["main", "acme-corp", "globex-inc"]
    );
    for tenant in ["main", "acme-corp", "globex-inc"] {
        let compiled = store.compile_tenant(tenant).unwrap();
        assert_eq!(compiled.tenant, tenant);
        assert_eq!(
            compiled.definitions,
            pipeline_definitions(tenant),
            "{tenant}"
        );
    }
    assert_eq!(store.compile_tenant("main").unwrap().commit, "c0main");
    assert_eq!(
        store.compile_tenant("acme-corp").unwrap().commit,
        "c0main+c0acme"
    );
    let handle = store.registry_handle().unwrap();
    assert_eq!(handle.tenants(), ["acme-corp", "globex-inc", "main"]);
    assert!(
        handle
            .load("acme-corp")
            .definitions
            .tool("acme-discount")
            .is_some()
    );
    assert!(matches!(
        store.compile_tenant("initech"),
        Err(StoreError::UnknownTenant(_))
    ));
}

#[test]
fn a_broken_pattern_is_rejected_and_a_later_fix_serves() {
    let (_dir, store) = example_store();
    let good = main_file("tools/greeting.yaml");
    let broken = good
        .replace("priority: -10", "priority: -10\n# broken below")
        .replace("  - '^\\s*(?:hi", "  - '(unclosed'\n  - '^\\s*(?:hi");
    assert_ne!(good, broken);
    let outcome = store
        .apply(
            &event("main", "c1bad", vec![("tools/greeting.yaml", Some(broken))]),
            Some((0, 10)),
        )
        .unwrap();
    let ApplyOutcome::Rejected {
        rejection: Rejection::Invalid(diagnostics),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].path, "tools/greeting.yaml");
    assert!(diagnostics[0].line > 1, "{}", diagnostics[0]);
    assert!(diagnostics[0].message.contains("does not compile"));

    // The old greeting keeps serving.
    let main = store.compile_tenant("main").unwrap();
    assert_eq!(main.commit, "c0main");
    assert_eq!(main.definitions.tool("greeting").unwrap().patterns.len(), 1);
    // Every applied commit is audited too: the three example branches' commits, then this.
    let audit = store.audit(10).unwrap();
    assert_eq!(audit.len(), example_events().len() + 1);
    assert!(
        audit[1..]
            .iter()
            .all(|r| r.result == AuditResult::Applied && r.reason.is_empty()),
        "{audit:?}"
    );
    assert_eq!(audit[0].result, AuditResult::Rejected);
    assert_eq!(audit[0].commit, "c1bad");
    assert_eq!(audit[0].branch, "main");
    assert_eq!(audit[0].paths, ["tools/greeting.yaml"]);
    assert_eq!(audit[0].offset, Some(10));
    assert!(
        audit[0].reason.starts_with("tools/greeting.yaml:"),
        "{}",
        audit[0].reason
    );

    // A commit that leaves the broken file alone is rejected too: the head still has it.
    let weather = main_file("tools/weather.yaml").replace("version: 1", "version: 1\n# edited");
    let outcome = store
        .apply(
            &event(
                "main",
                "c2",
                vec![("tools/weather.yaml", Some(weather.clone()))],
            ),
            Some((0, 11)),
        )
        .unwrap();
    assert!(
        matches!(outcome, ApplyOutcome::Rejected { .. }),
        "{outcome:?}"
    );

    // The fix applies on top of the rejected commits and serves their other changes as well.
    let outcome = store
        .apply(
            &event("main", "c3fix", vec![("tools/greeting.yaml", Some(good))]),
            Some((0, 12)),
        )
        .unwrap();
    let ApplyOutcome::Applied {
        commit,
        tenants_affected,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(commit, "c3fix");
    assert_eq!(tenants_affected, ["main", "acme-corp", "globex-inc"]);
    let shown = store.show("main").unwrap();
    let weather_entry = shown.iter().find(|e| e.name == "weather").unwrap();
    assert_eq!(weather_entry.commit, "c2");
    assert_eq!(store.compile_tenant("main").unwrap().commit, "c3fix");
    let results: Vec<(String, AuditResult)> = store
        .audit(3)
        .unwrap()
        .into_iter()
        .map(|r| (r.commit, r.result))
        .collect();
    assert_eq!(
        results,
        [
            ("c3fix".to_string(), AuditResult::Applied),
            ("c2".to_string(), AuditResult::Rejected),
            ("c1bad".to_string(), AuditResult::Rejected),
        ]
    );
}

#[test]
fn incremental_validation_reports_what_the_full_loader_reports() {
    let (_dir, store) = example_store();
    // A second tool named `greeting`, and a workflow step naming a tool that does not exist.
    let copy = main_file("tools/greeting.yaml");
    let workflow = main_file("workflows/refund-approval.yaml")
        .replace("tool: fetch-order", "tool: fetch-orders");
    let changes = vec![
        ("tools/greeting-copy.yaml", Some(copy)),
        ("workflows/refund-approval.yaml", Some(workflow)),
    ];
    let mut files = files_of(&repos().join("main"));
    for (path, content) in &changes {
        files.retain(|(p, _)| p != path);
        files.push((path.to_string(), content.clone().unwrap()));
    }
    let expected = volcano_pipeline::registry::load_files(files).unwrap_err();
    let outcome = store.apply(&event("main", "c1", changes), None).unwrap();
    let ApplyOutcome::Rejected {
        rejection: Rejection::Invalid(diagnostics),
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(diagnostics, expected);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
}

#[test]
fn a_tenant_workflow_may_use_main_tools_but_not_missing_ones() {
    let (_dir, store) = example_store();
    let workflow = main_file("workflows/refund-approval.yaml")
        .replace("name: refund-approval", "name: globex-refund");
    let ok = store
        .apply(
            &event(
                "customer/globex-inc",
                "g1",
                vec![("workflows/globex-refund.yaml", Some(workflow.clone()))],
            ),
            None,
        )
        .unwrap();
    assert!(matches!(ok, ApplyOutcome::Applied { .. }), "{ok:?}");
    let broken = workflow.replace("tool: fetch-order", "tool: acme-discount");
    let outcome = store
        .apply(
            &event(
                "customer/globex-inc",
                "g2",
                vec![("workflows/globex-refund.yaml", Some(broken))],
            ),
            None,
        )
        .unwrap();
    let ApplyOutcome::Rejected {
        rejection: Rejection::Invalid(diagnostics),
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(
        diagnostics[0].message.contains("`acme-discount`"),
        "{diagnostics:?}"
    );
}

#[test]
fn tenants_see_only_their_own_definitions() {
    let (_dir, store) = example_store();
    let globex = store.compile_tenant("globex-inc").unwrap();
    assert!(globex.definitions.tool("acme-discount").is_none());
    assert!(globex.definitions.tool("globex-shipping-quote").is_some());
    let acme = store.compile_tenant("acme-corp").unwrap();
    assert!(acme.definitions.tool("acme-discount").is_some());
    assert!(acme.definitions.tool("globex-shipping-quote").is_none());

    let shown = store.show("acme-corp").unwrap();
    let find = |name: &str| shown.iter().find(|e| e.name == name).cloned();
    let prices = find("product-prices").unwrap();
    assert_eq!(prices.branch, "customer/acme-corp");
    assert_eq!(prices.commit, "c0acme");
    assert_eq!(find("greeting").unwrap().branch, "main");
    assert!(find("globex-shipping-quote").is_none());
    let security = shown
        .iter()
        .find(|e| e.kind == EntryKind::Security)
        .unwrap();
    assert_eq!(security.branch, "customer/acme-corp");
    // Same order as the compiled registry.
    let tools: Vec<&str> = shown
        .iter()
        .filter(|e| e.kind == EntryKind::Tool)
        .map(|e| e.name.as_str())
        .collect();
    let compiled: Vec<&str> = acme
        .definitions
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(tools, compiled);
    // A tenant without a branch sees main.
    assert!(
        store
            .show("initech")
            .unwrap()
            .iter()
            .all(|e| e.branch == "main")
    );
}

#[test]
fn force_push_replaces_a_branch_and_deletion_removes_it() {
    let (_dir, store) = example_store();
    let globex = files_of(&repos().join("customer/globex-inc"));
    let configs: Vec<(&str, Option<String>)> = globex
        .iter()
        .filter(|(p, _)| p.starts_with("configs/"))
        .map(|(p, c)| (p.as_str(), Some(c.clone())))
        .collect();
    let mut push = event("customer/globex-inc", "g-force", configs);
    push.kind = CommitEventKind::ForcePush;
    let outcome = store.apply(&push, Some((1, 0))).unwrap();
    assert!(
        matches!(outcome, ApplyOutcome::Applied { .. }),
        "{outcome:?}"
    );
    let view = store.compile_tenant("globex-inc").unwrap();
    assert!(view.definitions.tool("globex-shipping-quote").is_none());
    assert_eq!(
        view.definitions,
        pipeline_definitions("main").with_configs_of(&view.definitions)
    );

    let handle: RegistryHandle = store.registry_handle().unwrap();
    assert!(handle.tenants().contains(&"acme-corp".to_string()));
    let mut delete = event("customer/acme-corp", "", vec![]);
    delete.kind = CommitEventKind::BranchDeleted;
    let outcome = store.apply(&delete, Some((1, 1))).unwrap();
    let ApplyOutcome::Deleted {
        tenants_affected, ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(tenants_affected, ["acme-corp"]);
    let record = &store.audit(1).unwrap()[0];
    assert_eq!(
        (record.branch.as_str(), record.kind, record.result),
        (
            "customer/acme-corp",
            CommitEventKind::BranchDeleted,
            AuditResult::Deleted
        )
    );
    assert_eq!(record.offset, Some(1));
    assert!(
        store
            .refresh(&handle, &tenants_affected, &ToolServices::default())
            .is_empty()
    );
    assert_eq!(handle.load("acme-corp").tenant, "main");
    assert_eq!(store.tenants().unwrap(), ["main", "globex-inc"]);
    assert!(matches!(
        store.compile_tenant("acme-corp"),
        Err(StoreError::UnknownTenant(_))
    ));
    // A recreated branch starts from nothing (main's policy governs its first commit).
    let outcome = store
        .apply(
            &event(
                "customer/acme-corp",
                "a-new",
                vec![(
                    "tools/acme-discount.yaml",
                    Some(
                        std::fs::read_to_string(
                            repos().join("customer/acme-corp/tools/acme-discount.yaml"),
                        )
                        .unwrap(),
                    ),
                )],
            ),
            None,
        )
        .unwrap();
    assert!(
        matches!(outcome, ApplyOutcome::Applied { .. }),
        "{outcome:?}"
    );
    let acme = store.compile_tenant("acme-corp").unwrap();
    let main = pipeline_definitions("main");
    assert_eq!(
        acme.definitions.tool("product-prices"),
        main.tool("product-prices")
    );
    assert_eq!(acme.routing, main.routing.unwrap());
}

/// The definitions with `other`'s configs, for comparing a tenant that keeps only configs.
trait WithConfigs {
    fn with_configs_of(self, other: &Definitions) -> Definitions;
}

impl WithConfigs for Definitions {
    fn with_configs_of(mut self, other: &Definitions) -> Definitions {
        self.routing = other.routing.clone();
        self.security = other.security.clone();
        self
    }
}

#[test]
fn reopening_resumes_offsets_and_redelivery_is_a_no_op() {
    let dir = TempDir::new().unwrap();
    let events = example_events();
    let hash = {
        let store = Store::open(dir.path()).unwrap();
        assert!(store.next_offsets().unwrap().is_empty());
        for (offset, e) in events.iter().enumerate() {
            store.apply(e, Some((3, 100 + offset as i64))).unwrap();
        }
        let ignored = store
            .apply(&event("feature/x", "f1", vec![]), Some((4, 7)))
            .unwrap();
        assert!(matches!(ignored, ApplyOutcome::Ignored { .. }));
        store.hash().unwrap()
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store
            .next_offsets()
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [(3, 103), (4, 8)]
    );
    assert_eq!(store.hash().unwrap(), hash);
    for (offset, e) in events.iter().enumerate() {
        let outcome = store.apply(e, Some((3, 100 + offset as i64))).unwrap();
        assert_eq!(
            outcome,
            ApplyOutcome::AlreadyApplied {
                partition: 3,
                offset: 100 + offset as i64
            }
        );
    }
    assert_eq!(store.hash().unwrap(), hash);
    assert_eq!(
        store.compile_tenant("acme-corp").unwrap().definitions,
        pipeline_definitions("acme-corp")
    );
    // A rejected commit after the reopen is rejected as before, and audited after the rest.
    let bad = event(
        "main",
        "bad",
        vec![("tools/x.yaml", Some("version: 2\n".into()))],
    );
    assert!(matches!(
        store.apply(&bad, Some((3, 103))).unwrap(),
        ApplyOutcome::Rejected { .. }
    ));
    assert_eq!(store.hash().unwrap(), hash);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    // Numbering goes on after the records written before the reopen.
    let newest = &store.audit(1).unwrap()[0];
    assert_eq!(
        (newest.commit.as_str(), newest.result),
        ("bad", AuditResult::Rejected)
    );
    assert_eq!(newest.sequence, events.len() as u64);
    assert_eq!(store.next_offsets().unwrap()[&3], 104);
}

/// A history with accepted and rejected commits, a force push and a deletion.
fn history() -> Vec<CommitEvent> {
    let mut events = example_events();
    let greeting = main_file("tools/greeting.yaml");
    for i in 0..20 {
        let content = greeting.replace("priority: -10", &format!("priority: {}", -10 - i));
        events.push(event(
            "main",
            &format!("m{i}"),
            vec![("tools/greeting.yaml", Some(content))],
        ));
        if i % 7 == 3 {
            events.push(event(
                "customer/globex-inc",
                &format!("bad{i}"),
                vec![(
                    "tools/broken.yaml",
                    Some(format!("version: 1\nname: Bad{i}\n")),
                )],
            ));
        }
        if i % 7 == 4 {
            events.push(event(
                "customer/globex-inc",
                &format!("fix{i}"),
                vec![("tools/broken.yaml", None)],
            ));
        }
    }
    let mut push = event(
        "customer/globex-inc",
        "gforce",
        vec![(
            "configs/routing.yaml",
            Some(main_file("configs/routing.yaml")),
        )],
    );
    push.kind = CommitEventKind::ForcePush;
    events.push(push);
    let mut delete = event("customer/acme-corp", "", vec![]);
    delete.kind = CommitEventKind::BranchDeleted;
    events.push(delete);
    events.push(event("main", "last", vec![("tools/weather.yaml", None)]));
    events
}

#[test]
fn equal_histories_hash_equal_one_by_one_batched_or_replayed() {
    let events = history();
    let live_dir = TempDir::new().unwrap();
    let live = Store::open(live_dir.path()).unwrap();
    let mut rejected = 0;
    for (offset, e) in events.iter().enumerate() {
        if let ApplyOutcome::Rejected { .. } = live.apply(e, Some((0, offset as i64))).unwrap() {
            rejected += 1;
        }
    }
    assert_eq!(rejected, 3);
    let hash = live.hash().unwrap();

    let twin_dir = TempDir::new().unwrap();
    let twin = Store::open(twin_dir.path()).unwrap();
    for (offset, e) in events.iter().enumerate() {
        twin.apply(e, Some((0, offset as i64))).unwrap();
    }
    assert_eq!(twin.hash().unwrap(), hash);

    let batched_dir = TempDir::new().unwrap();
    let batched = Store::open_with(batched_dir.path(), volcano_store::Durability::Replay).unwrap();
    let outcomes: Vec<ApplyOutcome> = events
        .chunks(7)
        .flat_map(|chunk| {
            batched
                .apply_batch(chunk.iter().map(|e| (e, None)))
                .unwrap()
        })
        .collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, ApplyOutcome::Rejected { .. }))
            .count(),
        3
    );
    assert_eq!(batched.hash().unwrap(), hash);
    // And after a reopen of the replayed directory.
    drop(batched);
    let reopened = Store::open(batched_dir.path()).unwrap();
    assert_eq!(reopened.hash().unwrap(), hash);
    assert!(reopened.next_offsets().unwrap().is_empty());
    assert_ne!(
        hash,
        Store::open(TempDir::new().unwrap().path())
            .unwrap()
            .hash()
            .unwrap()
    );
}

fn signer(seed: u8, comment: &str) -> (PrivateKey, String) {
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]));
    let mut public = key.public_key().clone();
    public.set_comment(comment);
    let line = public.to_openssh().unwrap();
    (key, line)
}

fn sign(key: &PrivateKey, e: &mut CommitEvent) {
    let payload = format!("tree 0000\nauthor {}\n\n{}\n", e.author, e.message).into_bytes();
    let signature = key.sign("git", HashAlg::Sha512, &payload).unwrap();
    e.signature = Some(signature.to_pem(LineEnding::LF).unwrap());
    e.signed_payload = Some(payload);
}

#[test]
fn signed_commits_are_checked_against_allowed_signers() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (release, release_line) = signer(7, "release-bot@volcano.example");
    let (stranger, _) = signer(9, "stranger@example.com");
    let security = main_file("configs/security.yaml")
        .replace("require_signed: false", "require_signed: true")
        .replace(
            "    - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFCGcClYw6p3RX7rQKW1YO4j34Tay7tUE9qupndgccA8 release-bot@volcano.example",
            &format!("    - {release_line}"),
        );
    assert!(security.contains(&release_line));
    let mut files: Vec<(String, Option<String>)> = files_of(&repos().join("main"))
        .into_iter()
        .map(|(p, c)| (p, Some(c)))
        .collect();
    for (path, content) in &mut files {
        if path == "configs/security.yaml" {
            *content = Some(security.clone());
        }
    }
    let root = |id: &str| {
        event(
            "main",
            id,
            files.iter().map(|(p, c)| (p.as_str(), c.clone())).collect(),
        )
    };
    // The first commit brings its own policy, so it must satisfy it.
    let unsigned = root("r0");
    let outcome = store.apply(&unsigned, None).unwrap();
    let ApplyOutcome::Rejected {
        rejection: Rejection::Signature(reason),
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("not signed"), "{reason}");
    let mut signed = root("r1");
    sign(&release, &mut signed);
    let outcome = store.apply(&signed, None).unwrap();
    assert!(
        matches!(outcome, ApplyOutcome::Applied { .. }),
        "{outcome:?}"
    );

    let change = |id: &str| {
        let greeting = main_file("tools/greeting.yaml").replace("priority: -10", "priority: -11");
        event("main", id, vec![("tools/greeting.yaml", Some(greeting))])
    };
    // Unsigned.
    let outcome = store.apply(&change("u"), None).unwrap();
    assert!(
        matches!(&outcome, ApplyOutcome::Rejected { rejection: Rejection::Signature(r), .. } if r.contains("not signed")),
        "{outcome:?}"
    );
    // Signed by a key that is not allowed.
    let mut by_stranger = change("s");
    sign(&stranger, &mut by_stranger);
    let outcome = store.apply(&by_stranger, None).unwrap();
    assert!(
        matches!(&outcome, ApplyOutcome::Rejected { rejection: Rejection::Signature(r), .. } if r.contains("not an allowed signer")),
        "{outcome:?}"
    );
    // Signed by the right key, but the payload was altered afterwards.
    let mut tampered = change("t");
    sign(&release, &mut tampered);
    tampered
        .signed_payload
        .as_mut()
        .unwrap()
        .extend_from_slice(b"tampered");
    let outcome = store.apply(&tampered, None).unwrap();
    assert!(
        matches!(&outcome, ApplyOutcome::Rejected { rejection: Rejection::Signature(r), .. } if r.contains("does not verify")),
        "{outcome:?}"
    );
    // A signature for another namespace.
    let mut other_namespace = change("n");
    sign(&release, &mut other_namespace);
    let payload = other_namespace.signed_payload.clone().unwrap();
    let file_sig = release.sign("file", HashAlg::Sha512, &payload).unwrap();
    other_namespace.signature = Some(file_sig.to_pem(LineEnding::LF).unwrap());
    let outcome = store.apply(&other_namespace, None).unwrap();
    assert!(
        matches!(&outcome, ApplyOutcome::Rejected { rejection: Rejection::Signature(r), .. } if r.contains("namespace")),
        "{outcome:?}"
    );
    assert_eq!(store.compile_tenant("main").unwrap().commit, "r1");
    // Properly signed, and the signature as a git header (continuation lines indented).
    let mut good = change("g");
    sign(&release, &mut good);
    let header = good
        .signature
        .take()
        .unwrap()
        .lines()
        .collect::<Vec<_>>()
        .join("\n ");
    good.signature = Some(header);
    let outcome = store.apply(&good, None).unwrap();
    assert!(
        matches!(outcome, ApplyOutcome::Applied { .. }),
        "{outcome:?}"
    );
    let audit = store.audit(10).unwrap();
    let rejected: Vec<&str> = audit
        .iter()
        .filter(|r| r.result == AuditResult::Rejected)
        .map(|r| r.commit.as_str())
        .collect();
    assert_eq!(rejected.len(), 5, "{audit:?}");
    assert_eq!(audit[0].result, AuditResult::Applied);
    assert!(audit[1].reason.starts_with("signature: "), "{:?}", audit[1]);
}

#[test]
fn the_example_tenant_policy_governs_its_later_commits() {
    // acme-corp turns its signing policy on by an (unsigned) commit, which runs under the
    // policy served before it; every later commit runs under the new one.
    let (_dir, store) = example_store();
    let security =
        std::fs::read_to_string(repos().join("customer/acme-corp/configs/security.yaml"))
            .unwrap()
            .replace("require_signed: false", "require_signed: true");
    assert!(security.contains("require_signed: true"));
    let outcome = store
        .apply(
            &event(
                "customer/acme-corp",
                "a0",
                vec![("configs/security.yaml", Some(security))],
            ),
            None,
        )
        .unwrap();
    assert!(
        matches!(outcome, ApplyOutcome::Applied { .. }),
        "{outcome:?}"
    );
    let tool = std::fs::read_to_string(repos().join("customer/acme-corp/tools/acme-discount.yaml"))
        .unwrap()
        .replace("priority: 40", "priority: 41");
    let outcome = store
        .apply(
            &event(
                "customer/acme-corp",
                "a1",
                vec![("tools/acme-discount.yaml", Some(tool))],
            ),
            None,
        )
        .unwrap();
    assert!(
        matches!(
            &outcome,
            ApplyOutcome::Rejected {
                rejection: Rejection::Signature(_),
                ..
            }
        ),
        "{outcome:?}"
    );
    // globex has no such requirement.
    let routing = main_file("configs/routing.yaml");
    let outcome = store
        .apply(
            &event(
                "customer/globex-inc",
                "g1",
                vec![("configs/routing.yaml", Some(routing))],
            ),
            None,
        )
        .unwrap();
    assert!(
        matches!(outcome, ApplyOutcome::Applied { .. }),
        "{outcome:?}"
    );
}

/// A generated tool file.
fn synth_tool(name: &str, revision: usize) -> String {
    format!(
        "version: 1\nname: {name}\npatterns: ['\\b{name}\\b']\ntool:\n  kind: template\n  \
         template: \"{name} at {revision}\"\n"
    )
}

/// A generated workflow whose steps use `tools`, the last also as a compensation.
fn synth_workflow(name: &str, tools: &[&str]) -> String {
    let mut content = format!("version: 1\nname: {name}\nsteps:\n");
    for (i, tool) in tools.iter().enumerate() {
        content.push_str(&format!("  - name: s{i}\n    tool: {tool}\n"));
    }
    content.push_str(&format!("    compensation: {}\n", tools[tools.len() - 1]));
    content
}

/// Root commits large enough for a batch to parse on several threads, then commits that
/// break and mend each whole-branch check (duplicates, references to `main`'s tools,
/// shadowing, a bad pattern), some while `main` serves an older commit than its head.
fn checked_history() -> (Vec<CommitEvent>, Vec<(&'static str, AuditResult)>) {
    use AuditResult::{Applied, Deleted, Rejected};
    let tools = |prefix: &str, n: usize| -> Vec<(String, Option<String>)> {
        (0..n)
            .map(|i| {
                let name = format!("{prefix}{i:02}");
                (format!("tools/{name}.yaml"), Some(synth_tool(&name, 0)))
            })
            .collect()
    };
    let commit = |branch: &str, id: &str, changes: Vec<(String, Option<String>)>| {
        event(
            branch,
            id,
            changes
                .iter()
                .map(|(p, c)| (p.as_str(), c.clone()))
                .collect(),
        )
    };
    let one = |path: &str, content: Option<String>| vec![(path.to_string(), content)];
    let mut main_root = tools("t", 80);
    main_root.push((
        "workflows/wm.yaml".into(),
        Some(synth_workflow("wm", &["t01", "t02"])),
    ));
    let mut acme_root = tools("x", 70);
    acme_root.push((
        "workflows/wa.yaml".into(),
        Some(synth_workflow("wa", &["t03", "x01"])),
    ));
    let beta = "customer/beta";
    let acme = "customer/acme";
    let mut events = vec![
        commit("main", "m0", main_root),
        commit(acme, "a0", acme_root),
        commit(beta, "b0", tools("y", 10)),
        commit(
            "main",
            "m1",
            one("tools/t05.yaml", Some(synth_tool("t05", 1))),
        ),
        // A second `t06`.
        commit(
            "main",
            "m2",
            one("tools/dup.yaml", Some(synth_tool("t06", 2))),
        ),
        // Checked against the `main` still served, not its rejected head.
        commit(
            acme,
            "a1",
            one("tools/x05.yaml", Some(synth_tool("x05", 3))),
        ),
        commit("main", "m3", one("tools/dup.yaml", None)),
        commit(
            "main",
            "m4",
            one(
                "workflows/wm.yaml",
                Some(synth_workflow("wm", &["t01", "nope"])),
            ),
        ),
        commit(
            beta,
            "b1",
            one(
                "workflows/wb.yaml",
                Some(synth_workflow("wb", &["t01", "y01"])),
            ),
        ),
        commit(
            "main",
            "m5",
            one(
                "workflows/wm.yaml",
                Some(synth_workflow("wm", &["t01", "t04"])),
            ),
        ),
        // A tenant tool named like main's workflow hides it.
        commit(acme, "a2", one("tools/wm.yaml", Some(synth_tool("wm", 4)))),
        // Main no longer has `t03`, which acme's workflow uses: acme's next commit fails.
        commit("main", "m6", one("tools/t03.yaml", None)),
        commit(
            acme,
            "a3",
            one("tools/x06.yaml", Some(synth_tool("x06", 5))),
        ),
        commit(
            acme,
            "a4",
            one("tools/t03.yaml", Some(synth_tool("t03", 6))),
        ),
        // A workflow named like a tool.
        commit(
            acme,
            "a5",
            one("workflows/x07.yaml", Some(synth_workflow("x07", &["x01"]))),
        ),
        commit(acme, "a6", one("workflows/x07.yaml", None)),
        commit(
            acme,
            "a7",
            one(
                "tools/x08.yaml",
                Some(synth_tool("x08", 7).replace("\\bx08\\b", "(x08")),
            ),
        ),
        commit(
            acme,
            "a8",
            one("tools/x08.yaml", Some(synth_tool("x08", 8))),
        ),
        // A step naming a workflow.
        commit(
            beta,
            "b2",
            one("workflows/wb.yaml", Some(synth_workflow("wb", &["wm"]))),
        ),
    ];
    let mut push = commit(
        beta,
        "b3",
        one("tools/y00.yaml", Some(synth_tool("y00", 9))),
    );
    push.kind = CommitEventKind::ForcePush;
    events.push(push);
    let mut delete = event(acme, "", vec![]);
    delete.kind = CommitEventKind::BranchDeleted;
    events.push(delete);
    events.push(commit(
        "main",
        "m7",
        one("tools/t07.yaml", Some(synth_tool("t07", 10))),
    ));
    let expected = vec![
        ("m0", Applied),
        ("a0", Applied),
        ("b0", Applied),
        ("m1", Applied),
        ("m2", Rejected),
        ("a1", Applied),
        ("m3", Applied),
        ("m4", Rejected),
        ("b1", Applied),
        ("m5", Applied),
        ("a2", Applied),
        ("m6", Applied),
        ("a3", Rejected),
        ("a4", Applied),
        ("a5", Rejected),
        ("a6", Applied),
        ("a7", Rejected),
        ("a8", Applied),
        ("b2", Rejected),
        ("b3", Applied),
        ("", Deleted),
        ("m7", Applied),
    ];
    (events, expected)
}

/// What the pipeline's loader says of each commit of `events`, replayed on plain maps of
/// files: `None` for a valid commit, its diagnostics otherwise (deletions give `None`).
fn loader_verdicts(
    events: &[CommitEvent],
) -> Vec<Option<Vec<volcano_pipeline::registry::Diagnostic>>> {
    use std::collections::BTreeMap;
    let mut heads: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut served: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let pairs = |files: &BTreeMap<String, String>| -> Vec<(String, String)> {
        files.iter().map(|(p, c)| (p.clone(), c.clone())).collect()
    };
    events
        .iter()
        .map(|e| {
            if e.kind == CommitEventKind::BranchDeleted {
                heads.remove(&e.branch);
                served.remove(&e.branch);
                return None;
            }
            let head = heads.entry(e.branch.clone()).or_default();
            if e.kind == CommitEventKind::ForcePush {
                head.clear();
            }
            for change in &e.changes {
                match &change.content {
                    Some(content) => head.insert(change.path.clone(), content.clone()),
                    None => head.remove(&change.path),
                };
            }
            let result = if e.branch == "main" {
                volcano_pipeline::registry::load_files(pairs(head)).map(|_| ())
            } else {
                let main = served
                    .get("main")
                    .map(|files| volcano_pipeline::registry::load_files(pairs(files)).unwrap())
                    .unwrap_or_default();
                load_tenant_files(&main, pairs(head)).map(|_| ())
            };
            match result {
                Ok(()) => {
                    served.insert(e.branch.clone(), head.clone());
                    None
                }
                Err(diagnostics) => Some(diagnostics),
            }
        })
        .collect()
}

#[test]
fn batches_decide_every_commit_as_one_by_one_and_as_the_loader_does() {
    let (events, expected) = checked_history();
    let one_dir = TempDir::new().unwrap();
    let one = Store::open(one_dir.path()).unwrap();
    let outcomes: Vec<ApplyOutcome> = events.iter().map(|e| one.apply(e, None).unwrap()).collect();
    let audit = one.audit(usize::MAX).unwrap();
    let decided: Vec<(&str, AuditResult)> = audit
        .iter()
        .rev()
        .map(|r| (r.commit.as_str(), r.result))
        .collect();
    assert_eq!(decided, expected);
    // The store's verdicts and reasons are the loader's, commit by commit.
    for (outcome, verdict) in outcomes.iter().zip(loader_verdicts(&events)) {
        match (outcome, verdict) {
            (ApplyOutcome::Applied { .. } | ApplyOutcome::Deleted { .. }, None) => {}
            (
                ApplyOutcome::Rejected {
                    rejection: Rejection::Invalid(diagnostics),
                    ..
                },
                Some(expected),
            ) => assert_eq!(diagnostics, &expected),
            (outcome, verdict) => panic!("{outcome:?} where the loader says {verdict:?}"),
        }
    }
    // The same history in one batch (its first files parsed on several threads) and in
    // small ones: the same outcomes, audit and state.
    for size in [events.len(), 4] {
        let dir = TempDir::new().unwrap();
        let batched = Store::open_with(dir.path(), volcano_store::Durability::Replay).unwrap();
        let batched_outcomes: Vec<ApplyOutcome> = events
            .chunks(size)
            .flat_map(|chunk| {
                batched
                    .apply_batch(chunk.iter().map(|e| (e, None)))
                    .unwrap()
            })
            .collect();
        assert_eq!(batched_outcomes, outcomes, "batches of {size}");
        assert_eq!(
            batched.audit(usize::MAX).unwrap(),
            audit,
            "batches of {size}"
        );
        assert_eq!(
            batched.hash().unwrap(),
            one.hash().unwrap(),
            "batches of {size}"
        );
    }
}

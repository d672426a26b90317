//! `RefWatcher` against real `git commit`s: inotify wakes at once, the poll is a fallback,
//! and reading the repository does not wake the watcher.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::TestRepo;
use volcano_gitops::{BranchLayout, ConfigRepo, RefWatcher, WatchOptions, mark_published};

fn publish_all(repo: &ConfigRepo, published: &mut BTreeMap<String, String>) -> usize {
    let events = repo.pending_events(published).unwrap();
    for event in &events {
        mark_published(published, event);
    }
    events.len()
}

#[test]
fn inotify_wakes_the_caller_right_after_a_commit() {
    let mut repo = TestRepo::new();
    repo.write("tools/a.yaml", "a\n");
    repo.commit("First");
    let config = ConfigRepo::open(repo.path(), BranchLayout::default()).unwrap();
    let mut published = BTreeMap::new();
    publish_all(&config, &mut published);

    // A poll interval far beyond the test's deadline: only inotify can wake the watcher.
    let options = WatchOptions {
        poll_interval: Duration::from_secs(60),
        use_notify: true,
    };
    let mut watcher = RefWatcher::with_options(repo.path(), &options).unwrap();
    assert!(watcher.is_notify_active());
    assert!(
        !watcher.wait(Duration::from_millis(50)),
        "nothing changed yet"
    );

    let path = repo.path().to_path_buf();
    let committer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(path.join("tools/b.yaml"), "b\n").unwrap();
        common::git(&path, &["add", "-A"]);
        common::git(&path, &["commit", "-q", "-m", "Second"]);
        (Instant::now(), repo)
    });

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen_at = None;
    while Instant::now() < deadline {
        if watcher.wait(deadline - Instant::now()) && publish_all(&config, &mut published) > 0 {
            seen_at = Some(Instant::now());
            break;
        }
    }
    let seen_at = seen_at.expect("the commit was seen");
    let (committed_at, _repo) = committer.join().unwrap();
    let lag = seen_at.saturating_duration_since(committed_at);
    assert!(
        lag < Duration::from_millis(100),
        "seen {lag:?} after git commit returned"
    );

    // The watcher's own reads (pending_events, the fingerprint) are not changes: once the
    // burst of the commit has been taken, it stays quiet.
    while watcher.wait(Duration::from_millis(100)) {
        assert_eq!(publish_all(&config, &mut published), 0);
    }
    assert!(!watcher.wait(Duration::from_millis(200)));
}

#[test]
fn new_tenant_branches_and_packed_refs_wake_the_watcher() {
    let mut repo = TestRepo::new();
    repo.write("tools/a.yaml", "a\n");
    repo.commit("First");
    let mut watcher = RefWatcher::with_options(
        repo.path(),
        &WatchOptions {
            poll_interval: Duration::from_secs(60),
            use_notify: true,
        },
    )
    .unwrap();

    repo.git(&["branch", "customer/acme"]);
    assert!(
        watcher.wait(Duration::from_secs(5)),
        "a new branch in a new directory"
    );
    while watcher.wait(Duration::from_millis(50)) {}

    repo.git(&["pack-refs", "--all"]);
    assert!(
        watcher.wait(Duration::from_secs(5)),
        "packed-refs rewritten"
    );
}

#[test]
fn polling_alone_notices_a_commit() {
    let mut repo = TestRepo::new();
    repo.write("tools/a.yaml", "a\n");
    repo.commit("First");
    let options = WatchOptions {
        poll_interval: Duration::from_millis(50),
        use_notify: false,
    };
    let mut watcher = RefWatcher::with_options(repo.path(), &options).unwrap();
    assert!(!watcher.is_notify_active());
    assert!(
        !watcher.wait(Duration::from_millis(150)),
        "no change, no wake-up"
    );

    repo.write("tools/b.yaml", "b\n");
    repo.commit("Second");
    let started = Instant::now();
    assert!(watcher.wait(Duration::from_secs(5)));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!watcher.wait(Duration::from_millis(150)));
}

#[test]
fn a_directory_that_is_not_a_repository_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(RefWatcher::new(dir.path()).is_err());
}

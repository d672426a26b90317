//! `pending_events` on a config repository with 10,000 commits on main.
//!
//! Run with `cargo bench -p volcano-gitops --bench pending_events`. Prints, side by side:
//! opening the repository and listing its branches (the baseline every call pays), the whole
//! history walk (what `volcano replay --from git` costs, as events/s), and the latencies the
//! watcher pays per wake-up: nothing new, one new commit, and a force-push (which walks the
//! whole first-parent chain to find out).
//!
//! The history is written with `git fast-import` (packed, like a cloned repository); the
//! newest commit is made with `git commit` (a loose object, like a user's commit).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use volcano_gitops::{BranchLayout, ConfigRepo, pending_events};

const COMMITS: usize = 10_000;
const TOOLS: usize = 200;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let built = Instant::now();
    build_repository(dir.path());
    println!(
        "repository: {COMMITS} commits on main, {TOOLS} tools, built in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let layout = BranchLayout::default();
    let path = dir.path();
    let tip = git(path, &["rev-parse", "main"]);
    let parent = git(path, &["rev-parse", "main~1"]);
    let old = git(path, &["rev-parse", "main~5000"]);
    let published = |id: &str| BTreeMap::from([("main".to_string(), id.to_string())]);
    let repo = ConfigRepo::open(path, layout.clone()).unwrap();

    println!(
        "\n{:<48} {:>10} {:>10} {:>10}",
        "operation", "p50", "p99", "max"
    );
    report(
        "baseline: ConfigRepo::open",
        &sample(500, || {
            ConfigRepo::open(path, layout.clone()).unwrap();
        }),
    );
    report(
        "baseline: branch_tips (open repo)",
        &sample(2000, || {
            repo.branch_tips().unwrap();
        }),
    );
    let nothing_new = published(&tip);
    report(
        "no-op, open repo",
        &sample(2000, || {
            assert!(repo.pending_events(&nothing_new).unwrap().is_empty());
        }),
    );
    report(
        "no-op, pending_events(path) (opens each call)",
        &sample(500, || {
            assert!(
                pending_events(path, &nothing_new, &layout)
                    .unwrap()
                    .is_empty()
            );
        }),
    );
    let one_behind = published(&parent);
    report(
        "one new commit, open repo",
        &sample(2000, || {
            assert_eq!(repo.pending_events(&one_behind).unwrap().len(), 1);
        }),
    );
    report(
        "one new commit, pending_events(path)",
        &sample(500, || {
            assert_eq!(pending_events(path, &one_behind, &layout).unwrap().len(), 1);
        }),
    );
    let rewritten = published("0123456789012345678901234567890123456789");
    report(
        "force-push (walks all 10,000 commits)",
        &sample(5, || {
            assert_eq!(repo.pending_events(&rewritten).unwrap().len(), 1);
        }),
    );

    println!();
    let five_thousand_behind = published(&old);
    let started = Instant::now();
    let events = repo.pending_events(&five_thousand_behind).unwrap();
    throughput(
        "5,000 new commits, open repo",
        events.len(),
        started.elapsed(),
    );
    for round in 1..=3 {
        let started = Instant::now();
        let fresh = ConfigRepo::open(path, layout.clone()).unwrap();
        let events = fresh.history_events().unwrap();
        assert_eq!(events.len(), COMMITS);
        throughput(
            &format!("full history walk, fresh repo (run {round})"),
            events.len(),
            started.elapsed(),
        );
    }
}

/// Main with `COMMITS - 1` packed commits touching one tool each (every 10th also the README,
/// every 100th a workflow), then one loose commit on top.
fn build_repository(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    let mut stream = Vec::new();
    for i in 0..COMMITS - 1 {
        let time = 1_700_000_000 + i as i64 * 60;
        let message = format!("Change tool {} (commit {i})", i % TOOLS);
        writeln!(stream, "commit refs/heads/main").unwrap();
        writeln!(stream, "committer Bench <bench@example.com> {time} +0000").unwrap();
        writeln!(stream, "data {}\n{message}", message.len()).unwrap();
        let mut file = |path: String, body: String| {
            writeln!(
                stream,
                "M 100644 inline {path}\ndata {}\n{body}",
                body.len()
            )
            .unwrap();
        };
        file(
            format!("tools/tool-{:03}.yaml", i % TOOLS),
            format!("version: 1\nname: tool-{}\nrevision: {i}\n", i % TOOLS),
        );
        if i % 10 == 0 {
            file("README.md".into(), format!("revision {i}\n"));
        }
        if i % 100 == 0 {
            file(
                "workflows/flow.yaml".into(),
                format!("version: 1\nrevision: {i}\n"),
            );
        }
    }
    let mut import = command(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    import.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(import.wait().unwrap().success());
    git(dir, &["reset", "-q", "--hard", "main"]);
    std::fs::write(
        dir.join("tools/tool-000.yaml"),
        "version: 1\nname: tool-0\nlast: true\n",
    )
    .unwrap();
    git(dir, &["commit", "-q", "-am", "One more"]);
}

fn command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com");
    command
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = command(dir).args(args).output().expect("git runs");
    assert!(output.status.success(), "git {args:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Runs `f` `n` times (after a few warm-up runs) and returns the sorted durations.
fn sample(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..n.min(3) {
        f();
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn report(name: &str, times: &[Duration]) {
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<48} {:>10} {:>10} {:>10}",
        show(at(0.5)),
        show(at(0.99)),
        show(at(1.0))
    );
}

fn throughput(name: &str, events: usize, took: Duration) {
    println!(
        "{name:<48} {events:>6} events in {:>9} = {:>9.0} events/s",
        show(took),
        events as f64 / took.as_secs_f64()
    );
}

fn show(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.2} ms", micros / 1000.0)
    }
}

//! Replay speed: 10,000 synthetic commits (5 changed tool files each, on `main` and four
//! tenants) applied live (one `apply` per event with its offset, write-ahead log on), replayed
//! one by one and in batches (no offsets, no WAL), beside a baseline measured in the same run:
//! the same bytes put into RocksDB with one `WriteBatch` per commit and no validation.
//!
//! `cargo bench -p volcano-store --bench replay` (env `COMMITS` changes the count; `MODES`, a
//! comma-separated list of `raw`, `parse`, `live`, `one`, `batch`, runs only those, e.g. under
//! a profiler).

use std::time::Instant;

/// The allocator of the `volcano` binary, whose replay this stands for.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rocksdb::{DB, Options, WriteBatch, WriteOptions};
use tempfile::TempDir;
use volcano_pipeline::registry::{CommitEvent, CommitEventKind, PathChange};
use volcano_store::{ApplyOutcome, Durability, Store};

const MAIN_TOOLS: usize = 200;
const TENANT_TOOLS: usize = 50;
const TENANTS: usize = 4;
const FILES_PER_COMMIT: usize = 5;

fn tool(prefix: &str, i: usize, revision: usize) -> String {
    format!(
        "version: 1\n\
         name: synth-{prefix}-{i}\n\
         description: Synthetic tool {i}, revision {revision}.\n\
         patterns:\n\
         \x20 - '\\bsynth\\s+{prefix}\\s+{i}\\b'\n\
         \x20 - '^\\s*(?:please\\s+)?run\\s+synth\\s+{i}\\s+(?:now|later|at\\s+\\d+)\\b'\n\
         priority: {priority}\n\
         examples:\n\
         \x20 - synth {prefix} {i}\n\
         tool:\n\
         \x20 kind: template\n\
         \x20 template: \"Synthetic answer {i} at revision {revision}.\"\n",
        priority = i % 50,
    )
}

fn event(branch: &str, commit: String, changes: Vec<PathChange>) -> CommitEvent {
    CommitEvent {
        kind: CommitEventKind::Commit,
        commit_id: commit,
        branch: branch.to_string(),
        author: "Bench <bench@volcano.example>".into(),
        changes,
        ..CommitEvent::default()
    }
}

/// Root commits creating every branch, then `commits` commits of `FILES_PER_COMMIT` changes.
fn history(commits: usize) -> Vec<CommitEvent> {
    let mut branches = vec![("main".to_string(), "m".to_string(), MAIN_TOOLS)];
    for t in 0..TENANTS {
        branches.push((format!("customer/t{t}"), format!("t{t}"), TENANT_TOOLS));
    }
    let mut events = Vec::new();
    for (branch, prefix, count) in &branches {
        let changes = (0..*count)
            .map(|i| PathChange {
                path: format!("tools/synth-{prefix}-{i}.yaml"),
                content: Some(tool(prefix, i, 0)),
            })
            .collect();
        events.push(event(branch, format!("root-{prefix}"), changes));
    }
    for n in 0..commits {
        // Two commits in five on main, the rest spread over the tenants.
        let (branch, prefix, count) = &branches[if n % 5 < 2 { 0 } else { 1 + n % TENANTS }];
        let changes = (0..FILES_PER_COMMIT)
            .map(|k| {
                let i = (n * 7 + k * 13) % count;
                PathChange {
                    path: format!("tools/synth-{prefix}-{i}.yaml"),
                    content: Some(tool(prefix, i, n + 1)),
                }
            })
            .collect();
        events.push(event(branch, format!("c{n:08}"), changes));
    }
    events
}

struct Figure {
    name: &'static str,
    seconds: f64,
}

fn main() {
    let commits: usize = std::env::var("COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let events = history(commits);
    let changes: usize = events.iter().map(|e| e.changes.len()).sum();
    println!(
        "replay: {} events ({commits} commits of {FILES_PER_COMMIT} files after {} root commits), \
         {changes} change events",
        events.len(),
        events.len() - commits
    );
    let modes = std::env::var("MODES").unwrap_or_default();
    let runs = |mode: &str| modes.is_empty() || modes.split(',').any(|m| m.trim() == mode);
    let mut figures = Vec::new();
    let mut hashes = Vec::new();

    // Baseline: the same bytes into RocksDB, one WriteBatch per commit, WAL on, no validation.
    if runs("raw") {
        let dir = TempDir::new().unwrap();
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(rocksdb::DBCompressionType::None);
        options.set_write_buffer_size(32 << 20);
        let db = DB::open(&options, dir.path()).unwrap();
        let write = WriteOptions::default();
        let start = Instant::now();
        for e in &events {
            let mut batch = WriteBatch::default();
            for c in &e.changes {
                let key = [e.branch.as_bytes(), b"\0", c.path.as_bytes()].concat();
                batch.put(key, c.content.as_deref().unwrap_or("").as_bytes());
            }
            db.write_opt(batch, &write).unwrap();
        }
        figures.push(Figure {
            name: "baseline: raw WriteBatch per commit",
            seconds: start.elapsed().as_secs_f64(),
        });
    }

    // What the per-file checks alone cost (`load_file` on every changed file, no store).
    if runs("parse") {
        let start = Instant::now();
        for e in &events {
            for c in &e.changes {
                let loaded = volcano_pipeline::registry::load_file(
                    &c.path,
                    c.content.as_deref().unwrap_or(""),
                );
                assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
            }
        }
        figures.push(Figure {
            name: "parse only: load_file on each changed file",
            seconds: start.elapsed().as_secs_f64(),
        });
    }

    // Live: one apply per event, with offsets, WAL on.
    if runs("live") {
        let dir = TempDir::new().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let start = Instant::now();
        for (offset, e) in events.iter().enumerate() {
            let outcome = store.apply(e, Some((0, offset as i64))).unwrap();
            assert!(
                matches!(outcome, ApplyOutcome::Applied { .. }),
                "{outcome:?}"
            );
        }
        figures.push(Figure {
            name: "store: apply one by one, live (offsets, WAL)",
            seconds: start.elapsed().as_secs_f64(),
        });
        hashes.push(store.hash().unwrap());
    }

    // Replay one by one, no offsets, no WAL.
    if runs("one") {
        let dir = TempDir::new().unwrap();
        let store = Store::open_with(dir.path(), Durability::Replay).unwrap();
        let start = Instant::now();
        for e in &events {
            store.apply(e, None).unwrap();
        }
        store.flush().unwrap();
        figures.push(Figure {
            name: "store: replay one by one (no WAL, flushed)",
            seconds: start.elapsed().as_secs_f64(),
        });
        hashes.push(store.hash().unwrap());
    }

    // Replay in batches of 1,000 events.
    if runs("batch") {
        let dir = TempDir::new().unwrap();
        let store = Store::open_with(dir.path(), Durability::Replay).unwrap();
        let start = Instant::now();
        for chunk in events.chunks(1000) {
            store.apply_batch(chunk.iter().map(|e| (e, None))).unwrap();
        }
        store.flush().unwrap();
        figures.push(Figure {
            name: "store: replay in batches of 1000 (no WAL, flushed)",
            seconds: start.elapsed().as_secs_f64(),
        });
        hashes.push(store.hash().unwrap());
        // The compile the caller asks for after a replay, for scale.
        let start = Instant::now();
        let handle = store.registry_handle().unwrap();
        println!(
            "compiling {} tenants after the replay: {:.3} s",
            handle.tenants().len(),
            start.elapsed().as_secs_f64()
        );
    }
    assert!(
        hashes.windows(2).all(|w| w[0] == w[1]),
        "every mode ends in the same state: {hashes:?}"
    );

    println!(
        "{:<52} {:>9} {:>12} {:>16}",
        "mode", "seconds", "commits/s", "change events/s"
    );
    for f in &figures {
        println!(
            "{:<52} {:>9.3} {:>12.0} {:>16.0}",
            f.name,
            f.seconds,
            events.len() as f64 / f.seconds,
            changes as f64 / f.seconds
        );
    }
    if let Some(hash) = hashes.first() {
        println!("state hash: {hash}");
    }
}

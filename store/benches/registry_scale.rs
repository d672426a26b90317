//! A large registry: 100 tenants over a `main` of 1,000 tools, compiled cold, then a `main`
//! commit recompiled and swapped for every tenant while reader threads classify requests
//! against the live handle, as the pipeline does. Beside it, in the same run, the readers'
//! latency with no swap going on: a swap that stalled requests would show in the difference.
//!
//! `cargo bench --workspace --bench registry_scale` (env `TENANTS`, default 100; `TOOLS`, main's
//! tools, default 1,000; `TENANT_TOOLS`, each tenant's own, default 10; `READERS`, default 1).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use volcano_pipeline::classify::{Classification, classify};
use volcano_pipeline::registry::{CommitEvent, CommitEventKind, PathChange, RegistryHandle};
use volcano_pipeline::tools::ToolServices;
use volcano_store::{ApplyOutcome, Store};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn tool(prefix: &str, i: usize, revision: usize) -> String {
    format!(
        "version: 1\n\
         name: {prefix}-tool-{i}\n\
         patterns:\n\
         \x20 - '\\bsynth\\s+{prefix}\\s+{i}\\b'\n\
         \x20 - '^\\s*(?:please\\s+)?run\\s+{prefix}\\s+{i}(?:\\s+r{revision})?\\s*$'\n\
         priority: {priority}\n\
         tool:\n\
         \x20 kind: template\n\
         \x20 template: \"answer {i}\"\n",
        priority = i % 50,
    )
}

fn commit(branch: &str, id: &str, changes: Vec<PathChange>) -> CommitEvent {
    CommitEvent {
        kind: CommitEventKind::Commit,
        commit_id: id.to_string(),
        branch: branch.to_string(),
        author: "Bench <bench@volcano.example>".into(),
        changes,
        ..CommitEvent::default()
    }
}

fn tools(prefix: &str, count: usize) -> Vec<PathChange> {
    (0..count)
        .map(|i| PathChange {
            path: format!("tools/{prefix}-tool-{i:04}.yaml"),
            content: Some(tool(prefix, i, 0)),
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<44} n={:<8} p50 {:>7.1} µs  p99 {:>7.1} µs  p99.9 {:>8.1} µs  max {:>8.1} µs",
        samples.len(),
        us(percentile(&samples, 0.5)),
        us(percentile(&samples, 0.99)),
        us(percentile(&samples, 0.999)),
        us(*samples.last().unwrap()),
    );
}

/// Classifies requests for every tenant in turn until `stop`, timing each.
fn read_until(
    handle: &RegistryHandle,
    tenants: &[String],
    main_tools: usize,
    stop: &AtomicBool,
) -> Vec<Duration> {
    let mut samples = Vec::new();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let tenant = &tenants[n % tenants.len()];
        let text = format!("please synth main {}", (n * 7919) % main_tools);
        let start = Instant::now();
        let registry = handle.load(tenant);
        let outcome = classify(&registry, &text);
        samples.push(start.elapsed());
        assert!(matches!(outcome, Classification::Matched { .. }), "{text}");
        n += 1;
    }
    samples
}

fn main() {
    let tenants = env("TENANTS", 100);
    let main_tools = env("TOOLS", 1000);
    let tenant_tools = env("TENANT_TOOLS", 10);
    let readers = env("READERS", 1);
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut events = vec![commit("main", "m0", tools("main", main_tools))];
    for t in 0..tenants {
        let prefix = format!("t{t}");
        events.push(commit(
            &format!("customer/{prefix}"),
            &format!("{prefix}-0"),
            tools(&prefix, tenant_tools),
        ));
    }
    let start = Instant::now();
    for e in &events {
        let outcome = store.apply(e, None).unwrap();
        assert!(
            matches!(outcome, ApplyOutcome::Applied { .. }),
            "{outcome:?}"
        );
    }
    println!(
        "registry of {tenants} tenants, main {main_tools} tools, {tenant_tools} own tools each ({} patterns per tenant)",
        (main_tools + tenant_tools) * 2
    );
    println!(
        "apply the {} root commits: {:.2} s",
        events.len(),
        start.elapsed().as_secs_f64()
    );
    let services = ToolServices::default();
    let start = Instant::now();
    let handle = store.registry_handle_with(&services).unwrap();
    println!(
        "cold compile of every tenant: {:.2} s",
        start.elapsed().as_secs_f64()
    );
    let names = handle.tenants();
    assert_eq!(names.len(), tenants + 1);
    // Warm up: each main pattern's own regex is compiled on its first match, once for all
    // tenants (they share main's).
    let start = Instant::now();
    let main = handle.load("main");
    for i in 0..main_tools {
        classify(&main, &format!("please synth main {i}"));
    }
    println!(
        "first match of each main tool (compiles its regex): {:.2} s",
        start.elapsed().as_secs_f64()
    );

    // Baseline: readers with nothing else going on, for as long as a swap takes.
    let measure = |during: &mut dyn FnMut()| -> Vec<Duration> {
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::scope(|scope| {
            let jobs: Vec<_> = (0..readers)
                .map(|_| {
                    let (handle, names, stop) = (&handle, &names, &stop);
                    scope.spawn(move || read_until(handle, names, main_tools, stop))
                })
                .collect();
            during();
            stop.store(true, Ordering::Relaxed);
            jobs.into_iter().flat_map(|j| j.join().unwrap()).collect()
        })
    };
    // A main commit that changes one tool's pattern: every tenant is recompiled and swapped.
    let mut swaps = Vec::new();
    let mut during = Vec::new();
    let mut idle = Vec::new();
    for round in 1..=5 {
        let change = commit(
            "main",
            &format!("m{round}"),
            vec![PathChange {
                path: format!("tools/main-tool-{:04}.yaml", round * 37),
                content: Some(tool("main", round * 37, round)),
            }],
        );
        let outcome = store.apply(&change, None).unwrap();
        let ApplyOutcome::Applied {
            tenants_affected, ..
        } = outcome
        else {
            panic!("{outcome:?}");
        };
        let mut took = Duration::ZERO;
        during.extend(measure(&mut || {
            let start = Instant::now();
            let errors = store.refresh(&handle, &tenants_affected, &services);
            took = start.elapsed();
            assert!(errors.is_empty(), "{errors:?}");
        }));
        swaps.push(took);
        idle.extend(measure(&mut || std::thread::sleep(took)));
        assert!(
            names
                .iter()
                .all(|t| handle.load(t).commit.starts_with(&format!("m{round}")))
        );
    }
    swaps.sort();
    println!(
        "main commit → all {} tenants recompiled and swapped: median {:.1} ms, max {:.1} ms (5 commits)",
        names.len(),
        swaps[2].as_secs_f64() * 1e3,
        swaps[4].as_secs_f64() * 1e3
    );
    report("baseline: classify with no swap", idle);
    report("classify while every tenant is swapped", during);
}

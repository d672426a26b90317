//! The registry's commands: `repo init`, `validate`, `replay` and `registry hash|show|audit`.
//!
//! `replay` rebuilds a registry state from scratch (from the commits topic or straight from
//! the repository's history) into a directory of its own, so it can run beside a live
//! instance; the state is built in `<dir>.partial` and renamed when complete, so a replay
//! killed midway leaves nothing that looks finished, and the next one starts over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rdkafka::Message;
use rdkafka::Offset;
use volcano_connectors::config::VolcanoConfig;
use volcano_connectors::{git_registry, registry_files};
use volcano_pipeline::registry::CommitEvent;
use volcano_pipeline::tools::ToolServices;
use volcano_store::{ApplyOutcome, Durability, Store, StoreError};

/// Events applied per write batch during a replay.
const REPLAY_BATCH: usize = 1_000;

/// `volcano repo init [DIR] [--from CONTENT]`.
pub fn repo_init(
    config: &VolcanoConfig,
    dir: Option<PathBuf>,
    from: Option<PathBuf>,
) -> Result<()> {
    let target = dir.unwrap_or_else(|| config.registry_repo());
    let content = from.unwrap_or_else(|| config.stack.config_repo.clone());
    let summary = volcano_gitops::init_repo(&content, &target, &git_registry::layout(config))
        .with_context(|| format!("creating the config repository {}", target.display()))?;
    if summary.already_initialised {
        println!("{} is already a config repository", target.display());
    } else {
        println!("created {} from {}", target.display(), content.display());
    }
    for branch in &summary.branches {
        println!(
            "  {:<24} {}",
            branch.branch,
            &branch.tip[..12.min(branch.tip.len())]
        );
        for subject in &branch.commits {
            println!("      {subject}");
        }
    }
    Ok(())
}

/// `volcano validate [PATH]`: the checks a commit must pass, on files in a directory. PATH is
/// either example content (`main/`, `customer/<tenant>/`) or one branch's work tree (a tenant
/// branch is checked over `main` as it is in the same repository). Prints
/// `path:line:col: message` per problem; fails when there is any.
pub fn validate(config: &VolcanoConfig, path: &Path) -> Result<()> {
    if path.join("main").is_dir() {
        return match registry_files::load_registry(path, &ToolServices::default()) {
            Ok(handle) => {
                println!(
                    "ok: main and {} tenant(s) in {}",
                    handle.tenants().len().saturating_sub(1),
                    path.display()
                );
                Ok(())
            }
            Err(e) => bail!("{e}"),
        };
    }
    let layout = git_registry::layout(config);
    let files = volcano_pipeline::registry::read_tree(path).map_err(diagnostics)?;
    // Not a repository (or no branch checked out): the files are checked as main's.
    let repo = volcano_gitops::ConfigRepo::open(path, layout.clone()).ok();
    let branch = repo
        .as_ref()
        .and_then(|r| r.current_branch().ok().flatten());
    let result = match (&repo, branch.as_deref().and_then(|b| layout.tenant_of(b))) {
        (Some(repo), Some(tenant)) => {
            let main_files = repo.branch_files(&layout.main)?.with_context(|| {
                format!("no branch {} to check tenant {tenant} over", layout.main)
            })?;
            let main = volcano_pipeline::registry::load_files(main_files).map_err(diagnostics)?;
            volcano_pipeline::registry::load_tenant_files(&main, files).and_then(|own| {
                let view = volcano_pipeline::registry::overlay(&main, &own);
                volcano_pipeline::registry::compile(&view, tenant, "work-tree").map(|_| ())
            })
        }
        _ => volcano_pipeline::registry::load_files(files).and_then(|definitions| {
            volcano_pipeline::registry::compile(&definitions, "main", "work-tree").map(|_| ())
        }),
    };
    result.map_err(diagnostics)?;
    println!(
        "ok: {} ({})",
        path.display(),
        branch.unwrap_or_else(|| "no branch".into())
    );
    Ok(())
}

fn diagnostics(list: Vec<volcano_pipeline::registry::Diagnostic>) -> anyhow::Error {
    let lines: Vec<String> = list.iter().map(ToString::to_string).collect();
    anyhow::anyhow!("{} problem(s):\n{}", lines.len(), lines.join("\n"))
}

/// Where a replay goes by default, next to the live state.
pub fn default_replay_dir(config: &VolcanoConfig) -> PathBuf {
    config.stack.data_dir.join("registry-replay")
}

/// Where events for a replay come from.
pub enum ReplaySource {
    /// The commits topic from offset 0.
    Kafka,
    /// Every branch's history in the repository at this path.
    Git(PathBuf),
}

/// `volcano replay --from kafka|git [PATH] [--data-dir DIR]`.
pub fn replay(config: &VolcanoConfig, source: ReplaySource, dir: PathBuf) -> Result<()> {
    let live = config.registry_data_dir();
    if same_dir(&dir, &live) {
        bail!(
            "{} is the live registry of this configuration; replay into another --data-dir",
            dir.display()
        );
    }
    let partial = PathBuf::from(format!("{}.partial", dir.display()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing the unfinished replay {}", partial.display()))?;
    }
    let store =
        Store::open_with(&partial, Durability::Replay)?.with_layout(git_registry::layout(config));
    let started = Instant::now();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut tally = |outcomes: Vec<ApplyOutcome>| {
        for outcome in outcomes {
            *counts
                .entry(git_registry::outcome_name(&outcome))
                .or_default() += 1;
        }
    };
    let events = match source {
        ReplaySource::Git(path) => {
            let history = volcano_gitops::history_events(&path, &git_registry::layout(config))
                .with_context(|| format!("reading the history of {}", path.display()))?;
            let bar = progress(history.len() as u64, "applying commits from git");
            for chunk in history.chunks(REPLAY_BATCH) {
                tally(store.apply_batch(chunk.iter().map(|e| (e, None)))?);
                bar.inc(chunk.len() as u64);
            }
            bar.finish_and_clear();
            history.len() as u64
        }
        ReplaySource::Kafka => replay_kafka(config, &store, &mut tally)?,
    };
    store.flush()?;
    let hash = store.hash()?;
    drop(store);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("replacing the previous replay {}", dir.display()))?;
    }
    std::fs::rename(&partial, &dir)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "replayed {events} events in {seconds:.2} s ({:.0} events/s) into {}",
        events as f64 / seconds.max(1e-9),
        dir.display()
    );
    for (outcome, n) in &counts {
        println!("  {outcome:<10} {n}");
    }
    println!("hash {hash}");
    Ok(())
}

fn replay_kafka(
    config: &VolcanoConfig,
    store: &Store,
    tally: &mut impl FnMut(Vec<ApplyOutcome>),
) -> Result<u64> {
    let topic = &config.kafka.topics.commits;
    let (low, high) = git_registry::commits_extent(config)
        .with_context(|| format!("reading the extent of {topic}"))?;
    if low > 0 {
        bail!(
            "{topic} starts at offset {low}: earlier commits were deleted by retention, so a replay cannot rebuild the state"
        );
    }
    let bar = progress(high as u64, &format!("applying {topic}"));
    let mut batch: Vec<(CommitEvent, i64)> = Vec::with_capacity(REPLAY_BATCH);
    let mut apply = |batch: &mut Vec<(CommitEvent, i64)>| -> Result<(), StoreError> {
        tally(store.apply_batch(batch.iter().map(|(e, o)| (e, Some((0, *o)))))?);
        bar.inc(batch.len() as u64);
        batch.clear();
        Ok(())
    };
    let read = git_registry::read_commits(config, Offset::Beginning, |message, event| {
        batch.push((event, message.offset()));
        if batch.len() == REPLAY_BATCH {
            apply(&mut batch)?;
        }
        Ok(())
    })?;
    apply(&mut batch)?;
    bar.finish_and_clear();
    Ok(read)
}

fn progress(len: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .expect("progress template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Opens a registry state to read it, beside a live instance that may hold it open.
fn open_to_read(dir: &Path) -> Result<Store> {
    if !dir.exists() {
        bail!("no registry state in {}", dir.display());
    }
    Store::open_read_only(dir).with_context(|| format!("opening {}", dir.display()))
}

/// `volcano registry hash [--data-dir DIR]`.
pub fn hash(dir: &Path) -> Result<()> {
    println!("{}", open_to_read(dir)?.hash()?);
    Ok(())
}

/// `volcano registry show [--tenant T] [--data-dir DIR]`.
pub fn show(config: &VolcanoConfig, dir: &Path, tenant: &str) -> Result<()> {
    let store = open_to_read(dir)?.with_layout(git_registry::layout(config));
    let entries = store.show(tenant)?;
    if entries.is_empty() {
        println!("tenant {tenant} sees nothing");
    }
    for e in entries {
        let short = &e.commit[..12.min(e.commit.len())];
        println!(
            "{:<9} {:<32} {:<22} {short}  {}",
            format!("{:?}", e.kind).to_lowercase(),
            e.name,
            e.branch,
            e.path
        );
    }
    Ok(())
}

/// `volcano registry audit [--limit N] [--data-dir DIR]`.
pub fn audit(dir: &Path, limit: usize) -> Result<()> {
    let store = open_to_read(dir)?;
    for r in store.audit(limit)? {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(())
}

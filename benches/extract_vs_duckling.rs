//! Entity extraction, side by side with Facebook Duckling on the same labelled set.
//!
//! Scores and times `volcano_pipeline::extract` over `benches/data/extract_eval.jsonl`, then,
//! if Duckling's Python environment exists (`DUCKLING_PYTHON`, default
//! `/root/.cache/volcano/tools/duckling-venv/bin/python`), runs `benches/duckling_baseline.py`
//! in the same run and prints both. Duckling has no `percentage` or `data-size` dimension, so
//! the comparison row for us leaves those out the same way the script does. When the blind set
//! `benches/data/extract_blind3.jsonl` exists (sentences written without looking at the
//! extractor, and not tuned on), both are scored on it too, in the "blind F1" column; it is
//! never timed.
//!
//! `cargo bench -p volcano-pipeline --bench extract_vs_duckling` (env `EXTRACT_BENCH_REPS`
//! sets the timed passes over the set, default 2000).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use volcano_pipeline::extract::eval::{EvalCase, Score, parse_cases, score_extractor_without};
use volcano_pipeline::extract::{ExtractOptions, extract};

const DUCKLING_SKIPPED: [&str; 2] = ["percentage", "data-size"];
const DEFAULT_PYTHON: &str = "/root/.cache/volcano/tools/duckling-venv/bin/python";

/// The figures of one row of the table.
struct Row {
    name: String,
    f1: f64,
    precision: f64,
    recall: f64,
    heldout_f1: f64,
    /// F1 on the blind set, when there is one.
    blind_f1: Option<f64>,
    us_per_sentence: Option<f64>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn our_row(
    name: &str,
    cases: &[EvalCase],
    blind: Option<&[EvalCase]>,
    skipped: &[&str],
    us: Option<f64>,
) -> Row {
    let all: Score = score_extractor_without(cases, |_| true, skipped).expect("eval set");
    let heldout = score_extractor_without(cases, EvalCase::is_heldout, skipped).expect("eval set");
    let blind_f1 = blind.map(|blind| {
        let score: Score = score_extractor_without(blind, |_| true, skipped).expect("blind set");
        score.all.f1()
    });
    Row {
        name: name.to_string(),
        f1: all.all.f1(),
        precision: all.all.precision(),
        recall: all.all.recall(),
        heldout_f1: heldout.all.f1(),
        blind_f1,
        us_per_sentence: us,
    }
}

/// The blind set, when it exists and parses: `EXTRACT_BLIND` (a path from the repository
/// root), by default `benches/data/extract_blind3.jsonl`, the set no round was tuned on.
fn blind_cases() -> Option<(PathBuf, Vec<EvalCase>)> {
    let name = std::env::var("EXTRACT_BLIND")
        .unwrap_or_else(|_| "benches/data/extract_blind3.jsonl".to_string());
    let path = repo_root().join(name);
    let text = std::fs::read_to_string(&path).ok()?;
    match parse_cases(&text) {
        Ok(cases) if !cases.is_empty() => Some((path, cases)),
        Ok(_) => None,
        Err(e) => {
            println!("(blind set {} not scored: {e})", path.display());
            None
        }
    }
}

/// Mean microseconds per sentence on one core, after a warm-up pass.
fn time_ours(cases: &[EvalCase], reps: usize) -> f64 {
    let inputs: Vec<(&str, ExtractOptions)> = cases
        .iter()
        .map(|c| (c.text.as_str(), c.options().expect("ref_time")))
        .collect();
    for (text, opts) in &inputs {
        black_box(extract(text, opts));
    }
    let start = Instant::now();
    for _ in 0..reps {
        for (text, opts) in &inputs {
            black_box(extract(black_box(text), opts));
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / (reps * inputs.len()) as f64
}

/// Runs `duckling_baseline.py` with `args` and reads the JSON object it prints.
fn run_duckling(python: &str, args: &[&std::ffi::OsStr]) -> Result<Value, String> {
    let script = repo_root().join("benches/duckling_baseline.py");
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

fn duckling_row(python: &str, blind: Option<&Path>) -> Result<Row, String> {
    let v = run_duckling(python, &[])?;
    let blind_f1 = match blind {
        // The blind set is only scored: one timed pass is enough.
        Some(path) => {
            let args = [
                "--eval".as_ref(),
                path.as_os_str(),
                "--reps".as_ref(),
                "1".as_ref(),
            ];
            run_duckling(python, &args)?["f1"].as_f64()
        }
        None => None,
    };
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    Ok(Row {
        name: "Duckling (same dims)".into(),
        f1: f(&v["f1"]),
        precision: f(&v["precision"]),
        recall: f(&v["recall"]),
        heldout_f1: f(&v["heldout"]["f1"]),
        blind_f1,
        us_per_sentence: v["us_per_sentence"].as_f64(),
    })
}

fn print_table(rows: &[Row], baseline_us: Option<f64>) {
    println!(
        "{:<28} {:>6} {:>9} {:>7} {:>11} {:>9} {:>12} {:>9}",
        "extractor",
        "F1",
        "precision",
        "recall",
        "held-out F1",
        "blind F1",
        "µs/sentence",
        "speed-up"
    );
    for r in rows {
        let us = r.us_per_sentence.map_or("-".into(), |u| format!("{u:.2}"));
        let speedup = match (baseline_us, r.us_per_sentence) {
            (Some(b), Some(u)) => format!("{:.0}x", b / u),
            _ => "-".into(),
        };
        let blind = r.blind_f1.map_or("-".into(), |f| format!("{f:.3}"));
        println!(
            "{:<28} {:>6.3} {:>9.3} {:>7.3} {:>11.3} {:>9} {:>12} {:>9}",
            r.name, r.f1, r.precision, r.recall, r.heldout_f1, blind, us, speedup
        );
    }
}

fn main() {
    let path = repo_root().join("benches/data/extract_eval.jsonl");
    let text = std::fs::read_to_string(&path).expect("read eval set");
    let cases = parse_cases(&text).expect("parse eval set");
    let reps = std::env::var("EXTRACT_BENCH_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2000);
    let us = time_ours(&cases, reps);
    println!(
        "{} sentences, {} held out, {reps} timed passes",
        cases.len(),
        cases.iter().filter(|c| c.is_heldout()).count()
    );
    let blind = blind_cases();
    match &blind {
        Some((path, cases)) => {
            println!("blind set: {} sentences in {}", cases.len(), path.display())
        }
        None => println!("(no blind set: blind F1 not scored)"),
    }
    let blind_set = blind.as_ref().map(|(_, cases)| cases.as_slice());
    let mut rows = vec![
        our_row("volcano (all dims)", &cases, blind_set, &[], Some(us)),
        our_row(
            "volcano (Duckling dims)",
            &cases,
            blind_set,
            &DUCKLING_SKIPPED,
            Some(us),
        ),
    ];
    let python = std::env::var("DUCKLING_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.into());
    let mut baseline_us = None;
    if Path::new(&python).exists() {
        match duckling_row(&python, blind.as_ref().map(|(path, _)| path.as_path())) {
            Ok(row) => {
                baseline_us = row.us_per_sentence;
                rows.push(row);
            }
            Err(e) => eprintln!("Duckling baseline failed: {e}"),
        }
    } else {
        println!(
            "(no Duckling at {python}; set DUCKLING_PYTHON, see benches/requirements-duckling.txt)"
        );
    }
    print_table(&rows, baseline_us);
}

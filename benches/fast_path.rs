//! The whole fast-path chain in-process: classify → route → (extract) → decompose → execute
//! on the example repository's registry, per request, beside its parts measured in the same
//! run (the calculator alone, and extraction alone) so the chain's overhead is visible.
//!
//! `cargo bench -p volcano-pipeline --bench fast_path` (FAST_PATH_BENCH_REPS to change the
//! number of timed passes).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use volcano_pipeline::calc::{self, CalcOptions};
use volcano_pipeline::extract::{self, ExtractOptions};
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::Request;
use volcano_pipeline::registry::{RegistryHandle, compile, load_tree};

const REQUESTS: &[&str] = &[
    "Calculate 42 + 58",
    "what is 7 times 8 minus 6",
    "add 19.99 and 5.01 then multiply by 3",
    "subtract 250 from 1000 and divide the result by 5",
    "convert 5 km to miles and round to 2 decimals",
    "how much is 20 euros in dollars",
    "what is 15% of 200",
    "process customer data and generate report",
];

fn request(text: &str) -> Request {
    Request {
        id: "bench".into(),
        tenant: "main".into(),
        session_id: None,
        text: text.into(),
        submitted_at: 0,
        reply_topic: None,
        headers: Default::default(),
    }
}

/// Median and p99 of per-call nanoseconds over `reps` passes of `f` on every input.
fn measure(reps: usize, inputs: &[&str], mut f: impl FnMut(&str)) -> (f64, f64) {
    let mut samples = Vec::with_capacity(reps * inputs.len());
    for _ in 0..reps {
        for text in inputs {
            let t = Instant::now();
            f(text);
            samples.push(t.elapsed().as_nanos() as f64);
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

fn main() {
    let reps: usize = std::env::var("FAST_PATH_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../repos/main");
    let defs = load_tree(&root).expect("example repository loads");
    let registry = RegistryHandle::new(Arc::new(compile(&defs, "main", "bench").unwrap()));
    let mut fast_path = FastPath::new(registry, 1000);
    let requests: Vec<Request> = REQUESTS.iter().map(|t| request(t)).collect();
    // Warm up: per-pattern regexes compile on first use.
    for r in &requests {
        black_box(fast_path.process(r));
    }
    let (chain_p50, chain_p99) = measure(reps, REQUESTS, |text| {
        let r = requests.iter().find(|r| r.text == text).unwrap();
        black_box(fast_path.process(r));
    });
    let opts = CalcOptions::default();
    let (calc_p50, calc_p99) = measure(reps, &["Calculate 42 + 58"], |t| {
        let _ = black_box(calc::evaluate_text(t, &opts));
    });
    let eopts = ExtractOptions::default();
    let (ex_p50, ex_p99) = measure(reps, REQUESTS, |t| {
        black_box(extract::extract(t, &eopts));
    });
    let (simple_p50, simple_p99) = measure(reps, &["Calculate 42 + 58"], |_| {
        black_box(fast_path.process(&requests[0]));
    });
    println!("{} requests, {reps} timed passes", REQUESTS.len());
    println!(
        "{:<44} {:>10} {:>10} {:>14}",
        "measured", "p50 µs", "p99 µs", "req/s/core"
    );
    for (name, p50, p99) in [
        (
            "fast path, mixed requests (whole chain)",
            chain_p50,
            chain_p99,
        ),
        ("fast path, \"Calculate 42 + 58\"", simple_p50, simple_p99),
        (
            "baseline: calculator alone, same request",
            calc_p50,
            calc_p99,
        ),
        ("baseline: extraction alone, mixed requests", ex_p50, ex_p99),
    ] {
        println!(
            "{name:<44} {:>10.2} {:>10.2} {:>14.0}",
            p50 / 1000.0,
            p99 / 1000.0,
            1e9 / p50
        );
    }
}

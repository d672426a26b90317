//! Criterion benches of each fast-path stage and of the whole chain, on the example
//! repository's registry (`repos/main`):
//!
//! - `classify`: matching a request against the compiled registry;
//! - `extract`: entity extraction over the labelled set `benches/data/extract_eval.jsonl`, one
//!   sentence per iteration, beside Facebook Duckling on the same sentences, measured in the
//!   same run through `benches/duckling_baseline.py --time -` when its Python environment
//!   exists (`DUCKLING_PYTHON`, default `/root/.cache/volcano/tools/duckling-venv/bin/python`);
//! - `decompose`: splitting a request into steps;
//! - `execute`: running steps with the calculator and unit-conversion tools;
//! - `fast_path`: the whole chain (classify → route → decompose → execute) on
//!   "Calculate 42 + 58" and on a mixed set of requests.
//!
//! `cargo bench -p volcano-pipeline --bench stages` (add `-- extract` for one group).

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use volcano_pipeline::calc::CalcOptions;
use volcano_pipeline::classify::classify;
use volcano_pipeline::decompose::{self, DecomposeError, StepValue};
use volcano_pipeline::extract::eval::parse_cases;
use volcano_pipeline::extract::{ExtractOptions, extract};
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::model::{Request, Status};
use volcano_pipeline::registry::{CompiledRegistry, RegistryHandle, compile, load_tree};
use volcano_pipeline::tools::ToolContext;

const DEFAULT_PYTHON: &str = "/root/.cache/volcano/tools/duckling-venv/bin/python";

/// The mixed set: arithmetic in symbols and words, multi-step plans, conversions, a tool
/// that runs once on the whole request, and a workflow that goes durable.
const MIXED: &[&str] = &[
    "Calculate 42 + 58",
    "what is 7 times 8 minus 6",
    "add 19.99 and 5.01 then multiply by 3",
    "subtract 250 from 1000 and divide the result by 5",
    "convert 5 km to miles and round to 2 decimals",
    "how much is 20 euros in dollars",
    "what is 15% of 200",
    "process customer data and generate report",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_registry() -> Arc<CompiledRegistry> {
    let defs = load_tree(&repo_root().join("repos/main")).expect("example repository loads");
    Arc::new(compile(&defs, "main", "bench").expect("example repository compiles"))
}

fn reference_time() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-01-15T10:00:00Z").unwrap()
}

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

fn bench_classify(c: &mut Criterion) {
    let registry = example_registry();
    let mut group = c.benchmark_group("classify");
    group.bench_function("Calculate 42 + 58", |b| {
        b.iter(|| classify(&registry, black_box("Calculate 42 + 58")))
    });
    group.bench_function("unclassified", |b| {
        b.iter(|| classify(&registry, black_box("tell me a story about volcanoes")))
    });
    group.throughput(Throughput::Elements(MIXED.len() as u64));
    group.bench_function("mixed", |b| {
        b.iter(|| {
            for text in MIXED {
                black_box(classify(&registry, black_box(text)));
            }
        })
    });
    group.finish();
}

/// Duckling behind `duckling_baseline.py --time -`: started once, asked for one timing per
/// criterion sample, so Python's and Duckling's start-up are never measured.
struct Duckling {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Duckling {
    fn start(python: &str, eval: &Path) -> Result<Self, String> {
        let script = repo_root().join("benches/duckling_baseline.py");
        let mut child = Command::new(python)
            .arg(&script)
            .arg("--eval")
            .arg(eval)
            .args(["--time", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {python}: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Duckling {
            child,
            stdin,
            stdout,
        })
    }

    /// How long `parses` parses of the set take inside Duckling.
    fn time(&mut self, parses: u64) -> Result<Duration, String> {
        writeln!(self.stdin, "{parses}").map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let seconds: f64 = line
            .trim()
            .parse()
            .map_err(|_| format!("the Duckling helper said {line:?}"))?;
        Ok(Duration::from_secs_f64(seconds))
    }
}

impl Drop for Duckling {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench_extract(c: &mut Criterion) {
    let eval = repo_root().join("benches/data/extract_eval.jsonl");
    let cases = parse_cases(&std::fs::read_to_string(&eval).expect("read the eval set"))
        .expect("parse the eval set");
    let inputs: Vec<(&str, ExtractOptions)> = cases
        .iter()
        .map(|c| (c.text.as_str(), c.options().expect("ref_time")))
        .collect();
    let mut group = c.benchmark_group("extract");
    // One iteration is one sentence of the set, taken in order, for ours and Duckling's.
    group.bench_function("volcano", |b| {
        let mut next = inputs.iter().cycle();
        b.iter(|| {
            let (text, opts) = next.next().unwrap();
            extract(black_box(text), opts)
        })
    });
    let python = std::env::var("DUCKLING_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.into());
    if Path::new(&python).exists() {
        match Duckling::start(&python, &eval) {
            Ok(mut duckling) => {
                // Duckling takes milliseconds a sentence: fewer, longer samples.
                group.sample_size(10);
                group.measurement_time(Duration::from_secs(10));
                group.bench_function("duckling baseline", |b| {
                    b.iter_custom(|parses| duckling.time(parses).expect("Duckling timing"))
                });
            }
            Err(e) => println!("extract: Duckling baseline skipped: {e}"),
        }
    } else {
        println!(
            "extract: Duckling baseline skipped: no Python at {python} (set DUCKLING_PYTHON; \
             see benches/requirements-duckling.txt)"
        );
    }
    group.finish();
}

fn bench_decompose(c: &mut Criterion) {
    let mut group = c.benchmark_group("decompose");
    for text in [
        "Calculate 42 + 58",
        "add 19.99 and 5.01 then multiply by 3",
        "convert 5 km to miles and round to 2 decimals",
    ] {
        decompose::decompose(text).expect("the request decomposes");
        group.bench_function(text, |b| b.iter(|| decompose::decompose(black_box(text))));
    }
    group.finish();
}

fn bench_execute(c: &mut Criterion) {
    let registry = example_registry();
    let now = reference_time();
    let opts = CalcOptions::default();
    let mut group = c.benchmark_group("execute");

    let calculator = registry.first_of_kind("calculator").expect("a calculator");
    let text = "Calculate 42 + 58";
    calculator
        .run(&ToolContext::new(text, now))
        .expect("the calculator answers");
    group.bench_function("calculator tool: Calculate 42 + 58", |b| {
        b.iter(|| calculator.run(&ToolContext::new(black_box(text), now)))
    });

    let plan = decompose::decompose("add 19.99 and 5.01 then multiply by 3").unwrap();
    decompose::execute_arithmetic(&plan, None, &opts).expect("the plan runs");
    group.bench_function(
        "arithmetic plan: add 19.99 and 5.01 then multiply by 3",
        |b| b.iter(|| decompose::execute_arithmetic(black_box(&plan), None, &opts)),
    );

    // A conversion step runs the unit_convert tool with the step and its input, as the fast
    // path does.
    let converter = registry.first_of_kind("unit_convert").expect("a converter");
    let plan = decompose::decompose("convert 5 km to miles and round to 2 decimals").unwrap();
    let run = |plan: &decompose::Plan| {
        decompose::execute(plan, None, &opts, &mut |index, step, input| {
            let mut ctx = ToolContext::new(&step.text, now);
            ctx.step = Some(step);
            ctx.input = input;
            let out = converter
                .run(&ctx)
                .map_err(|e| DecomposeError::ToolFailed {
                    step: index,
                    tool: step.tool().to_string(),
                    message: e.to_string(),
                })?;
            Ok(out
                .value
                .map_or(StepValue::Text(out.answer), StepValue::Number))
        })
    };
    run(&plan).expect("the conversion plan runs");
    group.bench_function(
        "unit_convert plan: convert 5 km to miles and round to 2 decimals",
        |b| b.iter(|| run(black_box(&plan))),
    );
    group.finish();
}

fn bench_fast_path(c: &mut Criterion) {
    let mut fast_path = FastPath::new(RegistryHandle::new(example_registry()), 1000);
    let requests: Vec<Request> = MIXED.iter().map(|t| request(t)).collect();
    // Every request of the set gets an answer it was meant to get, not an error.
    for r in &requests {
        let result = fast_path.process(r);
        assert!(
            matches!(result.status, Status::Ok | Status::Accepted),
            "{}: {result:?}",
            r.text
        );
    }
    let mut group = c.benchmark_group("fast_path");
    group.bench_function("Calculate 42 + 58", |b| {
        b.iter(|| fast_path.process(black_box(&requests[0])))
    });
    group.throughput(Throughput::Elements(requests.len() as u64));
    group.bench_function("mixed", |b| {
        b.iter(|| {
            for r in &requests {
                black_box(fast_path.process(black_box(r)));
            }
        })
    });
    group.finish();
}

criterion_group!(
    stages,
    bench_classify,
    bench_extract,
    bench_decompose,
    bench_execute,
    bench_fast_path
);
criterion_main!(stages);

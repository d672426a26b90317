//! Right / wrong / declined per category of the fast path's answers on a labelled set of
//! realistic requests, answered with the example repository's registry (`repos/main`), the
//! same chain `volcano send` reaches through the broker.
//!
//! ```sh
//! cargo bench -p volcano-pipeline --bench answers                       # the dev set
//! ANSWERS=benches/data/answers_blind.jsonl cargo bench -p volcano-pipeline --bench answers
//! ANSWERS_SHOW=wrong,declined cargo bench -p volcano-pipeline --bench answers   # list them
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use volcano_pipeline::answers::{self, Outcome};
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::registry::{RegistryHandle, compile, load_tree};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let path = std::env::var("ANSWERS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("benches/data/answers_dev.jsonl"));
    let path = if path.is_relative() {
        repo_root().join(path)
    } else {
        path
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let cases = answers::parse_cases(&text).expect("the set parses");
    let defs = load_tree(&repo_root().join("repos/main")).expect("example repository loads");
    let registry = compile(&defs, "main", "answers").expect("example repository compiles");
    let mut fast_path = FastPath::new(RegistryHandle::new(Arc::new(registry)), 16);
    let report = answers::run(&mut fast_path, &cases);
    println!("{} ({} requests)\n", path.display(), cases.len());
    println!("{}", report.table());
    let show = std::env::var("ANSWERS_SHOW").unwrap_or_default();
    for scored in &report.scored {
        let shown = match scored.outcome {
            Outcome::Wrong => show.contains("wrong"),
            Outcome::Declined => show.contains("declined"),
            Outcome::Right => show.contains("right"),
        };
        if shown {
            let r = &scored.result;
            println!(
                "{:?} [{}] {:?}: expected {} {} | got {:?} {} {:?} {}",
                scored.outcome,
                scored.case.category,
                scored.case.text,
                scored.case.value,
                scored.case.unit,
                r.status,
                r.value.as_deref().unwrap_or("-"),
                r.unit.as_deref().unwrap_or(""),
                r.error_message.as_deref().unwrap_or(&r.answer),
            );
        }
    }
}

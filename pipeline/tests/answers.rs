//! The fast path on realistic phrasing: the dev set (`benches/data/answers_dev.jsonl`,
//! written by a helper who never saw the code) answered with the example repository's
//! registry. It holds the floor the README reports: no wrong number, and at least the right
//! answers measured when the reader landed. (The blind set, `answers_blind.jsonl`, is
//! scored by `cargo bench -p volcano-pipeline --bench answers` only, so no test tunes it.)

use std::path::Path;
use std::sync::Arc;

use volcano_pipeline::answers::{self, Outcome};
use volcano_pipeline::fast_path::FastPath;
use volcano_pipeline::registry::{RegistryHandle, compile, load_tree};

#[test]
fn the_dev_set_gets_no_wrong_number_and_holds_its_floor() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("benches/data/answers_dev.jsonl")).unwrap();
    let cases = answers::parse_cases(&text).unwrap();
    assert_eq!(cases.len(), 300);
    let defs = load_tree(&root.join("repos/main")).unwrap();
    let registry = compile(&defs, "main", "answers").unwrap();
    let mut fast_path = FastPath::new(RegistryHandle::new(Arc::new(registry)), 16);
    let report = answers::run(&mut fast_path, &cases);
    let wrong: Vec<String> = report
        .scored
        .iter()
        .filter(|s| s.outcome == Outcome::Wrong)
        .map(|s| {
            format!(
                "{:?} → {:?} {:?}",
                s.case.text, s.result.value, s.result.unit
            )
        })
        .collect();
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    println!("{}", report.table());
    assert!(report.all.right >= 263, "{}", report.table());
    for (category, floor) in [
        ("arithmetic", 55),
        ("functions", 28),
        ("percentages", 29),
        ("rounding", 20),
        ("conversions", 88),
        ("chains", 34),
        ("word_problems", 9),
    ] {
        assert!(
            report.by_category[category].right >= floor,
            "{category}: {}",
            report.table()
        );
    }
}

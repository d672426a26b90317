//! Replays every checked-in fuzz corpus file (`fuzz/corpus/<target>/*`) through the same
//! bodies the cargo-fuzz targets run (`fuzz/src/targets.rs`), so a regression on an input the
//! fuzzers once found, or on a nasty seed, fails `cargo test` without cargo-fuzz.

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    for path in files {
        let data = std::fs::read(&path).expect("read corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target} fails on {}", path.display());
    }
}

#[test]
fn extract_corpus() {
    replay("extract", targets::extract_target);
}

#[test]
fn calc_corpus() {
    replay("calc", targets::calc_target);
}

#[test]
fn definition_corpus() {
    replay("definition", targets::definition_target);
}

#[test]
fn fast_path_corpus() {
    replay("fast_path", targets::fast_path_target);
}

//! Volcano's fuzz targets: the bodies live in `targets.rs`, which the corpus replay test of
//! the pipeline crate includes too; the binaries in `fuzz_targets/` only hand libFuzzer's
//! input to them.

pub mod targets;

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| volcano_fuzz::targets::definition_target(data));

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| volcano_fuzz::targets::extract_target(data));

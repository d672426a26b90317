#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| volcano_fuzz::targets::calc_target(data));

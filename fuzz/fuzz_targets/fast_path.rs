#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| volcano_fuzz::targets::fast_path_target(data));

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sunwai_fuzz::intake(data));

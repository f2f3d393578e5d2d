#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| copilot_api_fuzz::targets::http_head(data));

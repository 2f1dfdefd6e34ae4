//! Fuzz target: a counter-referral file of arbitrary bytes (CSV and JSON readers).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = vamos_ingest::fuzzing::counter_referral_file(data);
});

//! Fuzz target: an administrative registry import of an arbitrary file.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = vamos_ingest::fuzzing::admin_file(data);
});

//! Fuzz target: any bytes as a meeting's minute in JSON (`vamos governance record`, `POST /api/meetings`).
#![no_main]
libfuzzer_sys::fuzz_target!(|b: &[u8]| {
    vamos_app::fuzzing::meeting_minute(b);
});

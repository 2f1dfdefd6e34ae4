//! Fuzz target: any bytes as records linked by the shipped model (names, dates, cédulas).
#![no_main]
libfuzzer_sys::fuzz_target!(|b: &[u8]| {
    vamos_app::fuzzing::linkage_records(b);
});

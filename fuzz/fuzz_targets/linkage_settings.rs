//! Fuzz target: any text as a record-linkage model's settings file (`vamos linkage … --settings`).
#![no_main]
libfuzzer_sys::fuzz_target!(|s: &str| {
    vamos_app::fuzzing::linkage_settings(s);
});

//! Fuzz target: any text as a date (ISO, dd/mm/yyyy, ODK datetimes, Excel serials).
#![no_main]
libfuzzer_sys::fuzz_target!(|s: &str| {
    vamos_ingest::fuzzing::date_text(s);
});

//! Fuzz target: a re-interview (issue 36) — arbitrary household and member files (split at the
//! first 0xFF byte) imported over a registry that already holds a small synthetic first wave
//! (`fuzz/base/reinterview`). Every household row is accounted for once, and a re-run adds and
//! changes nothing. Seed corpus: `fuzz/seeds/reinterview_import`.
#![no_main]
const HOUSEHOLDS: &[u8] = include_bytes!("../base/reinterview/fips.csv");
const MEMBERS: &[u8] = include_bytes!("../base/reinterview/fips-miembros.csv");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (h, m) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let _ = vamos_ingest::fuzzing::reinterview_files((HOUSEHOLDS, MEMBERS), h, m);
});

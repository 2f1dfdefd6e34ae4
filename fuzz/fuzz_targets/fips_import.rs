//! Fuzz target: a FIPS import of arbitrary household and member files (split at the first
//! 0xFF byte) into a fresh in-memory registry; every row must be accounted for.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (h, m) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let _ = vamos_ingest::fuzzing::fips_files(h, m);
});

//! Fuzz target: any bytes as a delimited table (encoding, separator and header sniffing).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vamos_ingest::fuzzing::table_bytes(data);
});

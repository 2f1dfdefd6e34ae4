//! Fuzz target: any bytes as an XLSX workbook — inspected within the limits, then every sheet
//! streamed (archive, parts, XML and cells all arbitrary).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vamos_ingest::fuzzing::xlsx_bytes(data);
});

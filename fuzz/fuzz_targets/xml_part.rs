//! Fuzz target: any bytes as a workbook part (shared strings, sheet, other) through the
//! inspection's XML scanner, whole and split in two: the same answer either way.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vamos_ingest::fuzzing::xml_part(data);
});

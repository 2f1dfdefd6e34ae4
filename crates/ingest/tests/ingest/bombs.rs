//! Decompression bombs and oversized inputs (issue 35, item 1), each built here as an attacker
//! would and read through the paths the server and the command line use — counter-referral
//! files and imports. Every one is refused whole, as unreadable input, with a Spanish message
//! naming the file and the limit, and nothing is imported. The limits are those of
//! `vamos_ingest::bounded`; building each bomb takes a second at most.

use crate::opts;
use std::io::Write;
use std::path::{Path, PathBuf};
use vamos_domain::ImportKind;
use vamos_ingest::bounded::{CSV_MAX_RECORD, MIB, XLSX_MAX_SHARED_STRINGS};
use vamos_ingest::fuzzing::{write_xlsx, write_zip, PartWriter, RawEntry};
use vamos_ingest::{counter_referrals, run_import, IngestError, NoProgress};
use vamos_store::testing::TestDb;

/// The reason of a refusal as unreadable input (anything else fails the test).
fn refusal<T>(r: Result<T, IngestError>) -> String {
    match r {
        Err(e @ IngestError::Unreadable { .. }) => e.to_string(),
        Err(e) => panic!("refused, but not as unreadable input: {e}"),
        Ok(_) => panic!("read without a refusal"),
    }
}

/// Imports `paths` into a fresh registry; returns the refusal and checks nothing was stored.
fn refused_import(kind: ImportKind, paths: &[PathBuf]) -> String {
    let db: TestDb = vamos_store::testing::sqlite_db();
    let mut s = db.open();
    let e = refusal(run_import(
        s.as_mut(),
        paths,
        &opts(kind, None),
        &NoProgress,
    ));
    let counts = s.district_counts().unwrap();
    assert!(
        counts
            .iter()
            .all(|c| c.persons == 0 && c.households == 0 && c.admin_records == 0),
        "something was imported"
    );
    assert!(s.imports(10).unwrap().is_empty(), "an import was recorded");
    e
}

/// A workbook of one sheet whose rows `sheet` writes, with shared strings if given.
fn workbook(
    dir: &Path,
    name: &str,
    sheet: PartWriter<'_>,
    shared: Option<PartWriter<'_>>,
) -> PathBuf {
    let path = dir.join(name);
    write_xlsx(&path, sheet, shared).unwrap();
    path
}

/// The header row of a counter-referral sheet, as inline strings.
const CONTRA_HEADER: &[u8] = br#"<row r="1"><c r="A1" t="inlineStr"><is><t>id_evento</t></is></c><c r="B1" t="inlineStr"><is><t>cedula</t></is></c><c r="C1" t="inlineStr"><is><t>servicio</t></is></c><c r="D1" t="inlineStr"><is><t>fecha_entrega</t></is></c></row>"#;

/// Lowers the inflated size an archive's central directory and local header declare for
/// `entry`, leaving its data and CRC true.
fn understate(path: &Path, entry: &str, size: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut patched = 0;
    for (sig, name_at, size_at) in [(b"PK\x01\x02", 46, 24), (b"PK\x03\x04", 30, 22)] {
        let starts: Vec<usize> = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == sig)
            .map(|(i, _)| i)
            .collect();
        for i in starts {
            let len_at = if name_at == 46 { i + 28 } else { i + 26 };
            let len = u16::from_le_bytes([bytes[len_at], bytes[len_at + 1]]) as usize;
            if bytes.get(i + name_at..i + name_at + len) == Some(entry.as_bytes()) {
                bytes[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
    }
    assert_eq!(patched, 2, "{entry} in {}", path.display());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_workbook_of_millions_of_shared_strings_is_refused_without_exhausting_memory() {
    // Five million distinct texts: ten megabytes compressed, every one held in memory by the
    // spreadsheet library if it were let to open the workbook.
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(
        dir.path(),
        "contrarreferencias.xlsx",
        &mut |w| w.write_all(br#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#),
        Some(&mut |w| {
            let mut b = std::io::BufWriter::with_capacity(1 << 20, w);
            for i in 0..5_000_000u32 {
                write!(b, "<si><t>{i:07}</t></si>")?;
            }
            b.flush()
        }),
    );
    let e = refusal(counter_referrals::read(&path));
    assert!(
        e.contains("«contrarreferencias.xlsx»")
            && e.contains(&format!(
                "más de {XLSX_MAX_SHARED_STRINGS} textos distintos"
            )),
        "{e}"
    );
}

#[test]
fn a_sheet_of_millions_of_cells_sharing_one_string_is_refused_before_it_is_read() {
    // The attack as reported: five million cells naming one shared string, a workbook of
    // kilobytes that the library used to expand into a range of gigabytes.
    let dir = tempfile::tempdir().unwrap();
    let row = br#"<row><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c t="s"><v>0</v></c></row>"#;
    let path = workbook(
        dir.path(),
        "contrarreferencias.xlsx",
        &mut |w| {
            let mut b = std::io::BufWriter::with_capacity(1 << 20, w);
            b.write_all(CONTRA_HEADER)?;
            for _ in 0..1_000_000 {
                b.write_all(row)?;
            }
            b.flush()
        },
        Some(&mut |w| w.write_all(b"<si><t>1234567</t></si>")),
    );
    assert!(std::fs::metadata(&path).unwrap().len() < 2 * MIB);
    let e = refusal(counter_referrals::read(&path));
    assert!(
        e.contains("«contrarreferencias.xlsx»") && e.contains("más de 100 a 1"),
        "{e}"
    );
}

#[test]
fn a_workbook_part_that_inflates_beyond_its_declared_size_is_refused() {
    // A sheet of honest content whose header claims a hundred bytes: the ratio looks sane,
    // the inflated size is a lie.
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(
        dir.path(),
        "contrarreferencias.xlsx",
        &mut |w| {
            w.write_all(CONTRA_HEADER)?;
            for r in 2..20_000 {
                write!(
                    w,
                    r#"<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>{}</v></c></row>"#,
                    r * 7919
                )?;
            }
            Ok(())
        },
        None,
    );
    understate(&path, "xl/worksheets/sheet1.xml", 100);
    let e = refusal(counter_referrals::read(&path));
    assert!(
        e.contains("«xl/worksheets/sheet1.xml» se descomprime a más de los 100 bytes que declara"),
        "{e}"
    );
}

/// An administrative registry CSV of `rows` rows.
fn registry_csv(rows: usize) -> Vec<u8> {
    let mut csv = b"id_registro,cedula,nombres,apellidos,fecha_nacimiento,sexo,distrito,servicio,fecha_evento,detalle\n".to_vec();
    for i in 0..rows {
        writeln!(
            csv,
            "R{i},{},Ana,Benítez,1990-01-01,F,1116,matricula,2026-03-01,",
            1_000_000 + i * 13
        )
        .unwrap();
    }
    csv
}

#[test]
fn a_zip_entry_that_inflates_beyond_its_declared_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut entry = RawEntry::repeated("registro.csv", &registry_csv(10_000), 1).unwrap();
    entry.size = 1_000;
    let path = dir.path().join("registro.zip");
    write_zip(&path, &[entry]).unwrap();
    let e = refused_import(ImportKind::Admin, &[path]);
    assert!(
        e.contains("«registro.zip:registro.csv»")
            && e.contains("«registro.csv» se descomprime a más de los 1000 bytes que declara"),
        "{e}"
    );
}

#[test]
fn a_zip_bomb_is_refused_before_it_is_copied() {
    // Two members of 2 GiB each in a few megabytes: refused on what the archive declares,
    // before a byte is inflated or copied.
    let dir = tempfile::tempdir().unwrap();
    let mut chunk = b"KEY,ubicacion-distrito\nuuid:x,1116\n".to_vec();
    chunk.resize(MIB as usize, b'\n');
    let times = 2 * 1024;
    let entries = ["fips.csv", "fips-miembros.csv"]
        .map(|name| RawEntry::repeated(name, &chunk, times).unwrap());
    let path = dir.path().join("fips.zip");
    write_zip(&path, &entries).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len < 5 * MIB, "{len}");
    let started = std::time::Instant::now();
    let e = refused_import(ImportKind::Fips, &[path]);
    assert!(
        e.contains("«fips.zip»")
            && e.contains("«fips.csv» se descomprime de")
            && e.contains("más de 100 a 1"),
        "{e}"
    );
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn a_sheet_longer_than_excel_allows_is_refused() {
    // Two cells a million rows apart: the library used to make a range of every row between.
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(
        dir.path(),
        "registro.xlsx",
        &mut |w| {
            w.write_all(br#"<row r="1"><c r="A1"><v>1</v></c></row><row r="1048577"><c r="A1048577"><v>1</v></c></row>"#)
        },
        None,
    );
    let e = refused_import(ImportKind::Admin, &[path]);
    assert!(
        e.contains("«registro.xlsx:Hoja1»") && e.contains("más de 1048576 filas"),
        "{e}"
    );
}

#[test]
fn a_counter_referral_sheet_is_read_no_further_than_its_events_allow() {
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(
        dir.path(),
        "contrarreferencias.xlsx",
        &mut |w| {
            w.write_all(CONTRA_HEADER)?;
            w.write_all(br#"<row r="200002"><c r="A200002"><v>1</v></c></row>"#)
        },
        None,
    );
    let e = refusal(counter_referrals::read(&path));
    assert!(e.contains("más de 200001 filas"), "{e}");
}

#[test]
fn a_cell_past_the_last_excel_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(
        dir.path(),
        "registro.xlsx",
        &mut |w| w.write_all(br#"<row r="1"><c r="XFE1"><v>1</v></c></row>"#),
        None,
    );
    let e = refused_import(ImportKind::Admin, &[path]);
    assert!(e.contains("más de 16384 columnas"), "{e}");
}

#[test]
fn a_cell_of_megabytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(
        dir.path(),
        "contrarreferencias.xlsx",
        &mut |w| {
            w.write_all(br#"<row r="1"><c r="A1" t="inlineStr"><is>"#)?;
            for _ in 0..3 * 1024 {
                w.write_all(br#"<r><t>"#)?;
                w.write_all(&[b'x'; 1000])?;
                w.write_all(br#"</t></r>"#)?;
            }
            w.write_all(br#"</is></c></row>"#)
        },
        None,
    );
    let e = refusal(counter_referrals::read(&path));
    assert!(
        e.contains("«xl/worksheets/sheet1.xml» tiene un elemento") && e.contains("de más de 1 MiB"),
        "{e}"
    );
}

#[test]
fn a_row_repeating_a_long_shared_string_is_refused() {
    // One text of 900 KB named by ten cells: 9 MB of text from a part of a few bytes.
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(
        dir.path(),
        "contrarreferencias.xlsx",
        &mut |w| {
            w.write_all(b"<row>")?;
            for _ in 0..10 {
                w.write_all(br#"<c t="s"><v>0</v></c>"#)?;
            }
            w.write_all(b"</row>")
        },
        Some(&mut |w| {
            w.write_all(b"<si><t>")?;
            for i in 0..900_000u32 {
                w.write_all(&[b'a' + (i.wrapping_mul(2_654_435_761) >> 28) as u8])?;
            }
            w.write_all(b"</t></si>")
        }),
    );
    let e = refusal(counter_referrals::read(&path));
    assert!(e.contains("una fila tiene más de 4 MiB de texto"), "{e}");
}

#[test]
fn a_csv_record_of_megabytes_is_refused_and_nothing_is_imported() {
    // A quote never closed: the rest of the file would be one field.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registro.csv");
    let mut csv = registry_csv(6_000);
    csv.extend_from_slice(b"R-x,\"1234567\n");
    csv.extend(b"1,2,3\n".repeat((CSV_MAX_RECORD / 5) as usize));
    std::fs::write(&path, csv).unwrap();
    let e = refused_import(ImportKind::Admin, &[path]);
    assert!(
        e.contains("«registro.csv»") && e.contains("un registro supera 4 MiB"),
        "{e}"
    );
}

#[test]
fn a_cell_naming_a_missing_shared_string_is_refused_without_a_panic() {
    // The spreadsheet library indexes its table with the cell's number and panics past it.
    let dir = tempfile::tempdir().unwrap();
    let path = workbook(
        dir.path(),
        "contrarreferencias.xlsx",
        &mut |w| {
            w.write_all(CONTRA_HEADER)?;
            w.write_all(br#"<row r="2"><c r="A2" t="s"><v>1</v></c></row>"#)
        },
        Some(&mut |w| w.write_all(b"<si><t>E-1</t></si>")),
    );
    let e = refusal(counter_referrals::read(&path));
    assert!(
        e.contains("una celda remite al texto compartido 1 y el libro tiene 1"),
        "{e}"
    );
}

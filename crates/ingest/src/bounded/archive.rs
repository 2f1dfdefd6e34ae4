//! ZIP entries read within limits. An entry is first judged on what the archive's central
//! directory declares — its inflated size and its compression ratio — so that a bomb is refused
//! before a byte of it is inflated; then [`Inflate`] counts the bytes as they come out, so that
//! a header that understates its size is caught at the first byte past it, and checks size and
//! CRC at the end. CSV members of an export stream from the archive itself ([`open_entry`]):
//! nothing is copied first, however large they are.

use super::{absurd_ratio, refused, size_text, MAX_RATIO};
use crate::IngestError;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// What the central directory says of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    /// Inflated size.
    pub size: u64,
    pub compressed: u64,
    pub crc32: u32,
}

impl Declared {
    pub fn of<R: Read>(f: &zip::read::ZipFile<'_, R>) -> Declared {
        Declared {
            name: f.name().to_string(),
            size: f.size(),
            compressed: f.compressed_size(),
            crc32: f.crc32(),
        }
    }
}

/// The message of an entry that compresses beyond [`MAX_RATIO`].
fn ratio_message(name: &str, inflated: u64, compressed: u64) -> String {
    format!(
        "«{name}» se descomprime de {compressed} a {inflated} bytes, más de {MAX_RATIO} a 1: \
         es un archivo hecho para agotar la memoria o el disco, no se abre"
    )
}

/// Refuses an entry on its declared numbers: a ratio beyond [`MAX_RATIO`], or an inflated
/// size above `limit` (`what` names the limit: "el libro", "la tabla de textos"…).
pub fn check_declared(
    label: &str,
    d: &Declared,
    limit: Option<(u64, &str)>,
) -> Result<(), IngestError> {
    if absurd_ratio(d.size, d.compressed) {
        return Err(refused(label, ratio_message(&d.name, d.size, d.compressed)));
    }
    match limit {
        Some((limit, what)) if d.size > limit => Err(refused(
            label,
            format!(
                "{what} descomprimido supera {} («{}» declara {} bytes); divídalo o guárdelo como CSV",
                size_text(limit),
                d.name,
                d.size
            ),
        )),
        _ => Ok(()),
    }
}

/// An entry's bytes as they inflate, counted: never more than one byte past the declared size
/// is inflated, nor past `limit`; the size and the CRC are checked at the end. Its errors carry
/// a Spanish message for the file's report.
pub struct Inflate<R> {
    inner: R,
    entry: Declared,
    limit: u64,
    out: u64,
    crc: crc32fast::Hasher,
    checked: bool,
}

impl<R: Read> Inflate<R> {
    pub fn new(inner: R, entry: Declared, limit: u64) -> Inflate<R> {
        Inflate {
            inner,
            entry,
            limit,
            out: 0,
            crc: crc32fast::Hasher::new(),
            checked: false,
        }
    }

    /// Bytes inflated so far.
    pub fn inflated(&self) -> u64 {
        self.out
    }

    fn fail(&self, message: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, message)
    }

    /// At the end: exactly the declared size, and the declared CRC.
    fn finish(&mut self) -> io::Result<()> {
        self.checked = true;
        if self.out != self.entry.size {
            return Err(self.fail(format!(
                "«{}» declara {} bytes y tiene {}: el archivo está dañado o adulterado",
                self.entry.name, self.entry.size, self.out
            )));
        }
        if self.crc.clone().finalize() != self.entry.crc32 {
            return Err(self.fail(format!(
                "«{}» no coincide con su suma de control (CRC): el archivo está dañado o adulterado",
                self.entry.name
            )));
        }
        Ok(())
    }
}

impl<R: Read> Read for Inflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // One byte past the declared size is enough to know the header lies.
        let room = self.entry.size.saturating_sub(self.out).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let Some(window) = buf.get_mut(..want) else {
            return Ok(0);
        };
        let n = self.inner.read(window)?;
        if n == 0 {
            if !self.checked {
                self.finish()?;
            }
            return Ok(0);
        }
        self.out += n as u64;
        if self.out > self.entry.size {
            return Err(self.fail(format!(
                "«{}» se descomprime a más de los {} bytes que declara: el archivo está \
                 adulterado, no se abre",
                self.entry.name, self.entry.size
            )));
        }
        if self.out > self.limit {
            return Err(self.fail(format!(
                "«{}» descomprimido supera {}; divídalo",
                self.entry.name,
                size_text(self.limit)
            )));
        }
        if absurd_ratio(self.out, self.entry.compressed) {
            return Err(self.fail(ratio_message(
                &self.entry.name,
                self.out,
                self.entry.compressed,
            )));
        }
        self.crc.update(window.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// An error of the zip library as a refusal of `label`.
pub(crate) fn zip_error(label: &str, e: zip::result::ZipError) -> IngestError {
    refused(label, format!("archivo ZIP ilegible: {e}"))
}

/// Opens the ZIP archive at `path`.
fn archive(path: &Path, label: &str) -> Result<zip::ZipArchive<BufReader<File>>, IngestError> {
    let f = File::open(path).map_err(|e| refused(label, e.to_string()))?;
    zip::ZipArchive::new(BufReader::new(f)).map_err(|e| zip_error(label, e))
}

/// The CSV members of the ZIP at `path`, each checked on its declared numbers (an export that
/// is a bomb is refused here, before any table is opened).
pub fn csv_entries(path: &Path, label: &str) -> Result<Vec<String>, IngestError> {
    let mut zip = archive(path, label)?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let e = zip.by_index_raw(i).map_err(|e| zip_error(label, e))?;
        if !e.name().to_lowercase().ends_with(".csv") {
            continue;
        }
        check_declared(label, &Declared::of(&e), None)?;
        out.push(e.name().to_string());
    }
    Ok(out)
}

/// Opens entry `name` of the ZIP at `path` as a reader of its own (the archive is not held
/// borrowed), after checking its declared numbers; it inflates as it is read, counted by
/// [`Inflate`]. No size limit: an export's CSV may be gigabytes and streams; the ratio and the
/// declared size still hold. Returns the reader and the declared inflated size.
pub fn open_entry(
    path: &Path,
    name: &str,
    label: &str,
) -> Result<(Box<dyn Read>, u64), IngestError> {
    let mut zip = archive(path, label)?;
    let (declared, start, method) = {
        let e = zip.by_name(name).map_err(|e| zip_error(label, e))?;
        if e.encrypted() {
            return Err(refused(label, format!("«{name}» está cifrado")));
        }
        (Declared::of(&e), e.data_start(), e.compression())
    };
    check_declared(label, &declared, None)?;
    let mut raw = zip.into_inner();
    raw.seek(SeekFrom::Start(start))
        .map_err(|e| refused(label, e.to_string()))?;
    let raw = raw.take(declared.compressed);
    let decoded: Box<dyn Read> = match method {
        zip::CompressionMethod::Stored => Box::new(raw),
        zip::CompressionMethod::Deflated => Box::new(flate2::bufread::DeflateDecoder::new(raw)),
        other => {
            return Err(refused(
                label,
                format!("«{name}»: método de compresión {other} no admitido (use Deflate)"),
            ))
        }
    };
    let size = declared.size;
    Ok((Box::new(Inflate::new(decoded, declared, u64::MAX)), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(size: u64, compressed: u64, data: &[u8]) -> Declared {
        Declared {
            name: "x.csv".into(),
            size,
            compressed,
            crc32: crc32fast::hash(data),
        }
    }

    #[test]
    fn an_honest_entry_reads_whole() {
        let data = b"a,b\n1,2\n".to_vec();
        let mut r = Inflate::new(&data[..], declared(8, 8, &data), u64::MAX);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn a_short_entry_or_a_wrong_crc_is_refused_at_the_end() {
        let data = b"a,b\n1,2\n".to_vec();
        let mut r = Inflate::new(&data[..], declared(9, 8, &data), u64::MAX);
        let e = r.read_to_end(&mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("declara 9 bytes y tiene 8"), "{e}");
        let mut r = Inflate::new(&data[..], declared(8, 8, b"otro"), u64::MAX);
        let e = r.read_to_end(&mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("CRC"), "{e}");
    }

    #[test]
    fn no_more_than_one_byte_past_the_declared_size_is_read() {
        let data = vec![b'x'; 1000];
        let mut src = &data[..];
        let mut r = Inflate::new(&mut src, declared(10, 10, &data), u64::MAX);
        let e = r.read_to_end(&mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("más de los 10 bytes que declara"), "{e}");
        assert_eq!(r.inflated(), 11);
    }
}

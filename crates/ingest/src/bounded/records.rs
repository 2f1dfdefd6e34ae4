//! A bound on CSV records: [`RecordGuard`] follows the quoting of the bytes it passes on, as
//! the CSV parser will (a field that starts with `"` runs to the closing quote, `""` inside it
//! is a quote, newlines inside it belong to the field), and stops at the first record longer
//! than [`CSV_MAX_RECORD`] — before the parser would buffer it. A CSV of gigabytes then streams
//! in bounded memory, whatever it holds.

use super::{size_text, CSV_MAX_RECORD};
use std::io::{self, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// Not inside a quoted field.
    Outside,
    /// In a quoted field.
    Quoted,
    /// After a quote in a quoted field: the field's end, or the first half of `""`.
    QuoteInQuoted,
}

/// A reader that refuses a record longer than a limit (bytes, terminator excluded).
pub struct RecordGuard<R> {
    inner: R,
    delimiter: u8,
    max: u64,
    state: Quoting,
    /// The byte before the next one (a quote opens a field only right after a delimiter or a
    /// line end).
    prev: u8,
    len: u64,
    /// A record passed the limit: the next read reports it.
    failed: bool,
}

impl<R: Read> RecordGuard<R> {
    /// A guard for records separated by `delimiter`, with the limit [`CSV_MAX_RECORD`].
    pub fn new(inner: R, delimiter: u8) -> RecordGuard<R> {
        RecordGuard::with_limit(inner, delimiter, CSV_MAX_RECORD)
    }

    pub fn with_limit(inner: R, delimiter: u8, max: u64) -> RecordGuard<R> {
        RecordGuard {
            inner,
            delimiter,
            max,
            state: Quoting::Outside,
            prev: b'\n',
            len: 0,
            failed: false,
        }
    }

    /// Whether a quote after `prev` starts a quoted field.
    fn field_start(&self, prev: u8) -> bool {
        prev == self.delimiter || prev == b'\n' || prev == b'\r'
    }

    /// One step over `rest`: the bytes it consumes, and whether a record ended with the last.
    fn step(&mut self, rest: &[u8]) -> (usize, bool) {
        match self.state {
            Quoting::Outside => match memchr::memchr3(b'"', b'\n', b'\r', rest) {
                None => {
                    self.prev = rest.last().copied().unwrap_or(self.prev);
                    (rest.len(), false)
                }
                Some(j) => {
                    let b = rest.get(j).copied().unwrap_or_default();
                    let before = match j {
                        0 => self.prev,
                        _ => rest.get(j - 1).copied().unwrap_or_default(),
                    };
                    self.prev = b;
                    if b == b'"' {
                        if self.field_start(before) {
                            self.state = Quoting::Quoted;
                        }
                        (j + 1, false)
                    } else {
                        (j + 1, true)
                    }
                }
            },
            Quoting::Quoted => match memchr::memchr(b'"', rest) {
                None => (rest.len(), false),
                Some(j) => {
                    self.state = Quoting::QuoteInQuoted;
                    (j + 1, false)
                }
            },
            Quoting::QuoteInQuoted => {
                let b = rest.first().copied().unwrap_or_default();
                self.prev = b;
                // `""` is a quote inside the field; anything else ends the quoting.
                self.state = if b == b'"' {
                    Quoting::Quoted
                } else {
                    Quoting::Outside
                };
                (1, b == b'\n' || b == b'\r')
            }
        }
    }

    /// Follows `data`; returns how many of its bytes stay within the limit.
    fn follow(&mut self, data: &[u8]) -> usize {
        let mut i = 0;
        while let Some(rest) = data.get(i..).filter(|r| !r.is_empty()) {
            let (step, ended) = self.step(rest);
            // The terminator is not part of the record.
            self.len += (step - usize::from(ended)) as u64;
            if self.len > self.max {
                return i + step - usize::from(ended) - (self.len - self.max) as usize;
            }
            if ended {
                self.len = 0;
            }
            i += step;
        }
        data.len()
    }
}

impl<R: Read> Read for RecordGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "un registro supera {} (¿una comilla sin cerrar?): revise el archivo",
                    size_text(self.max)
                ),
            ));
        }
        let n = self.inner.read(buf)?;
        let ok = self.follow(buf.get(..n).unwrap_or_default());
        if ok < n {
            // Hand on what fits; the next read reports the refusal.
            self.failed = true;
            if ok == 0 {
                return self.read(buf);
            }
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guarded(data: &[u8], max: u64) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        RecordGuard::with_limit(data, b',', max)
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn short_records_pass_whole() {
        let data = b"a,b\r\n\"x\ny\",\"q\"\"q\"\n1,2";
        assert_eq!(guarded(data, 12).unwrap(), data);
        assert!(guarded(data, 11).is_err());
    }

    #[test]
    fn a_long_line_or_an_unclosed_quote_is_refused() {
        let e = guarded(b"a,b\n123456789\n", 8).unwrap_err();
        assert!(e.contains("supera 8 bytes"), "{e}");
        // Newlines inside an unclosed quote do not end the record.
        let e = guarded(b"a,\"b\n1,2\n3,4\n5,6\n", 8).unwrap_err();
        assert!(e.contains("comilla"), "{e}");
    }

    /// A reader that hands out one byte at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn the_bytes_may_arrive_one_at_a_time() {
        // A quoted field over two lines (8 bytes), a quote inside a field, then 9 bytes.
        let data = b"\"x\ny\"\"\"\n\"1\",5\"\n123456789\n";
        let read = |max| {
            let mut out = Vec::new();
            RecordGuard::with_limit(Trickle(data), b',', max)
                .read_to_end(&mut out)
                .map(|_| out)
        };
        assert_eq!(read(9).unwrap(), data);
        assert!(read(8).is_err());
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_a_character() {
        // `5"` does not open a quote: every line stays a record of its own.
        let data = b"a,5\" pulgadas\nb,c\nd,e\n";
        assert_eq!(guarded(data, 14).unwrap(), data);
    }
}

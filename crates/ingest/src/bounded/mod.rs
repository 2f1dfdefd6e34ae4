//! Reading untrusted archives and spreadsheets within limits. Every ZIP and XLSX that Vamos
//! reads — imports from the command line or the web page, counter-referral files, the shipped
//! forms — goes through here, so that a small file cannot make the process inflate, hold or
//! parse without end (a *decompression bomb*).
//!
//! - [`archive`]: a ZIP's entries are checked on what the central directory declares (size,
//!   compression ratio) before anything is inflated, then counted while they inflate, so that a
//!   header that lies is caught at the first byte past its declared size.
//! - [`workbook`]: an XLSX is inspected part by part before the spreadsheet library opens it
//!   (inflated size, shared strings, the largest element), then its sheets are streamed cell by
//!   cell within row, column and cell limits ([`sheet`]) — never held whole in memory.
//! - [`records`]: a CSV record (a row, quoted newlines included) is refused past a size, so
//!   that a CSV of gigabytes streams in bounded memory whatever its line lengths.
//! - [`xml`]: the byte scanner behind the workbook inspection.
//!
//! The limits are constants, documented in `docs/import.md`; a file over one is refused whole,
//! as unreadable input (nothing imported), with a Spanish message naming the file and the limit.

pub mod archive;
pub mod records;
pub mod sheet;
pub mod workbook;
pub mod xml;

use crate::IngestError;

/// One mebibyte.
pub const MIB: u64 = 1 << 20;

/// Highest compression ratio (inflated / compressed) accepted for an entry that inflates past
/// [`RATIO_FLOOR`]. Survey exports and workbooks compress ten or twenty to one; a ratio in the
/// hundreds is a file built to inflate (deflate's own ceiling is about a thousand to one).
pub const MAX_RATIO: u64 = 100;

/// Below this inflated size an entry may compress as well as it likes: small parts of repeated
/// markup legitimately do, and they cannot exhaust anything.
pub const RATIO_FLOOR: u64 = 8 * MIB;

/// Largest size an XLSX may inflate to, counting the parts the reader reads (sheets, shared
/// strings, styles, workbook). A full Excel sheet (1,048,576 rows) of ten columns fits;
/// larger data travels as CSV, which streams without limit of size.
pub const XLSX_MAX_INFLATED: u64 = 1024 * MIB;

/// Most distinct texts in an XLSX's shared-strings table, which the spreadsheet library holds
/// in memory whole: a sheet of 200,000 persons with a dozen text columns stays far below.
pub const XLSX_MAX_SHARED_STRINGS: u64 = 2_000_000;

/// Largest inflated size of the shared-strings table (`xl/sharedStrings.xml`).
pub const XLSX_MAX_SHARED_STRINGS_BYTES: u64 = 256 * MIB;

/// Largest inflated size of each of the other parts held in memory: the workbook, its
/// relationships and the styles (kilobytes in real workbooks).
pub const XLSX_MAX_WORKBOOK_PART: u64 = 16 * MIB;

/// Largest XML element of a sheet or shared-strings part: a tag, a run of text, one cell, one
/// shared string. Excel's own cell holds at most 32,767 characters.
pub const XLSX_MAX_ELEMENT: u64 = MIB;

/// Most entries in an XLSX archive (a workbook of a hundred sheets has a few hundred).
pub const XLSX_MAX_ENTRIES: usize = 10_000;

/// Largest CSV record (one row, its quoted newlines included). Survey rows, geotraces included,
/// are kilobytes; a record of megabytes is an unclosed quote or a file built to fill memory.
pub const CSV_MAX_RECORD: u64 = 4 * MIB;

/// Limits on one sheet of a workbook, checked while it streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SheetLimits {
    /// Highest row number (Excel's own limit: 1,048,576).
    pub rows: u32,
    /// Highest column number (Excel's own limit: 16,384, column XFD).
    pub columns: u32,
    /// Most cells, empty ones included (a million rows of twenty columns).
    pub cells: u64,
}

impl SheetLimits {
    /// The limits of every sheet Vamos reads.
    pub const DEFAULT: SheetLimits = SheetLimits {
        rows: 1_048_576,
        columns: 16_384,
        cells: 20_000_000,
    };
}

/// A size in the units people read: `256 MiB`, `1 GiB`.
pub fn size_text(bytes: u64) -> String {
    if bytes >= 1024 * MIB && bytes.is_multiple_of(1024 * MIB) {
        format!("{} GiB", bytes / (1024 * MIB))
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The error of a file refused for a limit (reported like any unreadable input).
pub(crate) fn refused(file: &str, reason: impl Into<String>) -> IngestError {
    IngestError::Unreadable {
        file: file.to_string(),
        reason: reason.into(),
    }
}

/// Whether inflating `compressed` bytes into `inflated` is beyond [`MAX_RATIO`].
pub(crate) fn absurd_ratio(inflated: u64, compressed: u64) -> bool {
    inflated > RATIO_FLOOR && inflated > compressed.saturating_mul(MAX_RATIO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(size_text(XLSX_MAX_INFLATED), "1 GiB");
        assert_eq!(size_text(XLSX_MAX_SHARED_STRINGS_BYTES), "256 MiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }

    #[test]
    fn a_ratio_counts_only_past_the_floor() {
        assert!(!absurd_ratio(RATIO_FLOOR, 1));
        assert!(absurd_ratio(RATIO_FLOOR + 1, 1));
        assert!(!absurd_ratio(200 * MIB, 2 * MIB));
        assert!(absurd_ratio(200 * MIB + 1, 2 * MIB));
    }
}

//! Reading text the way institutions actually send it: UTF-8 with or without BOM, or
//! Latin-1/Windows-1252 from Excel, with `,`, `;` or tab separators, and headers written by
//! ODK Central (`grupo-campo`), KoboToolbox (`grupo/campo`) or by hand (`Cédula `).

use std::borrow::Cow;

/// Decodes one field: UTF-8 when valid, otherwise Windows-1252 (the superset of Latin-1 that
/// Excel writes on Spanish-language Windows). Decided per field, so a mostly-UTF-8 file with a
/// few Latin-1 bytes pasted in is still read correctly.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// Strips a UTF-8 byte-order mark.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes)
}

/// True when the bytes start like UTF-16 (Excel's "Unicode text"), which we do not read.
pub fn looks_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF])
}

/// Picks the separator of a delimited file from its first line: the most frequent of
/// `,` `;` and tab outside double quotes (`,` on a tie or when none appears).
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let (mut comma, mut semi, mut tab, mut quoted) = (0usize, 0usize, 0usize, false);
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => comma += 1,
            b';' if !quoted => semi += 1,
            b'\t' if !quoted => tab += 1,
            _ => {}
        }
    }
    if semi > comma && semi >= tab {
        b';'
    } else if tab > comma && tab > semi {
        b'\t'
    } else {
        b','
    }
}

/// Folds a header to the name it is matched by: lower case, accents removed, spaces and dots
/// to `_`, group prefixes dropped (`ubicacion-distrito`, `ubicacion/distrito` → `distrito`),
/// Kobo's leading `_` dropped, and split geopoints kept apart (`ubicacion-gps-Latitude` →
/// `gps_latitude`).
pub fn normalize_header(h: &str) -> String {
    let h = h.trim().trim_start_matches('\u{feff}');
    let folded: String = h
        .chars()
        .map(|c| match c {
            'á' | 'Á' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'Ó' => 'o',
            'ú' | 'Ú' | 'ü' | 'Ü' => 'u',
            'ñ' | 'Ñ' => 'n',
            ' ' | '.' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let segments: Vec<&str> = folded.split(['-', '/']).filter(|s| !s.is_empty()).collect();
    let last = segments.last().copied().unwrap_or("");
    let geo = ["latitude", "longitude", "altitude", "accuracy", "precision"];
    if segments.len() >= 2 && geo.contains(&last) {
        let prev = segments.get(segments.len() - 2).copied().unwrap_or("");
        return format!("{}_{}", prev.trim_start_matches('_'), last);
    }
    last.trim_start_matches('_').to_string()
}

/// Collapses inner whitespace and trims; names typed on phones carry double spaces.
pub fn clean_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_and_latin1() {
        assert_eq!(decode("Caazapá".as_bytes()), "Caazapá");
        assert_eq!(decode(b"Caazap\xe1"), "Caazapá");
        assert_eq!(decode(b"Ita\xf1u"), "Itañu");
    }

    #[test]
    fn sniffs_separators() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2;3"), b';');
        assert_eq!(sniff_delimiter(b"a,b,c\n"), b',');
        assert_eq!(sniff_delimiter(b"\"a;x\",b,c\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
    }

    #[test]
    fn normalizes_headers_of_all_exporters() {
        assert_eq!(normalize_header("ubicacion-distrito"), "distrito");
        assert_eq!(normalize_header("ubicacion/distrito"), "distrito");
        assert_eq!(normalize_header("\u{feff}SubmissionDate"), "submissiondate");
        assert_eq!(normalize_header("meta-instanceID"), "instanceid");
        assert_eq!(normalize_header("ubicacion-gps-Latitude"), "gps_latitude");
        assert_eq!(normalize_header("_ubicacion/gps_latitude"), "gps_latitude");
        assert_eq!(normalize_header("_submission__uuid"), "submission__uuid");
        assert_eq!(normalize_header(" Cédula "), "cedula");
        assert_eq!(normalize_header("Fecha Nacimiento"), "fecha_nacimiento");
    }
}

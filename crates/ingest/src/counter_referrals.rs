//! Counter-referral files (*contra-referencias*): CSV (any encoding and separator), XLSX (first
//! sheet) or JSON (an array of events, or `{"events": [...]}`), read into [`EventInput`]s with
//! their row numbers. Only the shape is checked here (required columns present, one event per
//! row); the meaning — person, service, date, duplicates — is validated against the registry
//! by the caller, which reports each problem with file, row, column, value and reason. Lengths
//! are checked there too (`vamos_domain::limits`); what an error here repeats of the file — its
//! header line, a field name — is cut at 200 characters.

use crate::bounded::SheetLimits;
use crate::table::TableSource;
use crate::IngestError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use vamos_domain::limits;

/// One counter-referral as received, every field as text (validated later).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The institution's own id of the event (idempotency key).
    #[serde(alias = "id_evento")]
    pub event_id: Option<String>,
    /// Institution code (required in files loaded by an administrator; a token's institution
    /// otherwise).
    #[serde(default, alias = "institucion")]
    pub institution: Option<String>,
    /// SIIS person id.
    #[serde(default, alias = "persona_id", deserialize_with = "text_or_number")]
    pub person_id: Option<String>,
    /// Cédula (with or without thousands dots).
    #[serde(default, deserialize_with = "text_or_number")]
    pub cedula: Option<String>,
    /// Service or event code as the institution names it (e.g. `control_prenatal`).
    #[serde(alias = "servicio")]
    pub service: Option<String>,
    /// Delivery date: `AAAA-MM-DD` or `dd/mm/aaaa`.
    #[serde(alias = "fecha_entrega")]
    pub delivered_on: Option<String>,
    /// Where it was delivered (establishment).
    #[serde(default, alias = "lugar")]
    pub place: Option<String>,
    /// District of the place (`DDdd`).
    #[serde(default, alias = "distrito_lugar", deserialize_with = "text_or_number")]
    pub place_district: Option<String>,
}

fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(other) => Some(other.to_string()),
    })
}

/// An event with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// File label (or `solicitud` for an HTTP body).
    pub file: String,
    /// Spreadsheet row (header = 1), or the 1-based position in a JSON array.
    pub row: u64,
    pub event: EventInput,
}

/// The header names each field accepts (normalised: lower case, no accents, `_`).
const COLUMNS: [(&str, &[&str]); 8] = [
    ("event_id", &["id_evento", "event_id", "evento", "id"]),
    ("institution", &["institucion", "institution"]),
    (
        "person_id",
        &["persona_id", "person_id", "id_persona", "persona"],
    ),
    ("cedula", &["cedula", "national_id", "ci", "nro_cedula"]),
    ("service", &["servicio", "service", "codigo_servicio"]),
    (
        "delivered_on",
        &["fecha_entrega", "delivered_on", "fecha", "fecha_atencion"],
    ),
    ("place", &["lugar", "place", "establecimiento"]),
    (
        "place_district",
        &["distrito_lugar", "place_district", "distrito"],
    ),
];

/// Most events in one request or file (larger files: split them). A file is read no further
/// than one event past it.
pub const MAX_EVENTS: usize = 200_000;

/// Reads a counter-referral file. Fails (nothing read) when it cannot be read, lacks a
/// required column (`id_evento`, `servicio`, `fecha_entrega`, and `persona_id` or `cedula`) or
/// holds more than [`MAX_EVENTS`] events.
pub fn read(path: &Path) -> Result<Vec<Located>, IngestError> {
    let label = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if ext == "json" {
        let bytes = std::fs::read(path).map_err(|e| IngestError::Unreadable {
            file: label.clone(),
            reason: e.to_string(),
        })?;
        return parse_json(&label, &bytes);
    }
    let source = if ext == "xlsx" {
        let sheet = crate::table::xlsx_sheets(path)?
            .into_iter()
            .next()
            .ok_or_else(|| IngestError::Unreadable {
                file: label.clone(),
                reason: "el libro no tiene hojas".into(),
            })?;
        TableSource::Sheet {
            path: path.to_path_buf(),
            sheet,
        }
    } else {
        TableSource::Csv(path.to_path_buf())
    };
    // A sheet is read no further than the rows such a file may hold (its header included).
    let limits = SheetLimits {
        rows: u32::try_from(MAX_EVENTS + 1).unwrap_or(u32::MAX),
        ..SheetLimits::DEFAULT
    };
    let mut table = source.open_within(&limits)?;
    let cols: Vec<Option<usize>> = COLUMNS.iter().map(|(_, names)| table.col(names)).collect();
    let has = |i: usize| cols.get(i).copied().flatten().is_some();
    let mut missing = Vec::new();
    for (i, name) in [(0, "id_evento"), (4, "servicio"), (5, "fecha_entrega")] {
        if !has(i) {
            missing.push(name);
        }
    }
    if !has(2) && !has(3) {
        missing.push("persona_id o cedula");
    }
    if !missing.is_empty() {
        return Err(IngestError::Unreadable {
            file: table.label.clone(),
            reason: format!(
                "faltan columnas obligatorias: {} (columnas del archivo: {})",
                missing.join(", "),
                // The header line is the sender's: repeated cut, never whole.
                limits::echo(&table.headers.join(", "))
            ),
        });
    }
    let mut out = Vec::new();
    let mut rec = csv::ByteRecord::new();
    while let Some(row) = table.next_row(&mut rec)? {
        let get = |i: usize| -> Option<String> {
            let c = cols.get(i).copied().flatten()?;
            let v = crate::text::clean_text(&crate::text::decode(rec.get(c)?));
            (!v.is_empty()).then_some(v)
        };
        if (0..COLUMNS.len()).all(|i| get(i).is_none()) {
            continue; // a blank line
        }
        if out.len() == MAX_EVENTS {
            return Err(IngestError::Unreadable {
                file: table.label.clone(),
                reason: format!("más de {MAX_EVENTS} eventos; divídalo en varios archivos"),
            });
        }
        out.push(Located {
            file: table.label.clone(),
            row,
            event: EventInput {
                event_id: get(0),
                institution: get(1),
                person_id: get(2),
                cedula: get(3),
                service: get(4),
                delivered_on: get(5),
                place: get(6),
                place_district: get(7),
            },
        });
    }
    Ok(out)
}

/// Parses a JSON body: an array of events or `{"events": [...]}`.
pub fn parse_json(label: &str, bytes: &[u8]) -> Result<Vec<Located>, IngestError> {
    // Straight into events when the whole body is valid (one pass over the text); otherwise
    // again through JSON values, to name the event that is not.
    #[derive(Deserialize)]
    struct Events {
        events: Vec<EventInput>,
    }
    let direct = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice::<Vec<EventInput>>(bytes).ok(),
        Some(b'{') => serde_json::from_slice::<Events>(bytes)
            .ok()
            .map(|e| e.events),
        _ => None,
    };
    if let Some(events) = direct {
        return Ok(events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Located {
                file: label.to_string(),
                row: i as u64 + 1,
                event,
            })
            .collect());
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Body {
        List(Vec<serde_json::Value>),
        Wrapped { events: Vec<serde_json::Value> },
    }
    let body: Body = serde_json::from_slice(bytes).map_err(|e| IngestError::Unreadable {
        file: label.to_string(),
        reason: format!(
            "JSON inválido: {} (se espera una lista de eventos o {{\"events\": [...]}})",
            limits::echo(&e.to_string())
        ),
    })?;
    let list = match body {
        Body::List(l) | Body::Wrapped { events: l } => l,
    };
    list.into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<EventInput>(v)
                .map(|event| Located {
                    file: label.to_string(),
                    row: i as u64 + 1,
                    event,
                })
                .map_err(|e| IngestError::Unreadable {
                    file: label.to_string(),
                    // serde repeats an unknown field's name: cut, as every echoed value.
                    reason: format!("evento {}: {}", i + 1, limits::echo(&e.to_string())),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_latin1_semicolon_csv_with_spanish_headers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("contra.csv");
        let mut f = std::fs::File::create(&p).unwrap();
        // "Institución" in Windows-1252, ';' separator, dd/mm/yyyy dates, a blank line.
        f.write_all(b"Id Evento;Instituci\xf3n;C\xe9dula;Servicio;Fecha Entrega;Lugar\n")
            .unwrap();
        f.write_all(b"E-1;MSPBS;1.234.567;control_prenatal;20/11/2026;USF Villeta\n;;;;;\n")
            .unwrap();
        drop(f);
        let rows = read(&p).unwrap();
        assert_eq!(rows.len(), 1);
        let e = &rows[0].event;
        assert_eq!(rows[0].row, 2);
        assert_eq!(e.event_id.as_deref(), Some("E-1"));
        assert_eq!(e.institution.as_deref(), Some("MSPBS"));
        assert_eq!(e.cedula.as_deref(), Some("1.234.567"));
        assert_eq!(e.delivered_on.as_deref(), Some("20/11/2026"));
        assert_eq!(e.place.as_deref(), Some("USF Villeta"));
    }

    #[test]
    fn missing_columns_stop_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mal.csv");
        std::fs::write(&p, "id_evento,servicio\nE-1,control_prenatal\n").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("fecha_entrega"), "{e}");
        assert!(e.contains("persona_id o cedula"), "{e}");
    }

    #[test]
    fn json_lists_and_wrapped_lists_and_numbers() {
        let a = parse_json(
            "x",
            br#"[{"event_id":"1","person_id":12,"service":"s","delivered_on":"2026-11-20"}]"#,
        )
        .unwrap();
        assert_eq!(a[0].event.person_id.as_deref(), Some("12"));
        let b = parse_json("x", br#"{"events":[{"id_evento":"1","cedula":"123","servicio":"s","fecha_entrega":"2026-11-20"}]}"#).unwrap();
        assert_eq!(b[0].event.cedula.as_deref(), Some("123"));
        assert!(parse_json("x", br#"[{"evento_raro":1}]"#).is_err());
        assert!(parse_json("x", b"nope").is_err());
        // Read straight or through JSON values, the same events in the same rows.
        let c = parse_json(
            "x",
            br#" {"events":[{"event_id":"1","person_id":"7"},{"event_id":"2","place_district":1116}], "sender":"his"}"#,
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[1].row, c[1].event.place_district.as_deref()),
            (2, Some("1116"))
        );
        // An invalid event is named by its place in the list.
        let e = parse_json("x", br#"[{"event_id":"1"},{"event_id":"2","persona":3}]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("evento 2"), "{e}");
    }
}

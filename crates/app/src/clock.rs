//! The wall clock, read in one place. `domain` and `engine` never read it (clippy.toml bans it
//! there); the interfaces read it here and pass the time down as a parameter.

/// The current time (UTC).
#[allow(clippy::disallowed_methods)] // reason: the one place the clock is read
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// The current time as RFC 3339 with seconds (`2026-12-06T17:00:00Z`), as audit records and
/// timestamps are stored.
pub fn now_rfc3339() -> String {
    now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Today's date in the machine's time zone (the default reference date of a command).
#[allow(clippy::disallowed_methods)] // reason: the one place the clock is read
pub fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

/// A calendar date `AAAA-MM-DD` as people in Paraguay write it (`DD/MM/AAAA`); anything else
/// unchanged.
pub fn date_es(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map_or_else(|_| iso.to_string(), |d| d.format("%d/%m/%Y").to_string())
}

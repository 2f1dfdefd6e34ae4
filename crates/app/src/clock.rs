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

/// A date as a person writes it (`DD/MM/AAAA`) or as stored (`AAAA-MM-DD`); a refusal naming
/// `what` and the value (cut short) otherwise.
pub fn parse_date(s: &str, what: &str) -> crate::Result<chrono::NaiveDate> {
    let s = s.trim();
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .map_err(|_| {
            crate::Error::bad_request(format!(
                "{what}: fecha inválida «{}» (dd/mm/aaaa)",
                s.chars().take(20).collect::<String>()
            ))
        })
}

/// A moment stored as RFC 3339 (UTC) in Paraguay's time (UTC−3 all year since 2024); `None`
/// for text that is not such a moment.
pub fn in_paraguay(rfc3339: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    Some(t.with_timezone(&chrono::FixedOffset::west_opt(3 * 3600)?))
}

/// A moment stored as RFC 3339 as people in Paraguay write it (`06/12/2026 20:37`, their
/// time); anything else unchanged.
pub fn moment_es(rfc3339: &str) -> String {
    in_paraguay(rfc3339).map_or_else(
        || rfc3339.to_string(),
        |t| t.format("%d/%m/%Y %H:%M").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_moments_read_as_people_in_paraguay_write_them() {
        assert_eq!(date_es("2026-12-07"), "07/12/2026");
        assert_eq!(date_es("no es fecha"), "no es fecha");
        // UTC−3: a moment after midnight UTC is still the evening before in Paraguay.
        assert_eq!(moment_es("2026-12-07T01:30:00Z"), "06/12/2026 22:30");
        assert_eq!(moment_es("—"), "—");
    }
}

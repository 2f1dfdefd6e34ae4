//! Dates as they arrive: ISO `2024-03-05`, ODK datetimes `2024-03-05T10:11:12.000-04:00`,
//! `05/03/2024` (day first, as Paraguay writes it), `5-3-2024`, and Excel serial numbers.
//! An impossible date (31/02/2024) is told apart from a malformed one.

use chrono::NaiveDate;

/// Why a date was refused (Spanish message for the rejection report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    Malformed,
    Impossible,
}

impl DateError {
    pub fn message(&self) -> &'static str {
        match self {
            DateError::Malformed => "fecha mal formada: use AAAA-MM-DD o dd/mm/aaaa",
            DateError::Impossible => "fecha imposible (ese día no existe en el calendario)",
        }
    }
}

fn num(s: &str) -> Option<u32> {
    if !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn build(y: u32, m: u32, d: u32) -> Result<NaiveDate, DateError> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1800..=2999).contains(&y) {
        return Err(DateError::Impossible);
    }
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(DateError::Impossible)
}

/// Parses a date; `Ok(None)` for an empty value.
pub fn parse_date(raw: &str) -> Result<Option<NaiveDate>, DateError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    // ISO date or datetime: take the date part.
    let date_part = s.split(['T', ' ']).next().unwrap_or(s);
    let parts: Vec<&str> = date_part.split(['-', '/', '.']).collect();
    if let [a, b, c] = parts.as_slice() {
        let (a, b, c) = (num(a), num(b), num(c));
        if let (Some(a), Some(b), Some(c)) = (a, b, c) {
            return if date_part.len() >= 8
                && date_part
                    .as_bytes()
                    .get(4)
                    .is_some_and(|&x| x == b'-' || x == b'/')
            {
                build(a, b, c).map(Some)
            } else if c >= 100 {
                build(c, b, a).map(Some)
            } else {
                Err(DateError::Malformed)
            };
        }
        return Err(DateError::Malformed);
    }
    // Excel serial day numbers (a date cell read as a number): 1900 date system.
    if let Ok(serial) = s.parse::<f64>() {
        if (1.0..=2_958_465.0).contains(&serial) {
            let base = NaiveDate::from_ymd_opt(1899, 12, 30).ok_or(DateError::Malformed)?;
            let d = base
                .checked_add_days(chrono::Days::new(serial.trunc() as u64))
                .ok_or(DateError::Impossible)?;
            // Same calendar window as written dates, so a date always reads back the same.
            use chrono::Datelike;
            return build(d.year() as u32, d.month(), d.day()).map(Some);
        }
    }
    Err(DateError::Malformed)
}

/// Whole years between a birth date and a reference date.
pub fn age_at(birth: NaiveDate, at: NaiveDate) -> i32 {
    use chrono::Datelike;
    let mut age = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, dd)
    }

    #[test]
    fn reads_every_common_form() {
        assert_eq!(parse_date("2024-03-05").unwrap(), d(2024, 3, 5));
        assert_eq!(
            parse_date("2024-03-05T10:11:12.000-04:00").unwrap(),
            d(2024, 3, 5)
        );
        assert_eq!(parse_date("05/03/2024").unwrap(), d(2024, 3, 5));
        assert_eq!(parse_date("5/3/2024").unwrap(), d(2024, 3, 5));
        assert_eq!(parse_date("05-03-2024").unwrap(), d(2024, 3, 5));
        assert_eq!(parse_date("2024/03/05").unwrap(), d(2024, 3, 5));
        assert_eq!(parse_date("45356").unwrap(), d(2024, 3, 5));
        assert_eq!(parse_date("  ").unwrap(), None);
    }

    #[test]
    fn tells_impossible_from_malformed() {
        assert_eq!(parse_date("31/02/2024"), Err(DateError::Impossible));
        assert_eq!(parse_date("2023-02-29"), Err(DateError::Impossible));
        assert_eq!(parse_date("2024-13-01"), Err(DateError::Impossible));
        assert_eq!(parse_date("ayer"), Err(DateError::Malformed));
        // Found by the `dates` fuzz target: a serial beyond year 2999 must not be accepted
        // when the same date written out would be refused.
        assert_eq!(parse_date("777777"), Err(DateError::Impossible));
        assert_eq!(parse_date("05/03/24"), Err(DateError::Malformed));
    }

    #[test]
    fn ages() {
        let b = NaiveDate::from_ymd_opt(2000, 6, 15).unwrap();
        assert_eq!(age_at(b, NaiveDate::from_ymd_opt(2020, 6, 14).unwrap()), 19);
        assert_eq!(age_at(b, NaiveDate::from_ymd_opt(2020, 6, 15).unwrap()), 20);
    }
}

//! Published measurements: the one source of the public figures (issue 35, item 7).
//!
//! A measurement's districts' Logros move after it is saved — the counter-referral updater
//! rewrites `measurement_districts` within seconds of a delivery — and a public figure that
//! moves with one delivery tells whoever knows when a person was served who that person is.
//! Publishing therefore records who and when on the measurement and copies its districts'
//! Logros, as they stand at that moment, into `published_districts`, which nothing else
//! writes. The public figures read only that copy.

use crate::sql::in_tx;
use crate::{Backend, MeasurementRecord, Result};
use serde_json::Value;

/// Who published a measurement, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub measurement_id: i64,
    /// RFC 3339, as the caller stamped it.
    pub published_at: String,
    /// The account, as the audit trail names it.
    pub published_by: String,
}

/// A published measurement with its frozen districts' Logros (district number, JSON).
pub struct Published {
    pub measurement: MeasurementRecord,
    pub publication: Publication,
    pub districts: Vec<(u16, String)>,
}

/// Publishes measurement `id` at `at` by `by`: freezes its districts' Logros as they stand now
/// (replacing an earlier publication of the same measurement). `None` when there is no such
/// measurement.
pub fn publish(
    sql: &mut crate::sql::Db<'_>,
    id: i64,
    at: &str,
    by: &str,
) -> Result<Option<Publication>> {
    let sql = sql.raw();
    in_tx(sql, |sql| {
        // The measurement's row first, locked on PostgreSQL: the updater locks it too before it
        // writes figures (`counter_referrals::save_progress`), so the copy below sees either
        // all of an update or none of it.
        let found = sql.query_opt(
            match sql.dialect() {
                Backend::Postgres => "SELECT id FROM measurements WHERE id = $1 FOR UPDATE",
                Backend::Sqlite => "SELECT id FROM measurements WHERE id = $1",
            },
            &[id.into()],
        )?;
        if found.is_none() {
            return Ok(None);
        }
        sql.execute(
            "DELETE FROM published_districts WHERE measurement_id = $1",
            &[id.into()],
        )?;
        sql.execute(
            "INSERT INTO published_districts (measurement_id, district_code, logros)
             SELECT measurement_id, district_code, logros FROM measurement_districts
             WHERE measurement_id = $1",
            &[id.into()],
        )?;
        sql.execute(
            "UPDATE measurements SET published_at = $1, published_by = $2 WHERE id = $3",
            &[at.into(), by.into(), id.into()],
        )?;
        Ok(Some(Publication {
            measurement_id: id,
            published_at: at.to_string(),
            published_by: by.to_string(),
        }))
    })
}

/// The published measurement `id`, or the latest published one (highest number) when `id` is
/// `None`, with its frozen figures; `None` when it is not published (or nothing is).
pub fn published(sql: &mut crate::sql::Db<'_>, id: Option<i64>) -> Result<Option<Published>> {
    let sql = sql.raw();
    let columns = "SELECT id, CAST(as_of AS TEXT), catalogue_version, catalogue_label, territory,
            synthetic, created_at, details, cr_applied_id, cr_updated_at, published_at, published_by,
            known_at
         FROM measurements WHERE published_at IS NOT NULL";
    let row = match id {
        Some(id) => sql.query_opt(&format!("{columns} AND id = $1"), &[id.into()])?,
        None => sql.query_opt(&format!("{columns} ORDER BY id DESC LIMIT 1"), &[])?,
    };
    let Some(r) = row else { return Ok(None) };
    let id = r.int(0).unwrap_or_default();
    let measurement = MeasurementRecord {
        id,
        as_of: r.text(1),
        catalogue_version: r.text(2),
        catalogue_label: r.text(3),
        territory: r.text(4),
        synthetic: r.int(5) == Some(1),
        created_at: r.text(6),
        details: serde_json::from_str(&r.text(7)).unwrap_or(Value::Null),
        counter_referrals_applied_through: r.int(8).unwrap_or_default(),
        counter_referrals_updated_at: r.string(9),
        known_at: r.string(12),
    };
    let publication = Publication {
        measurement_id: id,
        published_at: r.text(10),
        published_by: r.text(11),
    };
    let districts = sql
        .query(
            "SELECT district_code, logros FROM published_districts
             WHERE measurement_id = $1 ORDER BY district_code",
            &[id.into()],
        )?
        .iter()
        .filter_map(|r| Some((u16::try_from(r.int(0)?).ok()?, r.string(1)?)))
        .collect();
    Ok(Some(Published {
        measurement,
        publication,
        districts,
    }))
}

/// The published measurements, newest first (at most 1000): id, as_of, catalogue_label,
/// territory, synthetic and published_at — what anyone may know of them (not who published).
pub fn published_list(sql: &mut crate::sql::Db<'_>) -> Result<Vec<Value>> {
    let sql = sql.raw();
    Ok(sql
        .query(
            "SELECT id, CAST(as_of AS TEXT) AS as_of, catalogue_label, territory, synthetic, published_at
             FROM measurements WHERE published_at IS NOT NULL ORDER BY id DESC LIMIT 1000",
            &[],
        )?
        .iter()
        .map(|r| {
            let mut o = r.object();
            o.insert("synthetic".into(), Value::Bool(r.int(4) == Some(1)));
            Value::Object(o)
        })
        .collect())
}

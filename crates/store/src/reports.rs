//! Follow-up reports and the monitoring calendar (migration 0034): each report's territory,
//! period, version, the published measurements it reads and the analysis an analyst wrote, so
//! that it can be drawn again exactly; the calendar's declared cut-offs. What a report says is
//! `vamos_app::reports`' business.

use crate::sql::Row;
use crate::{Result, StoreError};
use serde::Serialize;

/// A follow-up report's record.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Report {
    pub id: i64,
    pub territory: String,
    /// `AAAA-Tn`.
    pub period: String,
    pub version: i64,
    pub measurement_id: i64,
    pub trend_measurements: Vec<i64>,
    pub analysis: String,
    /// `borrador` or `publicado`.
    pub status: String,
    pub digest: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub published_by: Option<String>,
    pub published_at: Option<String>,
}

const COLUMNS: &str = "id, territory, period, version, measurement_id, trend_measurements, analysis, status, digest, created_by, created_at, published_by, published_at";

fn decode(r: &Row) -> Report {
    Report {
        id: r.int(0).unwrap_or(0),
        territory: r.text(1),
        period: r.text(2),
        version: r.int(3).unwrap_or(0),
        measurement_id: r.int(4).unwrap_or(0),
        trend_measurements: serde_json::from_str(&r.text(5)).unwrap_or_default(),
        analysis: r.text(6),
        status: r.text(7),
        digest: r.string(8),
        created_by: r.text(9),
        created_at: r.text(10),
        published_by: r.string(11),
        published_at: r.string(12),
    }
}

/// Stores a new version of a report (its number is one more than the territory's and period's
/// last); its id and version.
pub fn insert(db: &mut crate::sql::Db<'_>, r: &Report) -> Result<(i64, i64)> {
    crate::sql::in_tx(db.raw(), |sql| {
        let version = sql
            .query_opt(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM follow_up_reports WHERE territory = $1 AND period = $2",
                &[r.territory.as_str().into(), r.period.as_str().into()],
            )?
            .and_then(|x| x.int(0))
            .unwrap_or(1);
        let id = sql
            .query_opt(
                "INSERT INTO follow_up_reports (territory, period, version, measurement_id, trend_measurements, analysis, status, digest, created_by, created_at, published_by, published_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                &[
                    r.territory.as_str().into(),
                    r.period.as_str().into(),
                    version.into(),
                    r.measurement_id.into(),
                    serde_json::to_string(&r.trend_measurements)?.into(),
                    r.analysis.as_str().into(),
                    r.status.as_str().into(),
                    r.digest.as_deref().into(),
                    r.created_by.as_str().into(),
                    r.created_at.as_str().into(),
                    r.published_by.as_deref().into(),
                    r.published_at.as_deref().into(),
                ],
            )?
            .and_then(|x| x.int(0))
            .ok_or_else(|| StoreError::Invalid("el informe no devolvió su número".into()))?;
        Ok((id, version))
    })
}

/// Reports of `territory` (all when `None`), newest first.
pub fn list(db: &mut crate::sql::Db<'_>, territory: Option<&str>) -> Result<Vec<Report>> {
    let (filter, params): (&str, Vec<crate::sql::Param>) = match territory {
        Some(t) => ("WHERE territory = $1", vec![t.into()]),
        None => ("", Vec::new()),
    };
    Ok(db
        .raw()
        .query(
            &format!("SELECT {COLUMNS} FROM follow_up_reports {filter} ORDER BY period DESC, territory, version DESC"),
            &params,
        )?
        .iter()
        .map(decode)
        .collect())
}

/// Report `id`.
pub fn get(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<Report>> {
    Ok(db
        .raw()
        .query_opt(
            &format!("SELECT {COLUMNS} FROM follow_up_reports WHERE id = $1"),
            &[id.into()],
        )?
        .map(|r| decode(&r)))
}

/// Marks draft `id` published with its PDF and the PDF's digest; whether it was a draft.
pub fn publish(
    db: &mut crate::sql::Db<'_>,
    id: i64,
    pdf: &[u8],
    digest: &str,
    by: &str,
    at: &str,
) -> Result<bool> {
    Ok(db.raw().execute(
        "UPDATE follow_up_reports SET status = 'publicado', pdf = $1, digest = $2, published_by = $3, published_at = $4 WHERE id = $5 AND status = 'borrador'",
        &[
            crate::sql::Param::Bytes(Some(pdf.to_vec())),
            digest.into(),
            by.into(),
            at.into(),
            id.into(),
        ],
    )? > 0)
}

/// The PDF of published report `id`, as published.
pub fn published_pdf(db: &mut crate::sql::Db<'_>, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(db
        .raw()
        .query_opt(
            "SELECT pdf FROM follow_up_reports WHERE id = $1 AND status = 'publicado'",
            &[id.into()],
        )?
        .and_then(|r| r.at(0).bytes()))
}

/// A declared cut-off of the monitoring calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutOff {
    pub territory: String,
    pub period: String,
    pub cut_off: String,
    pub declared_by: String,
}

/// Declares (or moves) the cut-off of a territory's period.
pub fn declare(db: &mut crate::sql::Db<'_>, c: &CutOff) -> Result<()> {
    db.raw().execute(
        "INSERT INTO monitoring_calendar (territory, period, cut_off, declared_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (territory, period) DO UPDATE SET cut_off = excluded.cut_off, declared_by = excluded.declared_by",
        &[
            c.territory.as_str().into(),
            c.period.as_str().into(),
            c.cut_off.as_str().into(),
            c.declared_by.as_str().into(),
        ],
    )?;
    Ok(())
}

/// Every declared cut-off.
pub fn calendar(db: &mut crate::sql::Db<'_>) -> Result<Vec<CutOff>> {
    Ok(db
        .raw()
        .query(
            "SELECT territory, period, cut_off, declared_by FROM monitoring_calendar ORDER BY period, territory",
            &[],
        )?
        .iter()
        .map(|r| CutOff {
            territory: r.text(0),
            period: r.text(1),
            cut_off: r.text(2),
            declared_by: r.text(3),
        })
        .collect())
}

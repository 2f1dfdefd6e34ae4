//! Anonymised microdata releases (migration 0034): which measurement, the k asked for, the
//! recipient and data-use agreement, the risk report and the digest of the extract — a log of
//! every release. How an extract is made is `vamos_app::microdata`'s business.

use crate::{Result, StoreError};
use serde::Serialize;

/// A release.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Release {
    pub id: i64,
    pub measurement_id: i64,
    pub k: i64,
    pub recipient: String,
    /// The `riesgo.json` of the release.
    pub risk: serde_json::Value,
    pub digest: String,
    pub released_by: String,
    pub released_at: String,
}

/// Logs a release; its number.
pub fn insert(db: &mut crate::sql::Db<'_>, r: &Release) -> Result<i64> {
    db.raw()
        .query_opt(
            "INSERT INTO microdata_releases (measurement_id, k, recipient, risk, digest, released_by, released_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                r.measurement_id.into(),
                r.k.into(),
                r.recipient.as_str().into(),
                serde_json::to_string(&r.risk)?.into(),
                r.digest.as_str().into(),
                r.released_by.as_str().into(),
                r.released_at.as_str().into(),
            ],
        )?
        .and_then(|x| x.int(0))
        .ok_or_else(|| StoreError::Invalid("la entrega no devolvió su número".into()))
}

/// Every release, newest first.
pub fn list(db: &mut crate::sql::Db<'_>) -> Result<Vec<Release>> {
    Ok(db
        .raw()
        .query(
            "SELECT id, measurement_id, k, recipient, risk, digest, released_by, released_at FROM microdata_releases ORDER BY id DESC",
            &[],
        )?
        .iter()
        .map(|r| Release {
            id: r.int(0).unwrap_or(0),
            measurement_id: r.int(1).unwrap_or(0),
            k: r.int(2).unwrap_or(0),
            recipient: r.text(3),
            risk: serde_json::from_str(&r.text(4)).unwrap_or_default(),
            digest: r.text(5),
            released_by: r.text(6),
            released_at: r.text(7),
        })
        .collect())
}

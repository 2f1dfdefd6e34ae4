//! The rejection report of each import (migration 0027), kept with the import so a past import's
//! report can be downloaded from the history. Who may read it and the audit record are
//! `vamos_app::imports`' business.

use crate::sql::Param;
use crate::Result;

/// Keeps the rejection report of import `import_id` (once: a second one is ignored).
pub fn save(
    db: &mut crate::sql::Db<'_>,
    import_id: i64,
    report: &[u8],
    truncated: bool,
) -> Result<()> {
    db.raw().execute(
        "INSERT INTO import_rejects (import_id, report, truncated) VALUES ($1, $2, $3)
         ON CONFLICT (import_id) DO NOTHING",
        &[
            import_id.into(),
            Param::Bytes(Some(report.to_vec())),
            truncated.into(),
        ],
    )?;
    Ok(())
}

/// The rejection report of import `import_id` and whether it was cut short, if it has one.
pub fn get(db: &mut crate::sql::Db<'_>, import_id: i64) -> Result<Option<(Vec<u8>, bool)>> {
    Ok(db
        .raw()
        .query_opt(
            "SELECT report, truncated FROM import_rejects WHERE import_id = $1",
            &[import_id.into()],
        )?
        .and_then(|r| Some((r.at(0).bytes()?, r.int(1).unwrap_or(0) != 0))))
}

/// Which of the imports `ids` have a rejection report kept.
pub fn kept(db: &mut crate::sql::Db<'_>, ids: &[i64]) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut params = Vec::new();
    let sql = db.raw();
    let list = crate::sql::in_ints(sql.dialect(), "import_id", ids, &mut params);
    Ok(sql
        .query(
            &format!("SELECT import_id FROM import_rejects WHERE {list}"),
            &params,
        )?
        .iter()
        .filter_map(|r| r.int(0))
        .collect())
}

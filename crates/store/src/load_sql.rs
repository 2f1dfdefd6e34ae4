//! The SELECT statements that stream the registry to the classification engine, shared by both
//! backends (their placeholders differ: `?1` in SQLite, `$1` in PostgreSQL).

use crate::answer_columns;
use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::{EvidenceKind, EvidenceSource};

/// Which rows the load queries read.
#[derive(Clone, Copy)]
pub(crate) enum Filter {
    /// The inclusive district range in placeholders 1 and 2.
    Districts,
    /// The whole nation: the joins that only filter by district are left out (they would cost
    /// a lookup per person for nothing); placeholders 1 and 2 are still taken.
    Nation,
    /// Some communities: the SQL that follows a column to test membership of the list bound to
    /// placeholder 1 (`IN (SELECT value FROM json_each(?1))`, `= ANY($1)`).
    Communities(&'static str),
}

/// The load queries: communities, households, persons, events and the person id bounds, in id
/// order. With district filters the persons query also takes an inclusive person id range as
/// placeholders 3 and 4 (and the bounds query only the districts). `p` renders placeholder n.
/// The events query takes the last counter-referral id to include as the placeholder after the
/// filter's (3, or 2 for communities): the events are the matched administrative records and
/// those counter-referrals, each row's fifth column saying which of the two it is (read with
/// [`event_source`]). For communities the bounds query is empty (not used).
pub(crate) fn queries(p: fn(usize) -> String, filter: Filter) -> [String; 5] {
    let community = format!(
        "SELECT c.id, c.district_code, c.area, s.survey_date, {}
         FROM communities c
         LEFT JOIN community_surveys s ON s.submission_key = (
             SELECT x.submission_key FROM community_surveys x WHERE x.community_id = c.id
             ORDER BY x.survey_date DESC, x.submission_key DESC LIMIT 1)",
        prefixed("s", &answer_columns(COMMUNITY_FIELDS))
    );
    let household = format!(
        "SELECT id, district_code, community_id, area, interview_date, {} FROM households",
        answer_columns(HOUSEHOLD_FIELDS)
    );
    let person = format!(
        "SELECT p.id, p.household_id, p.national_id, p.birth_date, p.sex, p.relationship, {}
         FROM persons p",
        prefixed("p", &answer_columns(PERSON_FIELDS))
    );
    let admin = format!(
        "SELECT a.person_id, a.institution, a.service, a.event_date, {} AS kind
         FROM admin_records a",
        kind_code(EvidenceKind::Admin)
    );
    let counter = format!(
        "SELECT c.person_id, c.institution, c.service, c.delivered_on, {} AS kind
         FROM counter_referrals c",
        kind_code(EvidenceKind::CounterReferral)
    );
    let of_household =
        "JOIN persons p ON p.id = a.person_id JOIN households h ON h.id = p.household_id";
    let of_household_c =
        "JOIN persons p ON p.id = c.person_id JOIN households h ON h.id = p.household_id";
    let (lo, hi) = (p(1), p(2));
    match filter {
        Filter::Communities(within) => {
            let through = p(2);
            [
                format!("{community} WHERE c.id {within} ORDER BY c.id"),
                format!("{household} WHERE community_id {within} ORDER BY id"),
                format!(
                    "{person} JOIN households h ON h.id = p.household_id
                     WHERE h.community_id {within} ORDER BY p.id"
                ),
                format!(
                    "{admin} {of_household} WHERE h.community_id {within}
                     UNION ALL
                     {counter} {of_household_c} WHERE h.community_id {within} AND c.id <= {through}"
                ),
                String::new(),
            ]
        }
        Filter::Nation => {
            let (from, to, through) = (p(3), p(4), p(3));
            [
                format!("{community} WHERE c.district_code BETWEEN {lo} AND {hi} ORDER BY c.id"),
                format!("{household} WHERE district_code BETWEEN {lo} AND {hi} ORDER BY id"),
                format!(
                    "{person} WHERE CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT)
                     AND p.id BETWEEN {from} AND {to} ORDER BY p.id"
                ),
                format!(
                    "{admin} WHERE a.person_id IS NOT NULL AND CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT)
                     UNION ALL
                     {counter} WHERE c.id <= {through}"
                ),
                format!(
                    "SELECT min(id), max(id) FROM persons WHERE CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT)"
                ),
            ]
        }
        Filter::Districts => {
            let (from, to, through) = (p(3), p(4), p(3));
            [
                format!("{community} WHERE c.district_code BETWEEN {lo} AND {hi} ORDER BY c.id"),
                format!("{household} WHERE district_code BETWEEN {lo} AND {hi} ORDER BY id"),
                format!(
                    "{person} JOIN households h ON h.id = p.household_id
                     WHERE h.district_code BETWEEN {lo} AND {hi} AND p.id BETWEEN {from} AND {to} ORDER BY p.id"
                ),
                format!(
                    "{admin} {of_household} WHERE h.district_code BETWEEN {lo} AND {hi}
                     UNION ALL
                     {counter} {of_household_c} WHERE h.district_code BETWEEN {lo} AND {hi} AND c.id <= {through}"
                ),
                format!(
                    "SELECT min(p.id), max(p.id) FROM persons p JOIN households h ON h.id = p.household_id
                     WHERE h.district_code BETWEEN {lo} AND {hi}"
                ),
            ]
        }
    }
}

/// The filter of a territory's load.
pub(crate) fn territory_filter(t: vamos_domain::TerritoryCode) -> Filter {
    if t == vamos_domain::TerritoryCode::Nation {
        Filter::Nation
    } else {
        Filter::Districts
    }
}

/// The events query's `kind` column for each kind of evidence: the store's own encoding (a
/// constant per arm of the `UNION ALL`), never seen outside it. A bare literal (INTEGER in
/// PostgreSQL): a CAST would be evaluated again for every row in SQLite.
fn kind_code(kind: EvidenceKind) -> i32 {
    match kind {
        EvidenceKind::Admin => 0,
        EvidenceKind::CounterReferral => 1,
    }
}

/// The source of an events query's row: its `kind` column and its institution; `None` for a
/// kind this store never writes.
pub(crate) fn event_source(kind: i64, institution: &str) -> Option<EvidenceSource<&str>> {
    EvidenceKind::ALL
        .into_iter()
        .find(|&k| i64::from(kind_code(k)) == kind)
        .map(|k| k.of(institution))
}

fn prefixed(alias: &str, cols: &str) -> String {
    cols.split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_evidence_reads_back_from_its_column() {
        for kind in EvidenceKind::ALL {
            let code = i64::from(kind_code(kind));
            assert_eq!(event_source(code, "MSPBS"), Some(kind.of("MSPBS")));
        }
        assert_eq!(event_source(7, "MSPBS"), None);
    }
}

//! The SELECT statements that stream the registry to the classification engine, shared by both
//! backends (their placeholders differ: `?1` in SQLite, `$1` in PostgreSQL).

use crate::answer_columns;
use crate::reading::{outranks_sql, Reading};
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

/// The load queries of one [`Filter`] at one [`Reading`].
pub(crate) struct Queries {
    pub communities: String,
    /// Current households visible and active at the reading.
    pub households: String,
    /// Past household versions picked where the current row is not (empty without history).
    pub past_households: String,
    /// Ids of households whose visible current row a visible past version outranks.
    pub skip_households: String,
    pub persons: String,
    pub past_persons: String,
    pub skip_persons: String,
    pub events: String,
    pub bounds: String,
}

/// The load queries: communities, households, persons, events and the person id bounds, in id
/// order. With district filters the persons queries also take an inclusive person id range as
/// placeholders 3 and 4 (and the bounds query only the districts). `p` renders placeholder n.
/// The events query takes the last counter-referral id to include as the placeholder after the
/// filter's (3, or 2 for communities): the events are the matched administrative records and
/// those counter-referrals, each row's fifth column saying which of the two it is (read with
/// [`event_source`]). For communities the bounds query is empty (not used).
///
/// Units are read at `at` (see [`crate::reading`]). `history` says whether any past version
/// is stored: without one the past and skip queries are empty and a person belongs to a
/// territory through its household's current row only, as before versions; with history a
/// person, or its events, belongs where any version of its household was (a superset: what the
/// reading does not place there is dropped by the sink as an orphan).
#[allow(clippy::too_many_lines)] // reason: one query text per table and case, kept side by side
pub(crate) fn queries(
    p: fn(usize) -> String,
    filter: Filter,
    at: &Reading,
    history: bool,
) -> Queries {
    let community = format!(
        "SELECT c.id, c.district_code, c.area, s.survey_date, {}
         FROM communities c
         LEFT JOIN community_surveys s ON s.submission_key = ({})",
        prefixed("s", &answer_columns(COMMUNITY_FIELDS)),
        at.community_survey_sql("c")
    );
    let household_cols = format!(
        "h.id, h.district_code, h.community_id, h.area, h.interview_date, {}",
        prefixed("h", &answer_columns(HOUSEHOLD_FIELDS))
    );
    let person_cols = format!(
        "p.id, p.household_id, p.national_id, p.birth_date, p.sex, p.relationship, {}",
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
    let (lo, hi) = (p(1), p(2));
    // Whether a household row of alias `a` is in the territory.
    let unit_in = |a: &str| match filter {
        Filter::Communities(within) => format!("{a}.community_id {within}"),
        Filter::Nation | Filter::Districts => {
            format!("{a}.district_code BETWEEN {lo} AND {hi}")
        }
    };
    // Whether the household `h` (current row) is or was in the territory.
    let place = |h: &str| {
        if history {
            format!(
                "({} OR EXISTS (SELECT 1 FROM household_history hh WHERE hh.id = {h}.id AND {}))",
                unit_in(h),
                unit_in("hh")
            )
        } else {
            unit_in(h)
        }
    };
    let visible = |a: &str| at.visible_sql(a);
    let active = |a: &str| format!("{} AND {a}.status = 'activo'", visible(a));
    // Picked: no visible version of the unit, past or current, outranks it.
    let not_outranked = |a: &str, history_table: &str, current_table: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM {history_table} y WHERE y.id = {a}.id AND {} AND {})
             AND NOT EXISTS (SELECT 1 FROM {current_table} y WHERE y.id = {a}.id AND {} AND {})",
            visible("y"),
            outranks_sql("y", a),
            visible("y"),
            outranks_sql("y", a),
        )
    };
    let hh = unit_in("h");
    let households = format!(
        "SELECT {household_cols} FROM households h WHERE {hh} AND {} ORDER BY h.id",
        active("h")
    );
    let (past_households, skip_households) = if history {
        (
            format!(
                "SELECT {household_cols} FROM household_history h WHERE {hh} AND {} AND {}
                 ORDER BY h.id",
                active("h"),
                not_outranked("h", "household_history", "households")
            ),
            format!(
                "SELECT DISTINCT y.id FROM household_history y JOIN households h ON h.id = y.id
                 WHERE {hh} AND {} AND {} AND {}",
                visible("y"),
                visible("h"),
                outranks_sql("y", "h")
            ),
        )
    } else {
        (String::new(), String::new())
    };
    // Every person any version of whom belonged to a household that is or was in the place.
    let of_place = format!(
        "SELECT p.id FROM persons p JOIN households h ON h.id = p.household_id WHERE {pl}
         UNION SELECT p.id FROM person_history p JOIN households h ON h.id = p.household_id
         WHERE {pl}",
        pl = place("h")
    );
    // The persons' territory and id range, for alias `p` (current or past rows).
    let (person_join, person_where, persons_of_place) = match filter {
        Filter::Nation => {
            let (from, to) = (p(3), p(4));
            (
                String::new(),
                format!(
                    "CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT) AND p.id BETWEEN {from} AND {to}"
                ),
                String::new(),
            )
        }
        Filter::Districts => {
            let (from, to) = (p(3), p(4));
            (
                "JOIN households h ON h.id = p.household_id".to_string(),
                format!("{} AND p.id BETWEEN {from} AND {to}", place("h")),
                of_place,
            )
        }
        Filter::Communities(_) => (
            "JOIN households h ON h.id = p.household_id".to_string(),
            place("h"),
            of_place,
        ),
    };
    let persons = format!(
        "SELECT {person_cols} FROM persons p {person_join} WHERE {person_where} AND {}
         ORDER BY p.id",
        active("p")
    );
    let (past_persons, skip_persons) = if history {
        (
            format!(
                "SELECT {person_cols} FROM person_history p {person_join} WHERE {person_where}
                 AND {} AND {} ORDER BY p.id",
                active("p"),
                not_outranked("p", "person_history", "persons")
            ),
            format!(
                "SELECT DISTINCT y.id FROM person_history y JOIN persons p ON p.id = y.id {person_join}
                 WHERE {person_where} AND {} AND {} AND {}",
                visible("y"),
                visible("p"),
                outranks_sql("y", "p")
            ),
        )
    } else {
        (String::new(), String::new())
    };
    let of_household =
        "JOIN persons p ON p.id = a.person_id JOIN households h ON h.id = p.household_id";
    let of_household_c =
        "JOIN persons p ON p.id = c.person_id JOIN households h ON h.id = p.household_id";
    let through = match filter {
        Filter::Communities(_) => p(2),
        _ => p(3),
    };
    let events = match filter {
        Filter::Nation => format!(
            "{admin} WHERE a.person_id IS NOT NULL AND CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT)
             UNION ALL
             {counter} WHERE c.id <= {through}"
        ),
        _ if history => format!(
            "{admin} WHERE a.person_id IN ({persons_of_place})
             UNION ALL
             {counter} WHERE c.person_id IN ({persons_of_place}) AND c.id <= {through}"
        ),
        _ => format!(
            "{admin} {of_household} WHERE {hh}
             UNION ALL
             {counter} {of_household_c} WHERE {hh} AND c.id <= {through}"
        ),
    };
    let current_bounds = match filter {
        Filter::Communities(_) => String::new(),
        Filter::Nation => format!(
            "SELECT min(id) AS lo, max(id) AS hi FROM persons
             WHERE CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT)"
        ),
        Filter::Districts => format!(
            "SELECT min(p.id) AS lo, max(p.id) AS hi FROM persons p
             JOIN households h ON h.id = p.household_id WHERE {}",
            place("h")
        ),
    };
    let bounds = match filter {
        Filter::Communities(_) => String::new(),
        _ if !history => current_bounds,
        Filter::Nation => format!(
            "SELECT min(t.lo), max(t.hi) FROM ({current_bounds}
             UNION ALL SELECT min(id), max(id) FROM person_history) t"
        ),
        Filter::Districts => format!(
            "SELECT min(t.lo), max(t.hi) FROM ({current_bounds}
             UNION ALL SELECT min(p.id), max(p.id) FROM person_history p
             JOIN households h ON h.id = p.household_id WHERE {}) t",
            place("h")
        ),
    };
    let community_where = match filter {
        Filter::Communities(within) => format!("c.id {within}"),
        _ => format!("c.district_code BETWEEN {lo} AND {hi}"),
    };
    Queries {
        communities: format!("{community} WHERE {community_where} ORDER BY c.id"),
        households,
        past_households,
        skip_households,
        persons,
        past_persons,
        skip_persons,
        events,
        bounds,
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

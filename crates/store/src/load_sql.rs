//! The SELECT statements that stream the registry to the classification engine, shared by both
//! backends (their placeholders differ: `?1` in SQLite, `$1` in PostgreSQL).

use crate::answer_columns;
use vamos_domain::schema::{COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};

/// The load queries: communities, households, persons, events and the person id bounds. All
/// take the inclusive district range as placeholders 1 and 2; the persons query also takes an
/// inclusive person id range as 3 and 4. `p` renders placeholder n. For the whole nation the
/// joins that only filter by district are left out (they would cost a lookup per person for
/// nothing). The events query takes, as placeholder 3, the last counter-referral id to include:
/// the events are the matched administrative records and those counter-referrals (institution
/// prefixed with [`CR`], so an `admin` rule never takes one).
pub(crate) fn queries(p: fn(usize) -> String, nation: bool) -> [String; 5] {
    let (lo, hi, from, to) = (p(1), p(2), p(3), p(4));
    let through = p(3);
    if nation {
        let [communities, households, _, _, _] = queries(p, false);
        return [
            communities,
            households,
            format!(
                "SELECT p.id, p.household_id, p.national_id, p.birth_date, p.sex, p.relationship, {}
                 FROM persons p WHERE CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT)
                 AND p.id BETWEEN {from} AND {to} ORDER BY p.id",
                prefixed("p", &answer_columns(PERSON_FIELDS))
            ),
            format!(
                "SELECT a.person_id, a.institution, a.service, a.event_date FROM admin_records a
                 WHERE a.person_id IS NOT NULL AND CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT)
                 UNION ALL
                 SELECT c.person_id, '{CR}' || c.institution, c.service, c.delivered_on FROM counter_referrals c
                 WHERE c.id <= {through}"
            ),
            format!(
                "SELECT min(id), max(id) FROM persons WHERE CAST({lo} AS BIGINT) <= CAST({hi} AS BIGINT)"
            ),
        ];
    }
    [
        format!(
            "SELECT c.id, c.district_code, c.area, s.survey_date, {}
             FROM communities c
             LEFT JOIN community_surveys s ON s.submission_key = (
                 SELECT x.submission_key FROM community_surveys x WHERE x.community_id = c.id
                 ORDER BY x.survey_date DESC, x.submission_key DESC LIMIT 1)
             WHERE c.district_code BETWEEN {lo} AND {hi} ORDER BY c.id",
            prefixed("s", &answer_columns(COMMUNITY_FIELDS))
        ),
        format!(
            "SELECT id, district_code, community_id, area, interview_date, {}
             FROM households WHERE district_code BETWEEN {lo} AND {hi} ORDER BY id",
            answer_columns(HOUSEHOLD_FIELDS)
        ),
        format!(
            "SELECT p.id, p.household_id, p.national_id, p.birth_date, p.sex, p.relationship, {}
             FROM persons p JOIN households h ON h.id = p.household_id
             WHERE h.district_code BETWEEN {lo} AND {hi} AND p.id BETWEEN {from} AND {to} ORDER BY p.id",
            prefixed("p", &answer_columns(PERSON_FIELDS))
        ),
        format!(
            "SELECT a.person_id, a.institution, a.service, a.event_date
             FROM admin_records a JOIN persons p ON p.id = a.person_id JOIN households h ON h.id = p.household_id
             WHERE h.district_code BETWEEN {lo} AND {hi}
             UNION ALL
             SELECT c.person_id, '{CR}' || c.institution, c.service, c.delivered_on
             FROM counter_referrals c JOIN persons p ON p.id = c.person_id JOIN households h ON h.id = p.household_id
             WHERE h.district_code BETWEEN {lo} AND {hi} AND c.id <= {through}"
        ),
        format!(
            "SELECT min(p.id), max(p.id) FROM persons p JOIN households h ON h.id = p.household_id
             WHERE h.district_code BETWEEN {lo} AND {hi}"
        ),
    ]
}

/// The institution prefix of counter-referral events (equal to the engine's
/// `COUNTER_REFERRAL_PREFIX`; the store does not depend on the engine).
pub const CR: &str = "contrarreferencia:";

fn prefixed(alias: &str, cols: &str) -> String {
    cols.split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

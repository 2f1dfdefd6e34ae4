-- 0025: Canal Verde candidates (issue 37), flagged once per referral generation from the
-- measurement's unmet needs and the criteria of canal_verde.toml, so that a Mesa's list is one
-- indexed read of its district (highest score first) instead of a pass over every open referral.
-- Replaced per territory by each generation; read with the unit's open case and without units
-- whose referrals have all been answered since.
CREATE TABLE case_candidates (
    unit_kind TEXT NOT NULL CHECK (unit_kind IN ('persona', 'hogar', 'comunidad')),
    unit_id BIGINT NOT NULL,
    measurement_id BIGINT NOT NULL,
    district_code BIGINT NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('alta', 'media', 'baja')),
    score BIGINT NOT NULL,
    -- The criteria met, by name, separated by '|'.
    reasons TEXT NOT NULL,
    unprotected BIGINT NOT NULL,
    -- Populations of special attention, comma-separated.
    populations TEXT NOT NULL,
    -- The version of canal_verde.toml that flagged it.
    criteria_version TEXT NOT NULL
);
-- In reading order: a district's list is one range of the index, highest score first.
CREATE UNIQUE INDEX case_candidates_district ON case_candidates (district_code, score DESC, unit_id, unit_kind);

-- Cases offered to a district (their household moved there) are read and notified there.
CREATE INDEX cases_offered ON cases (offered_to) WHERE offered_to IS NOT NULL;

-- 0007 Access management (gestión de acceso): referrals to the institutions that provide the
-- services a unit lacks, counter-referrals reporting that a service was delivered, delivery
-- points for the service routes (crates/store/src/access.rs).

-- One referral per unit × desprotegido service, addressed to the service's institution (and,
-- through its district, to the territory's Mesa de Protección Social). Open statuses:
-- emitida, recibida, contactada; closed: atendida, rechazada (reason), vencida (deadline
-- passed), cerrada (the need disappeared in a newer measurement). At most one open referral
-- per unit and service (partial unique index), so re-generating does not duplicate.
CREATE TABLE referrals (
    id INTEGER PRIMARY KEY,
    measurement_id INTEGER NOT NULL REFERENCES measurements(id),
    unit_kind TEXT NOT NULL CHECK (unit_kind IN ('persona', 'hogar', 'comunidad')),
    unit_id INTEGER NOT NULL,
    household_id INTEGER,
    community_id INTEGER,
    district_code INTEGER NOT NULL,
    category TEXT NOT NULL,
    service TEXT NOT NULL,
    institution TEXT NOT NULL,
    priority INTEGER NOT NULL,
    unprotected INTEGER NOT NULL,
    populations TEXT NOT NULL,
    critical INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('emitida', 'recibida', 'contactada', 'atendida', 'rechazada', 'vencida', 'cerrada')),
    reason TEXT,
    emitted_at TEXT NOT NULL,
    due_on TEXT NOT NULL,
    received_at TEXT,
    contacted_at TEXT,
    closed_at TEXT,
    counter_referral_id INTEGER,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX referrals_open ON referrals (unit_kind, unit_id, service)
    WHERE status IN ('emitida', 'recibida', 'contactada');
CREATE INDEX referrals_institution ON referrals (institution, district_code, status);
CREATE INDEX referrals_district ON referrals (district_code, status);
CREATE INDEX referrals_household ON referrals (household_id);

-- Every transition of a referral: when, who, from which status to which, why.
CREATE TABLE referral_events (
    id INTEGER PRIMARY KEY,
    referral_id INTEGER NOT NULL REFERENCES referrals(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX referral_events_referral ON referral_events (referral_id);

-- Counter-referrals: a service delivered, reported by the institution that delivered it.
-- (institution, event_key) is unique: the institution's own event id makes a re-sent event a
-- duplicate; digest tells an identical re-send from a conflicting one.
CREATE TABLE counter_referrals (
    id INTEGER PRIMARY KEY,
    institution TEXT NOT NULL,
    event_key TEXT NOT NULL,
    digest TEXT NOT NULL,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    service TEXT NOT NULL,
    delivered_on TEXT NOT NULL,
    place TEXT,
    place_district INTEGER,
    referral_id INTEGER,
    channel TEXT NOT NULL,
    received_at TEXT NOT NULL,
    received_by TEXT NOT NULL,
    UNIQUE (institution, event_key)
);
CREATE INDEX counter_referrals_person ON counter_referrals (person_id);

-- Where a service is delivered: level distrito (territory DDdd), departamento (DD), nacional
-- (PY) or remoto (PY: by phone or online).
CREATE TABLE delivery_points (
    id INTEGER PRIMARY KEY,
    institution TEXT NOT NULL,
    service TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('distrito', 'departamento', 'nacional', 'remoto')),
    territory TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT,
    hours TEXT,
    contact TEXT,
    UNIQUE (service, territory, name)
);
CREATE INDEX delivery_points_territory ON delivery_points (territory);

-- A measurement's Logros updated incrementally with counter-referrals: the last counter-referral
-- applied and when.
ALTER TABLE measurements ADD COLUMN cr_applied_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE measurements ADD COLUMN cr_updated_at TEXT;

-- 0024: Canal Verde cases (issue 37). A case follows one unit — a person, a household or a
-- community — until the protection of every service of its plan is verified by a
-- classification, or until another ending (moved, deceased, refused, lost contact) asked for by
-- one account is approved by another. Its district is the Mesa that follows it (a household
-- that moves offers its case to the new district's Mesa). At most one open case per unit.
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    unit_kind TEXT NOT NULL CHECK (unit_kind IN ('persona', 'hogar', 'comunidad')),
    unit_id INTEGER NOT NULL,
    district_code INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('abierto', 'en_seguimiento', 'plan_completo', 'cierre_pendiente', 'cerrado')),
    origin TEXT NOT NULL,
    reason TEXT NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('alta', 'media', 'baja')),
    score INTEGER NOT NULL,
    -- The emergency protocol route it follows (a code of canal_verde.toml), if any.
    protocol TEXT,
    -- The version of canal_verde.toml its priority and protocol come from.
    criteria_version TEXT NOT NULL,
    -- The responsible member (an account) and/or institution (catalogue code).
    assigned_to TEXT,
    institution TEXT,
    opened_by TEXT NOT NULL,
    -- RFC 3339 UTC, so text order is time order.
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- Another ending asked for (and by whom), waiting for a second person.
    ending TEXT CHECK (ending IN ('protegido', 'mudanza', 'fallecimiento', 'rechazo', 'sin_contacto')),
    ending_reason TEXT,
    ending_requested_by TEXT,
    approved_by TEXT,
    closed_at TEXT,
    -- A district that the unit moved to, whose Mesa is offered the case.
    offered_to INTEGER
);
CREATE UNIQUE INDEX cases_open_unit ON cases (unit_kind, unit_id) WHERE status <> 'cerrado';
CREATE INDEX cases_district ON cases (district_code, status);

-- The plan: one task per desprotección (linked to its referral) and one per protocol step.
CREATE TABLE case_tasks (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL CHECK (kind IN ('servicio', 'protocolo')),
    -- servicio: the unit lacking it (the case's unit or, for a household, a member).
    unit_kind TEXT,
    unit_id INTEGER,
    service TEXT,
    referral_id INTEGER,
    -- protocolo: the step's name.
    step TEXT,
    institution TEXT NOT NULL,
    due_on TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pendiente', 'hecha', 'verificada')),
    barrier TEXT,
    done_at TEXT,
    done_by TEXT
);
CREATE INDEX case_tasks_case ON case_tasks (case_id);
CREATE INDEX case_tasks_referral ON case_tasks (referral_id);

-- The timeline: every step of a case, visits, contacts and notes (personal data: read under the
-- case's scope, audited).
CREATE TABLE case_events (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- 0034 governance and territorial management, follow-up reports and microdata releases
-- (issue 41). The bodies of the Modelo de Gestión with their members; their meetings in the
-- structure of a real minute, and the agreements and next steps each meeting records (an open
-- one carries over to the body's next meeting: computed on reading, never copied); the six
-- territorial processes of each district; the Espacios SPS as attributes of the delivery points
-- (one list); links from a community priority to a strategic action or budget line; the
-- declared monitoring calendar; follow-up reports (their analysis, version and the measurements
-- they read, so each is reproducible) and anonymised microdata releases (the risk report of
-- each). Dates are ISO text (AAAA-MM-DD), moments RFC 3339 UTC.
CREATE TABLE bodies (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('nacional', 'departamental', 'distrital', 'consultivo')),
    territory TEXT NOT NULL,
    parent_code TEXT,
    installed_on TEXT,
    -- Where the body and its installation date come from (a document, or who recorded it).
    source TEXT NOT NULL
);

CREATE TABLE body_members (
    id INTEGER PRIMARY KEY,
    body_id INTEGER NOT NULL REFERENCES bodies (id),
    name TEXT NOT NULL,
    institution TEXT NOT NULL,
    role TEXT NOT NULL,
    -- The Vamos account reminded of the body's overdue agreements, when it has one.
    account TEXT,
    since TEXT,
    until TEXT
);
CREATE INDEX body_members_body ON body_members (body_id);
CREATE INDEX body_members_account ON body_members (account);

CREATE TABLE meetings (
    id INTEGER PRIMARY KEY,
    body_id INTEGER NOT NULL REFERENCES bodies (id),
    number INTEGER,
    title TEXT NOT NULL,
    held_on TEXT NOT NULL,
    place TEXT NOT NULL,
    time_from TEXT,
    time_to TEXT,
    -- JSON arrays of strings.
    objectives TEXT NOT NULL,
    agenda TEXT NOT NULL,
    development TEXT NOT NULL,
    annexes TEXT NOT NULL,
    -- JSON array of {name, institution}; NULL when the minute does not record who attended.
    attendance TEXT,
    -- The minute's endorsement as written (e.g. that the attendance record endorses it).
    endorsement TEXT,
    -- A document the meeting was imported from, as written; NULL when recorded in Vamos.
    source TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (body_id, held_on, title)
);
CREATE INDEX meetings_body ON meetings (body_id, held_on);

CREATE TABLE meeting_agreements (
    id INTEGER PRIMARY KEY,
    meeting_id INTEGER NOT NULL REFERENCES meetings (id),
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    -- As written; NULL when the minute names no owner or no date.
    owner TEXT,
    owner_account TEXT,
    due_on TEXT,
    status TEXT NOT NULL CHECK (status IN ('pendiente', 'en_curso', 'cumplido', 'cancelado')),
    link_kind TEXT CHECK (link_kind IN ('caso', 'meta', 'ae', 'solicitud')),
    link_ref TEXT,
    status_note TEXT,
    closed_on TEXT,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (meeting_id, position)
);
CREATE INDEX meeting_agreements_open ON meeting_agreements (status, due_on);
CREATE INDEX meeting_agreements_owner ON meeting_agreements (owner_account);

CREATE TABLE rollout_steps (
    district INTEGER NOT NULL,
    process INTEGER NOT NULL CHECK (process BETWEEN 1 AND 6),
    status TEXT NOT NULL CHECK (status IN ('pendiente', 'en_curso', 'completado')),
    started_on TEXT,
    completed_on TEXT,
    coordinator TEXT,
    -- JSON array of {title, reference}: the documents that show the step.
    evidence TEXT NOT NULL,
    note TEXT,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (district, process)
);

-- An Espacio SPS is a delivery point of ORIENTACIONES SPS: what it hosts and the Mesa that meets
-- there are attributes of the point, not a second list.
ALTER TABLE delivery_points ADD COLUMN hosted_services TEXT;
ALTER TABLE delivery_points ADD COLUMN mesa_body TEXT;

CREATE TABLE priority_links (
    district INTEGER NOT NULL,
    priority TEXT NOT NULL,
    link_kind TEXT NOT NULL CHECK (link_kind IN ('ae', 'presupuesto')),
    link_ref TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (district, priority, link_kind, link_ref)
);

CREATE TABLE monitoring_calendar (
    territory TEXT NOT NULL,
    period TEXT NOT NULL,
    cut_off TEXT NOT NULL,
    declared_by TEXT NOT NULL,
    PRIMARY KEY (territory, period)
);

CREATE TABLE follow_up_reports (
    id INTEGER PRIMARY KEY,
    territory TEXT NOT NULL,
    period TEXT NOT NULL,
    version INTEGER NOT NULL,
    measurement_id INTEGER NOT NULL REFERENCES measurements (id),
    -- JSON array of the published measurements the trends read.
    trend_measurements TEXT NOT NULL,
    analysis TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('borrador', 'publicado')),
    -- The PDF as published (what the open-data page serves) and its SHA-256.
    pdf BLOB,
    digest TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    published_by TEXT,
    published_at TEXT,
    UNIQUE (territory, period, version)
);

CREATE TABLE microdata_releases (
    id INTEGER PRIMARY KEY,
    measurement_id INTEGER NOT NULL REFERENCES measurements (id),
    k INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    risk TEXT NOT NULL,
    digest TEXT NOT NULL,
    released_by TEXT NOT NULL,
    released_at TEXT NOT NULL
);

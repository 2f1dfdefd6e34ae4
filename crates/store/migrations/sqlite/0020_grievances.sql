-- 0020: grievances and claims (reclamos, issue 36 item 4). A grievance is lodged by anyone —
-- the public page, an account, the command line — and tracked by the person with a code of
-- which only the SHA-256 is kept here (a copy of this table does not give the codes away).
-- The person's identification (cédula, birth date, names) is kept as given; `person_id` is the
-- registry person it matched at lodging (staff see it; the person is never told).
CREATE TABLE grievances (
    id INTEGER PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('recibido', 'asignado', 'escalado', 'apelado', 'resuelto', 'no_corresponde')),
    -- Handling level: 1 first handler, 2 coordination, 3 the UTGS's direction.
    level INTEGER NOT NULL DEFAULT 1,
    channel TEXT NOT NULL,
    lodged_by TEXT NOT NULL,
    -- RFC 3339 UTC, so text order is time order.
    lodged_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- Where (the person's or the service's district); NULL: only national staff see it.
    district_code INTEGER,
    -- The institution it is assigned to (catalogue code) and the account, if any.
    institution TEXT,
    assigned_to TEXT,
    description TEXT NOT NULL,
    contact TEXT,
    national_id INTEGER,
    birth_date TEXT,
    given_names TEXT,
    family_names TEXT,
    person_id INTEGER,
    resolution TEXT,
    public_text TEXT,
    resolved_at TEXT,
    appealed_at TEXT,
    -- The change request it created (issue 36 item 3), when one was.
    change_request_id INTEGER
);
CREATE INDEX grievances_open ON grievances (state, due_at);
CREATE INDEX grievances_district ON grievances (district_code, id);

-- Every step of a grievance: lodged, assigned, commented (internal notes), escalated, resolved,
-- appealed. `public` steps are the ones the tracking page shows (date and state, never notes).
CREATE TABLE grievance_events (
    id INTEGER PRIMARY KEY,
    grievance_id INTEGER NOT NULL REFERENCES grievances (id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT,
    public INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX grievance_events_grievance ON grievance_events (grievance_id, id);

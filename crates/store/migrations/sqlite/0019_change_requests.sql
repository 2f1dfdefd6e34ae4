-- 0019 change requests (issue 36, item 3): the registry is edited only through a request that
-- another named account approves (maker-checker). Types, evidence and approvals are data in
-- vamos_domain::changes::TYPES; this keeps the requests, their units, approvals and documents.
--
-- state: pendiente → aplicada (approved and written as new versions, in the same transaction
-- that sets the state) | rechazada (reason). units: which units a request names, with 'campo'
-- = the field it edits ('*' for a structural request: a merge, split or transfer), so that
-- two open requests on the same unit and field (or any on a unit a structural one names) are
-- found by one indexed query. base_versions (JSON) records each unit's version when the
-- request was made: an approval of a request whose unit moved on since is refused.
-- unit_ids: every unit id the request names, comma-separated, in the type's order.
-- grievance_id links a request created from a grievance (reclamo).
CREATE TABLE change_requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    unit_kind TEXT NOT NULL CHECK (unit_kind IN ('persona', 'hogar')),
    unit_id BIGINT NOT NULL,
    unit_ids TEXT NOT NULL,
    district_code BIGINT NOT NULL,
    other_district BIGINT,
    payload TEXT NOT NULL,
    effect TEXT NOT NULL CHECK (effect IN ('correccion', 'cambio')),
    effect_date TEXT,
    reason TEXT NOT NULL,
    base_versions TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pendiente', 'aplicada', 'rechazada')),
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    decision_reason TEXT,
    grievance_id BIGINT
);
CREATE INDEX change_requests_state ON change_requests (state, id);
CREATE INDEX change_requests_district ON change_requests (district_code, state);

CREATE TABLE change_units (
    change_id BIGINT NOT NULL REFERENCES change_requests(id),
    unit_kind TEXT NOT NULL,
    unit_id BIGINT NOT NULL,
    field TEXT NOT NULL
);
CREATE INDEX change_units_unit ON change_units (unit_kind, unit_id);

CREATE TABLE change_approvals (
    change_id BIGINT NOT NULL REFERENCES change_requests(id),
    approver TEXT NOT NULL,
    role TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (change_id, approver)
);

-- Documents: PDF, JPEG or PNG (checked by their first bytes), at most 10 MB each, read only
-- under the scope and audit of personal data.
CREATE TABLE change_attachments (
    change_id BIGINT NOT NULL REFERENCES change_requests(id),
    n BIGINT NOT NULL,
    document_kind TEXT NOT NULL,
    media_type TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (change_id, n)
);

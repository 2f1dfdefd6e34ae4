-- 0026: social innovation for access (issue 37, component IV), and a case's populations. A
-- Mesa records the barriers that keep people from services in its territory (besides those met
-- on a case's task), designs facilitators against them — with an owner, a period and a
-- follow-up status — and follows them; the territorial view counts which barriers block most
-- cases and which facilitators worked. Barrier codes are those of canal_verde.toml (stored as
-- text: the list grows).
CREATE TABLE territory_barriers (
    id INTEGER PRIMARY KEY,
    district_code INTEGER NOT NULL,
    barrier TEXT NOT NULL,
    -- The service it keeps people from (a catalogue code), if one.
    service TEXT,
    description TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    -- RFC 3339 UTC, so text order is time order.
    recorded_at TEXT NOT NULL,
    resolved_at TEXT
);
CREATE INDEX territory_barriers_district ON territory_barriers (district_code, barrier);

CREATE TABLE facilitators (
    id INTEGER PRIMARY KEY,
    district_code INTEGER NOT NULL,
    barrier TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Who answers for it: an institution or a person, as the Mesa writes it.
    owner TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('planificado', 'en_curso', 'cumplido', 'suspendido')),
    -- The Mesa's judgement once it ends.
    result TEXT CHECK (result IN ('funciono', 'no_funciono')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX facilitators_district ON facilitators (district_code, barrier);

-- The follow-up of a facilitator: each status change or note, by whom and when.
CREATE TABLE facilitator_updates (
    id INTEGER PRIMARY KEY,
    facilitator_id INTEGER NOT NULL REFERENCES facilitators(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX facilitator_updates_facilitator ON facilitator_updates (facilitator_id, id);

-- Tasks blocked by a barrier, per district: the territorial view reads them by barrier.
CREATE INDEX case_tasks_barrier ON case_tasks (barrier) WHERE barrier IS NOT NULL;

-- The populations of special attention a case's unit belongs to when it was opened (from its
-- referrals, comma-separated): the Mesa's figures per population.
ALTER TABLE cases ADD COLUMN populations TEXT NOT NULL DEFAULT '';

-- A case's opening step named the Canal Verde criteria its unit met, which can name what an
-- agreement withholds (indigenous identity, disability, poverty): the timeline keeps the rest.
UPDATE case_events SET detail = substr(detail, 1, instr(detail, '; criterios: ') - 1)
WHERE kind = 'abierto' AND instr(detail, '; criterios: ') > 0;

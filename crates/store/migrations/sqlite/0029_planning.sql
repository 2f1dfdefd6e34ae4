-- 0029: planning and budgeting for results (issue 38). The strategic framework (plans with
-- their objectives, strategic actions and indicators, and each indicator's baseline and targets
-- per territory and year), saved costing scenarios, budget programmes with their execution, and
-- interinstitutional management agreements. Aggregates and public-sector figures only: nothing
-- here is personal.
CREATE TABLE plans (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    period_from INTEGER NOT NULL,
    period_to INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('borrador', 'vigente', 'reemplazado')),
    -- 1: an illustrative framework, shown as such wherever it is read.
    illustrative INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    -- RFC 3339 UTC.
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (name, version)
);

-- General objectives (per life-cycle category: `category` is its code) and specific ones
-- (`parent`: the general objective's code).
CREATE TABLE plan_objectives (
    plan_id INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    parent TEXT,
    category TEXT,
    description TEXT NOT NULL,
    PRIMARY KEY (plan_id, code)
);

-- Strategic actions (AE) under a specific objective, with the institutions responsible and the
-- catalogue services they deliver (comma-separated codes: the budget links through them).
CREATE TABLE plan_actions (
    plan_id INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    objective TEXT NOT NULL,
    description TEXT NOT NULL,
    institutions TEXT NOT NULL,
    services TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, code)
);

-- An AE's indicators: a Logro's coverage (`reference` its number), a service's (its code), a
-- population's (its key), or one reported by hand (`manual`).
CREATE TABLE plan_indicators (
    plan_id INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    action TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('logro', 'servicio', 'poblacion', 'manual')),
    reference TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, code)
);

-- An indicator in a territory (PY, DD or DDdd) and year: its baseline (from a measurement,
-- named, or typed for a manual indicator), its target, and the value reported by hand.
CREATE TABLE plan_values (
    plan_id INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    indicator TEXT NOT NULL,
    territory TEXT NOT NULL,
    year INTEGER NOT NULL,
    baseline REAL,
    baseline_measurement INTEGER,
    target REAL,
    reported REAL,
    PRIMARY KEY (plan_id, indicator, territory, year)
);

-- A costing kept to compare with others and with the budget: its question and its answer
-- (the JSON a costing returns), with the measurement and catalogue version it used.
CREATE TABLE costing_scenarios (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    territory TEXT NOT NULL,
    logro INTEGER NOT NULL,
    target REAL NOT NULL,
    by_year INTEGER NOT NULL,
    measurement INTEGER NOT NULL,
    catalogue_version TEXT NOT NULL,
    total_cost INTEGER NOT NULL,
    result TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at TEXT NOT NULL
);

-- One line of the budget (Presupuesto por Resultados) as the Ministry of Finance classifies it,
-- with its stages in guaraníes. `department` -1: national, not assigned to a department. `service` and
-- `action` link it to the catalogue and the strategic framework ('' when unlinked);
-- `cooperation` tags external cooperation funds.
CREATE TABLE budget_lines (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    budget_type TEXT NOT NULL,
    program TEXT NOT NULL,
    subprogram TEXT NOT NULL,
    project TEXT NOT NULL,
    institution TEXT NOT NULL,
    object TEXT NOT NULL,
    source INTEGER NOT NULL,
    financing TEXT NOT NULL,
    department INTEGER NOT NULL,
    initial INTEGER NOT NULL,
    current INTEGER NOT NULL,
    obligated INTEGER NOT NULL,
    paid INTEGER NOT NULL,
    service TEXT NOT NULL,
    action TEXT NOT NULL,
    cooperation TEXT NOT NULL,
    -- 1: from an illustrative file, shown as such.
    illustrative INTEGER NOT NULL DEFAULT 0,
    file TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE INDEX budget_lines_year ON budget_lines (year, institution, department);

-- Interinstitutional management agreements (acuerdos de gestión), distinct from data-sharing
-- agreements: parties (institution codes, comma-separated), territory, period, signature and
-- internal arrangements.
CREATE TABLE management_agreements (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    territory TEXT NOT NULL,
    parties TEXT NOT NULL,
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    signed_on TEXT,
    arrangements TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE management_commitments (
    id INTEGER PRIMARY KEY,
    agreement_id INTEGER NOT NULL REFERENCES management_agreements (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('funcional', 'operativo', 'interno')),
    institution TEXT NOT NULL,
    description TEXT NOT NULL
);

-- The agreement's management targets: shared targets (table `targets`) it takes on, read
-- from there so both stay one figure.
CREATE TABLE management_targets (
    agreement_id INTEGER NOT NULL REFERENCES management_agreements (id) ON DELETE CASCADE,
    territory TEXT NOT NULL,
    logro INTEGER NOT NULL,
    year INTEGER NOT NULL,
    PRIMARY KEY (agreement_id, territory, logro, year)
);

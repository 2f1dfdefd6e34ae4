-- 0030: unit costs set per territory (issue 38). A service's unit cost for a territory (PY, DD
-- or DDdd), overriding the catalogue's `costo_unitario_pyg` when costing there: a district's
-- own, else its department's, else the nation's.
CREATE TABLE unit_costs (
    territory TEXT NOT NULL,
    service TEXT NOT NULL,
    unit_cost INTEGER NOT NULL CHECK (unit_cost >= 0),
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    PRIMARY KEY (territory, service)
);

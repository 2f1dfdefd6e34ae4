-- 0028: shared targets (issue 38): the coverage a Logro should reach in a territory (PY, DD or
-- DDdd) by a year, set by a planner. A department's or the nation's target, unless set here, is
-- derived from its districts' (weighted by identified units) where it is read.
CREATE TABLE targets (
    territory TEXT NOT NULL,
    logro INTEGER NOT NULL CHECK (logro BETWEEN 1 AND 10),
    year INTEGER NOT NULL,
    coverage REAL NOT NULL CHECK (coverage >= 0 AND coverage <= 1),
    set_by TEXT NOT NULL,
    -- RFC 3339 UTC.
    set_at TEXT NOT NULL,
    PRIMARY KEY (territory, logro, year)
);

-- 0002 measurements: each classification run (explicit as_of, catalogue version, sources),
-- with the ten Logros' counts of every district it covered, as JSON. Departments and the
-- nation are computed by adding districts up, so roll-ups always equal the sum of their parts.

CREATE TABLE measurements (
    id INTEGER PRIMARY KEY,
    as_of TEXT NOT NULL,
    catalogue_version TEXT NOT NULL,
    catalogue_label TEXT NOT NULL,
    territory TEXT NOT NULL,
    synthetic INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    details TEXT NOT NULL
);

CREATE TABLE measurement_districts (
    measurement_id INTEGER NOT NULL REFERENCES measurements(id),
    district_code INTEGER NOT NULL,
    logros TEXT NOT NULL,
    PRIMARY KEY (measurement_id, district_code)
);

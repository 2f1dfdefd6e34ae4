-- 0002 measurements: each classification run (explicit as_of, catalogue version, sources),
-- with the ten Logros' counts of every district it covered, as JSON. Departments and the
-- nation are computed by adding districts up, so roll-ups always equal the sum of their parts.

CREATE TABLE measurements (
    id BIGINT PRIMARY KEY,
    as_of DATE NOT NULL,
    catalogue_version TEXT NOT NULL,
    catalogue_label TEXT NOT NULL,
    territory TEXT NOT NULL,
    synthetic BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    details TEXT NOT NULL
);

CREATE TABLE measurement_districts (
    measurement_id BIGINT NOT NULL REFERENCES measurements(id),
    district_code BIGINT NOT NULL,
    logros TEXT NOT NULL,
    PRIMARY KEY (measurement_id, district_code)
);

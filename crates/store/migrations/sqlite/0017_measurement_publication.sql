-- 0017 published measurements (issue 35, item 7): the public figures come only from a
-- measurement an analyst publishes, never from the live counter-referral updater. Publishing
-- records who and when on the measurement and freezes its districts' Logros as they stand at
-- that moment in `published_districts`: the updater keeps moving `measurement_districts`, never
-- these rows. Publishing the same measurement again replaces its frozen figures.
ALTER TABLE measurements ADD COLUMN published_at TEXT;
ALTER TABLE measurements ADD COLUMN published_by TEXT;

CREATE TABLE published_districts (
    measurement_id INTEGER NOT NULL REFERENCES measurements(id),
    district_code INTEGER NOT NULL,
    logros TEXT NOT NULL,
    PRIMARY KEY (measurement_id, district_code)
);

-- 0022 (issue 36): a measurement records the moment of the registry it read — known_at, UTC,
-- RFC 3339 to the second, compared with the versions' recorded_at — so classifying again at
-- (as_of, known_at) reproduces its Logros after later versions were written. Measurements taken
-- before this migration keep NULL: they read the registry as it was when they were taken
-- (created_at), before any version existed.
ALTER TABLE measurements ADD COLUMN known_at TEXT;

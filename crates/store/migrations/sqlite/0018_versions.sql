-- 0018 versions (issue 36): a living registry keeps history instead of overwriting.
-- households and persons hold each unit's CURRENT version — every read, search and view keeps
-- seeing them as before —, and household_history / person_history hold every other version,
-- whole rows with the same columns (a column added to households or persons is added to its
-- history table in the same migration). A row changes only by becoming a new version: the
-- previous one is copied to the history first, in the same transaction.
--
-- Bitemporal: valid_from is when a version became true (the interview or the event date;
-- NULL on a unit's first registration, which describes it since always); recorded_at is when
-- the registry learnt it (the import's or the approval's time, UTC, RFC 3339). The version of a
-- unit at (as_of, known_at) is, among those recorded at or before known_at and valid from on or
-- before as_of, the one with the latest valid_from, ties to the latest recorded_at
-- (vamos_domain::versions::pick). status says whether the unit is still in the registry:
-- persons 'activo' | 'retirado' (left the household) | 'fallecido' | 'fusionado' (merged into
-- merged_into); households 'activo' | 'disuelto' | 'fusionado'. content_hash is the digest of
-- the answers (vamos_domain::versions::content_hash) that lets a re-interview tell unchanged
-- units without reading them; NULL on rows written before this migration.
ALTER TABLE households ADD COLUMN valid_from TEXT;
ALTER TABLE households ADD COLUMN recorded_at TEXT;
ALTER TABLE households ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE households ADD COLUMN status TEXT NOT NULL DEFAULT 'activo';
ALTER TABLE households ADD COLUMN merged_into INTEGER;
ALTER TABLE households ADD COLUMN change_id INTEGER;
ALTER TABLE households ADD COLUMN content_hash INTEGER;
ALTER TABLE persons ADD COLUMN valid_from TEXT;
ALTER TABLE persons ADD COLUMN recorded_at TEXT;
ALTER TABLE persons ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE persons ADD COLUMN status TEXT NOT NULL DEFAULT 'activo';
ALTER TABLE persons ADD COLUMN merged_into INTEGER;
ALTER TABLE persons ADD COLUMN change_id INTEGER;
ALTER TABLE persons ADD COLUMN content_hash INTEGER;

UPDATE households SET recorded_at = (SELECT started_at FROM imports WHERE imports.id = households.import_id);
UPDATE persons SET recorded_at = (SELECT started_at FROM imports WHERE imports.id = persons.import_id);

-- Same columns in the same order as the current tables, so a version moves with
-- INSERT INTO household_history SELECT * FROM households WHERE …
CREATE TABLE household_history AS SELECT * FROM households WHERE 0;
CREATE UNIQUE INDEX household_history_version ON household_history (id, version);
CREATE INDEX household_history_key ON household_history (submission_key);
CREATE TABLE person_history AS SELECT * FROM persons WHERE 0;
CREATE UNIQUE INDEX person_history_version ON person_history (id, version);
CREATE INDEX person_history_household ON person_history (household_id);

-- Every submission read for a household that did not become its current row's key: a
-- re-interview that changed nothing is still on record, and a re-run of it changes nothing.
CREATE TABLE household_interviews (
    submission_key TEXT PRIMARY KEY,
    household_id INTEGER NOT NULL,
    interview_date TEXT NOT NULL,
    import_id INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('sin_cambios', 'actualizado', 'en_revision'))
);
CREATE INDEX household_interviews_household ON household_interviews (household_id);

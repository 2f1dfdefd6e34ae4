-- 0033 record linkage (issue 40): administrative records matched to registered persons without
-- a cédula, by a Fellegi–Sunter model (crates/linkage).
--
-- linkage_models: every trained model, with the settings it was trained from (the file's text)
-- and its parameters (JSON: the prior, m and u per level; term frequencies are taken from the
-- data each run scores). version is the settings' version with the hash of settings and
-- parameters: the same text, the same model. training_key identifies what training depends on
-- (comparisons, blocking, training — not the thresholds): a run with too few records to train
-- scores with the latest model of its key.
CREATE TABLE linkage_models (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    training_key TEXT NOT NULL,
    parameters TEXT NOT NULL,
    trained_at TEXT NOT NULL,
    -- What it was trained on: records of each side and candidate pairs.
    records_left INTEGER NOT NULL,
    records_right INTEGER NOT NULL,
    pairs INTEGER NOT NULL
);

-- How an administrative record got its person: NULL with a person_id, by its cédula (the
-- import's own match); 'enlace', by the model above the link threshold; 'revision', accepted by
-- an analyst in the review queue; 'cedula_dudosa' (no person), its cédula was someone's born
-- another day and the model did not link it (it may wait in review). link_probability and
-- linkage_model_id say by which model.
ALTER TABLE admin_records ADD COLUMN link_method TEXT;
ALTER TABLE admin_records ADD COLUMN link_probability REAL;
ALTER TABLE admin_records ADD COLUMN linkage_model_id INTEGER;
CREATE INDEX admin_records_import ON admin_records (import_id);
CREATE INDEX linkage_models_training ON linkage_models (training_key, id);

-- The model version that matched an import's records.
ALTER TABLE imports ADD COLUMN linkage_model_id INTEGER;

-- The clerical review queue: a record and its likeliest person between the two thresholds.
-- The waterfall (JSON) explains the probability level by level, as the model scored it. A
-- decision is kept as a label (aceptado: the same person; rechazado: not) to evaluate the model
-- and set its thresholds; 'superado': the record was linked meanwhile (by cédula or another
-- pair). district_code is the record's (else the person's), for scoping the queue.
CREATE TABLE linkage_reviews (
    id INTEGER PRIMARY KEY,
    admin_record_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL,
    linkage_model_id INTEGER NOT NULL,
    probability REAL NOT NULL,
    waterfall TEXT NOT NULL,
    district_code INTEGER,
    state TEXT NOT NULL DEFAULT 'pendiente'
        CHECK (state IN ('pendiente', 'aceptado', 'rechazado', 'superado')),
    created_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    UNIQUE (admin_record_id, person_id)
);
CREATE INDEX linkage_reviews_queue ON linkage_reviews (state, district_code, probability);

-- A self-registration under review is compared with the persons born the same day.
CREATE INDEX persons_birth_date ON persons (birth_date);

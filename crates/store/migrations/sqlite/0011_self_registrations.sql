-- 0011: self-registration (step 1C of the operating cycle): a household registered by its own
-- members through the public form waits here for the UTGS's review; approved, it is imported as
-- a simplified-registration form (never written to the registry directly).
CREATE TABLE self_registrations (
    id INTEGER PRIMARY KEY,
    submitted_at TEXT NOT NULL,
    district_code INTEGER NOT NULL,
    area TEXT,
    locality TEXT,
    address TEXT,
    phone TEXT,
    -- JSON array of members: nombres, apellidos, cedula, fecha_nacimiento, sexo, relacion_jefe.
    members TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pendiente', 'aprobada', 'rechazada')),
    reviewed_by TEXT,
    reviewed_at TEXT,
    reason TEXT,
    import_id INTEGER
);
CREATE INDEX self_registrations_status ON self_registrations (status, id);

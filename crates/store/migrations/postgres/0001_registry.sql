-- 0001 registry: territory, import runs, communities, households, persons, Entorno surveys,
-- administrative registry records. Append-only: change the schema with a new numbered file.
-- Dates are DATE; district codes are the INE DDdd number (1116 = Villeta).
-- Answer columns mirror vamos_domain::schema (a store test checks they match).

CREATE TABLE departments (
    code BIGINT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE districts (
    code BIGINT PRIMARY KEY,
    department_code BIGINT NOT NULL REFERENCES departments(code),
    name TEXT NOT NULL,
    code_source TEXT NOT NULL
);

-- One row per import run; the summary is the JSON the CLI printed.
CREATE TABLE imports (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT,
    synthetic BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT
);

CREATE TABLE import_files (
    import_id BIGINT NOT NULL REFERENCES imports(id),
    file_no BIGINT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (import_id, file_no)
);

-- Localidades / barrios: the Entorno unit, registered inside a district.
CREATE TABLE communities (
    id BIGINT PRIMARY KEY,
    district_code BIGINT NOT NULL REFERENCES districts(code),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    area TEXT,
    import_id BIGINT NOT NULL REFERENCES imports(id),
    UNIQUE (district_code, name_key)
);

CREATE TABLE community_surveys (
    submission_key TEXT PRIMARY KEY,
    community_id BIGINT NOT NULL REFERENCES communities(id),
    survey_date DATE NOT NULL,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    puesto_salud TEXT,
    escuela TEXT,
    agua_comunitaria TEXT,
    camino_todo_tiempo TEXT,
    punto_conectividad TEXT,
    prioridad_1 TEXT,
    prioridad_2 TEXT,
    prioridad_3 TEXT,
    participantes BIGINT,
    import_id BIGINT NOT NULL REFERENCES imports(id),
    file_no BIGINT NOT NULL,
    source_row BIGINT NOT NULL
);
CREATE INDEX community_surveys_community ON community_surveys (community_id);

CREATE TABLE households (
    id BIGINT PRIMARY KEY,
    submission_key TEXT NOT NULL UNIQUE,
    form TEXT NOT NULL,
    district_code BIGINT NOT NULL REFERENCES districts(code),
    community_id BIGINT NOT NULL REFERENCES communities(id),
    area TEXT,
    address TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    interview_date DATE NOT NULL,
    tenencia TEXT,
    material_paredes TEXT,
    material_piso TEXT,
    material_techo TEXT,
    cuartos BIGINT,
    dormitorios BIGINT,
    fuente_agua TEXT,
    saneamiento TEXT,
    electricidad TEXT,
    tarifa_social TEXT,
    internet TEXT,
    combustible_cocina TEXT,
    basura TEXT,
    import_id BIGINT NOT NULL,
    file_no BIGINT NOT NULL,
    source_row BIGINT NOT NULL
);
CREATE INDEX households_district ON households (district_code);

CREATE TABLE persons (
    id BIGINT PRIMARY KEY,
    household_id BIGINT NOT NULL REFERENCES households(id),
    submission_key TEXT NOT NULL,
    given_names TEXT NOT NULL,
    family_names TEXT NOT NULL,
    national_id BIGINT,
    birth_date DATE NOT NULL,
    sex TEXT NOT NULL,
    relationship TEXT NOT NULL,
    embarazada TEXT,
    controles_prenatales BIGINT,
    wg_ver TEXT,
    wg_oir TEXT,
    wg_caminar TEXT,
    wg_recordar TEXT,
    wg_cuidado TEXT,
    wg_comunicar TEXT,
    indigena TEXT,
    pueblo_indigena TEXT,
    idiomas TEXT,
    asiste_escuela TEXT,
    nivel_educativo TEXT,
    alfabetizado TEXT,
    seguro_salud TEXT,
    carnet_vacunacion TEXT,
    inscripcion_nacimiento TEXT,
    tiene_cedula TEXT,
    trabaja TEXT,
    tipo_empleo TEXT,
    aporta_jubilacion TEXT,
    recibe_pension TEXT,
    ingreso_mensual BIGINT,
    programas TEXT,
    import_id BIGINT NOT NULL,
    file_no BIGINT NOT NULL,
    source_row BIGINT NOT NULL
);
CREATE INDEX persons_household ON persons (household_id);
CREATE INDEX persons_national_id ON persons (national_id) WHERE national_id IS NOT NULL;

-- One record per person and service event of an institution's registry. person_id is NULL
-- when the cédula matched nobody: such records are kept and reported, never dropped.
CREATE TABLE admin_records (
    id BIGINT PRIMARY KEY,
    institution TEXT NOT NULL,
    record_key TEXT NOT NULL,
    national_id BIGINT,
    person_id BIGINT REFERENCES persons(id),
    given_names TEXT,
    family_names TEXT,
    birth_date DATE,
    sex TEXT,
    district_code BIGINT,
    service TEXT NOT NULL,
    event_date DATE NOT NULL,
    detail TEXT,
    import_id BIGINT NOT NULL,
    file_no BIGINT NOT NULL,
    source_row BIGINT NOT NULL,
    UNIQUE (institution, record_key)
);
CREATE INDEX admin_records_person ON admin_records (person_id);
CREATE INDEX admin_records_national_id ON admin_records (national_id);

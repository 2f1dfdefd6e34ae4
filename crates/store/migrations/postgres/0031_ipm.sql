-- 0031: multidimensional poverty (issue 39). The FIPS asks what the official index needs
-- (appended member answers; older rows read them as sin dato), and each measurement keeps the
-- index of every district it measured as additive cells (one per area and deprivation pattern,
-- with households, persons and persons of each population of special attention), so
-- departments and the nation roll up from households, and any poverty cut-off k is exact
-- without reading the registry again.
ALTER TABLE persons ADD COLUMN horas_trabajo BIGINT;
ALTER TABLE persons ADD COLUMN desea_mas_horas TEXT;
ALTER TABLE persons ADD COLUMN busca_trabajo TEXT;
ALTER TABLE persons ADD COLUMN enfermo_accidentado TEXT;
ALTER TABLE persons ADD COLUMN consulto_profesional TEXT;
ALTER TABLE persons ADD COLUMN anios_estudio BIGINT;
ALTER TABLE person_history ADD COLUMN horas_trabajo BIGINT;
ALTER TABLE person_history ADD COLUMN desea_mas_horas TEXT;
ALTER TABLE person_history ADD COLUMN busca_trabajo TEXT;
ALTER TABLE person_history ADD COLUMN enfermo_accidentado TEXT;
ALTER TABLE person_history ADD COLUMN consulto_profesional TEXT;
ALTER TABLE person_history ADD COLUMN anios_estudio BIGINT;
CREATE TABLE ipm_districts (
    measurement_id BIGINT NOT NULL REFERENCES measurements(id),
    district_code BIGINT NOT NULL,
    method_version TEXT NOT NULL,
    cells TEXT NOT NULL,
    PRIMARY KEY (measurement_id, district_code)
);

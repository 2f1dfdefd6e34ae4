//! Loading and validating catalogues: a valid one loads with a stable content version; each
//! kind of mistake is reported with file, line and column.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use vamos_catalogue::{load_files, CatalogueError, EvidenceSource, Vocabulary};
use vamos_domain::services::{Category, Package};

struct Vocab;
impl Vocabulary for Vocab {
    fn choices(&self, list: &str) -> Option<&'static [&'static str]> {
        match list {
            "si_no" => Some(&["si", "no"]),
            "sexo" => Some(&["hombre", "mujer"]),
            "seguro" => Some(&["ips", "privado", "militar_policial", "ninguno"]),
            "si_no_ns" => Some(&["si", "no", "no_sabe"]),
            _ => None,
        }
    }
}

const META: &str = r#"nombre = "Prueba"
version = "t1"
ilustrativo = true

[parametros]
linea_pobreza_mensual_pyg = 900000

[[institucion]]
codigo = "MSPBS"
nombre = "Ministerio de Salud"

[[institucion]]
codigo = "UTGS"
nombre = "Unidad Técnica del Gabinete Social"
"#;

const SERVICES: &str = r#"[[servicio]]
codigo = "orientaciones_sps_0_4"
nombre = "Orientaciones SPS"
institucion = "UTGS"
pilar = "integracion_social"
categoria = "despues_del_nacimiento"
paquete = "nucleo"
nivel_entrega = "distrito"
costo_unitario_pyg = 20000

  [[servicio.evidencia]]
  fuente = "admin"
  institucion = "UTGS"
  servicios = ["orientacion"]
  vigencia_dias = 365
  descripcion = "Atención de Orientaciones SPS"

[[servicio]]
codigo = "vacunas_0_4"
nombre = "Esquema de vacunación completo"
institucion = "MSPBS"
pilar = "integracion_social"
categoria = "despues_del_nacimiento"
paquete = "nucleo"
nivel_entrega = "distrito"
costo_unitario_pyg = 150000
elegibilidad = "persona.edad_meses >= 2"

  [[servicio.evidencia]]
  fuente = "admin"
  institucion = "MSPBS"
  servicios = ["vacunacion_completa"]
  vigencia_dias = 365
  descripcion = "Registro de vacunación del PAI"

  [[servicio.evidencia]]
  fuente = "fips"
  regla = "persona.carnet_vacunacion == 'si'"
  vigencia_dias = 365
  descripcion = "La FIPS declara el carné de vacunación al día"
"#;

fn load(meta: &str, services: &str) -> Result<vamos_catalogue::Catalogue, Vec<CatalogueError>> {
    let files = vec![
        ("catalogo.toml".to_string(), meta.to_string()),
        ("servicios/x.toml".to_string(), services.to_string()),
    ];
    load_files("cat", &files, &Vocab)
}

fn errors(meta: &str, services: &str) -> Vec<String> {
    load(meta, services)
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn valid_catalogue_loads_with_a_content_version() {
    let c = load(META, SERVICES).unwrap();
    assert_eq!(
        (c.label.as_str(), c.illustrative, c.poverty_line_pyg),
        ("t1", true, Some(900_000))
    );
    assert_eq!(c.services.len(), 2);
    let v = &c.services[1];
    assert_eq!(
        (v.category, v.package, v.line),
        (Category::DespuesDelNacimiento, Package::Nucleo, 18)
    );
    assert!(matches!(v.evidence[0].source, EvidenceSource::Admin { .. }));
    assert!(matches!(v.evidence[1].source, EvidenceSource::Fips { .. }));
    assert_eq!(
        c.package(Category::DespuesDelNacimiento, Package::Nucleo)
            .count(),
        2
    );
    assert!(c.version.starts_with("sha256:"));
    assert_eq!(
        load(META, SERVICES).unwrap().version,
        c.version,
        "same content, same version"
    );
    let changed = SERVICES.replace("150000", "150001");
    assert_ne!(
        load(META, &changed).unwrap().version,
        c.version,
        "any edit changes the version"
    );
}

#[test]
fn unknown_field_points_at_its_line_and_column() {
    let bad = SERVICES.replace(
        "persona.carnet_vacunacion == 'si'",
        "persona.carnet == 'si'",
    );
    let e = errors(META, &bad);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "cat/servicios/x.toml:38:12: regla inválida: campo desconocido «persona.carnet»"
        ),
        "{}",
        e[0]
    );
}

#[test]
fn unknown_institution_and_unknown_code_and_malformed_rule() {
    let bad = SERVICES
        .replace(
            "institucion = \"MSPBS\"\npilar",
            "institucion = \"MSPSB\"\npilar",
        )
        .replace("persona.edad_meses >= 2", "persona.edad_meses >= ")
        .replace(
            "carnet_vacunacion == 'si'",
            "carnet_vacunacion == 'tal_vez'",
        );
    let e = errors(META, &bad);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].contains("x.toml:21:15: institución desconocida «MSPSB»"),
        "{}",
        e[0]
    );
    assert!(
        e[1].contains("x.toml:27:") && e[1].contains("expresión incompleta"),
        "{}",
        e[1]
    );
    assert!(
        e[2].contains("x.toml:38:") && e[2].contains("código desconocido «tal_vez»"),
        "{}",
        e[2]
    );
}

#[test]
fn structural_mistakes_are_reported() {
    // A key the format does not have (typo) is refused, not ignored.
    let e = errors(
        META,
        &SERVICES.replace("costo_unitario_pyg = 20000", "costo_unitaro_pyg = 20000"),
    );
    assert!(
        e[0].contains("x.toml:")
            && e[0].contains("TOML inválido")
            && e[0].contains("costo_unitaro_pyg"),
        "{e:?}"
    );
    // A repeated service code, a repeated evidence rule, a missing ORIENTACIONES SPS.
    let dup = format!(
        "{SERVICES}\n{}",
        &SERVICES[SERVICES
            .find("[[servicio]]\ncodigo = \"vacunas_0_4\"")
            .unwrap()..]
    );
    let e = errors(META, &dup);
    assert!(
        e.iter().any(|m| m
            .contains("servicio repetido «vacunas_0_4» (ya definido en cat/servicios/x.toml:18)")),
        "{e:?}"
    );
    let twice = SERVICES.replace(
        "  [[servicio.evidencia]]\n  fuente = \"fips\"",
        "  [[servicio.evidencia]]\n  fuente = \"admin\"\n  institucion = \"MSPBS\"\n  servicios = [\"vacunacion_completa\"]\n  descripcion = \"otra vez\"\n\n  [[servicio.evidencia]]\n  fuente = \"fips\"",
    );
    let e = errors(META, &twice);
    assert!(
        e.iter()
            .any(|m| m.contains("regla de evidencia repetida: igual a la de la línea 29")),
        "{e:?}"
    );
    let without = &SERVICES[SERVICES
        .find("[[servicio]]\ncodigo = \"vacunas_0_4\"")
        .unwrap()..];
    let e = errors(META, without);
    assert!(
        e.iter()
            .any(|m| m.contains("«despues_del_nacimiento» no incluye ORIENTACIONES SPS")),
        "{e:?}"
    );
    let e = errors(META, &SERVICES.replace("categoria = \"despues_del_nacimiento\"\npaquete = \"nucleo\"\nnivel_entrega = \"distrito\"\ncosto_unitario_pyg = 150000", "categoria = \"bebes\"\npaquete = \"nucleo\"\nnivel_entrega = \"distrito\"\ncosto_unitario_pyg = 150000"));
    assert!(
        e.iter()
            .any(|m| m.contains("categoría desconocida «bebes»")),
        "{e:?}"
    );
}

#[test]
fn household_rules_cannot_read_persons() {
    let svc = SERVICES
        .replace("despues_del_nacimiento", "hogares")
        .replace(
            "persona.carnet_vacunacion == 'si'",
            "hogar.internet == 'si'",
        );
    let e = errors(META, &svc);
    assert!(
        e.iter()
            .any(|m| m.contains("«persona.» no está disponible")),
        "{e:?}"
    );
}

#[test]
fn the_illustrative_canal_verde_loads_against_the_default_catalogue() {
    let cat = vamos_catalogue::default_catalogue(&Vocab).unwrap();
    let cv = vamos_catalogue::canal_verde::default_canal_verde(&cat).unwrap();
    assert!(cv.illustrative);
    assert!(cv.version.starts_with("sha256:"));
    assert!(cv.criteria.len() >= 5);
    assert!(cv.protocol("violencia_ninez").is_some());
    // Its own hash: the services' version does not depend on it.
    assert_ne!(cv.version, cat.version);
}

#[test]
fn canal_verde_errors_name_file_line_and_column_in_spanish() {
    let cat = vamos_catalogue::default_catalogue(&Vocab).unwrap();
    let text = r#"version = "x"
ilustrativo = true

[[criterio]]
codigo = "a"
nombre = "A"
unidad = "hogar"
poblaciones = ["marcianos"]
min_desprotecciones = 0
prioridad = "urgente"

[[criterio]]
codigo = "b"
nombre = "B"
unidad = "barrio"
prioridad = "alta"

[[protocolo]]
codigo = "p"
nombre = "P"
  [[protocolo.paso]]
  nombre = "Paso"
  institucion = "NADIE"
  plazo_dias = 0
"#;
    let errs: Vec<String> =
        vamos_catalogue::canal_verde::load_canal_verde("canal_verde.toml", text, &cat)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
    let all = errs.join("\n");
    for want in [
        "canal_verde.toml:8:16: población desconocida «marcianos» para hogar",
        "canal_verde.toml:9:23: min_desprotecciones es al menos 1",
        "canal_verde.toml:10:13: prioridad desconocida «urgente»",
        "canal_verde.toml:15:10: unidad desconocida «barrio»",
        "canal_verde.toml:23:17: institución desconocida «NADIE»",
        "canal_verde.toml:24:16: plazo_dias va de 1 a 365",
    ] {
        assert!(all.contains(want), "missing «{want}» in:\n{all}");
    }
}

#[test]
fn a_criterion_needs_its_populations_its_count_and_if_asked_a_critical_service() {
    use vamos_domain::cases::{Priority, UnitKind};
    let c = vamos_catalogue::canal_verde::Criterion {
        code: "x".into(),
        name: "X".into(),
        unit: UnitKind::Persona,
        populations: vec!["indigenas".into(), "discapacidad".into()],
        min_unprotected: 2,
        critical_only: true,
        priority: Priority::Alta,
    };
    assert!(c.met(2, &["indigenas"], true));
    assert!(!c.met(1, &["indigenas"], true), "too few services");
    assert!(!c.met(2, &["ninos"], true), "another population");
    assert!(!c.met(2, &["discapacidad"], false), "no critical service");
}

#[test]
fn a_catalogue_folder_brings_its_own_canal_verde_and_barriers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalogue/default");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(root.join("catalogo.toml"), d.join("catalogo.toml")).unwrap();
    std::fs::create_dir(d.join("servicios")).unwrap();
    for e in std::fs::read_dir(root.join("servicios")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, d.join("servicios").join(p.file_name().unwrap())).unwrap();
    }
    let own = vamos_catalogue::canal_verde::DEFAULT_CANAL_VERDE.to_string()
        + "\n[[barrera]]\ncodigo = \"puente_caido\"\nnombre = \"Puente caído\"\n";
    std::fs::write(d.join("canal_verde.toml"), &own).unwrap();
    let cat = vamos_catalogue::load_dir(d, &Vocab).unwrap();
    let cv = vamos_catalogue::canal_verde::of(&cat).unwrap();
    assert_eq!(cv.barrier("puente_caido"), Some("Puente caído"));
    assert_eq!(cv.barrier("documentos"), Some("Falta de documentos"));
    // A folder whose file is wrong does not load: its cases could not be worked.
    std::fs::write(
        d.join("canal_verde.toml"),
        own + "\n[[barrera]]\ncodigo = \"puente_caido\"\nnombre = \"Otra vez\"\n",
    )
    .unwrap();
    let errs = vamos_catalogue::load_dir(d, &Vocab).unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.message.contains("barrera repetida «puente_caido»")),
        "{errs:?}"
    );
}

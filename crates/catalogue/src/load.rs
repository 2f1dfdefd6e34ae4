//! Reading and validating catalogue files. Every problem is collected (not just the first) and
//! reported as `file:line:column: message` in Spanish, so the Mesa Técnica de Servicios can fix a
//! catalogue in one pass.

use crate::expr::{compile, Vocabulary};
use crate::{scopes_of, Catalogue, Evidence, EvidenceSource, Institution, Poverty, Service};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use toml::Spanned;
use vamos_domain::services::{Category, DeliveryLevel, Package, Pillar};
use vamos_domain::EvidenceKind;

/// One problem in a catalogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    nombre: String,
    version: String,
    ilustrativo: bool,
    #[serde(default)]
    descripcion: String,
    #[serde(default)]
    parametros: RawParams,
    #[serde(default)]
    institucion: Vec<RawInstitution>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawParams {
    linea_pobreza_mensual_pyg: Option<i64>,
    #[serde(default)]
    pobreza: Poverty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstitution {
    codigo: Spanned<String>,
    nombre: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServices {
    #[serde(default)]
    servicio: Vec<Spanned<RawService>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    codigo: Spanned<String>,
    nombre: String,
    institucion: Spanned<String>,
    pilar: Spanned<String>,
    categoria: Spanned<String>,
    paquete: Spanned<String>,
    nivel_entrega: Spanned<String>,
    costo_unitario_pyg: Spanned<i64>,
    plazo_dias: Option<u32>,
    elegibilidad: Option<Spanned<String>>,
    #[serde(default)]
    evidencia: Vec<Spanned<RawEvidence>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    fuente: Spanned<String>,
    institucion: Option<Spanned<String>>,
    servicios: Option<Vec<String>>,
    regla: Option<Spanned<String>>,
    vigencia_dias: Option<u32>,
    descripcion: String,
    #[serde(default)]
    ausencia_desprotege: bool,
}

/// Line and column (1-based) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

pub(crate) struct Errors<'a> {
    pub(crate) file: &'a str,
    pub(crate) text: &'a str,
    pub(crate) list: &'a mut Vec<CatalogueError>,
}

impl Errors<'_> {
    pub(crate) fn at(&mut self, offset: usize, message: impl Into<String>) {
        let (line, column) = position(self.text, offset);
        self.list.push(CatalogueError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        });
    }
}

pub(crate) fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> CatalogueError {
    let (line, column) = e.span().map(|s| position(text, s.start)).unwrap_or((1, 1));
    CatalogueError {
        file: file.to_string(),
        line,
        column,
        message: format!("TOML inválido: {}", e.message()),
    }
}

pub(crate) fn valid_code(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Loads a catalogue from a directory: `catalogo.toml` and every `servicios/*.toml`.
pub fn load_dir(dir: &Path, vocab: &dyn Vocabulary) -> Result<Catalogue, Vec<CatalogueError>> {
    let read_err = |p: &Path, e: std::io::Error| {
        vec![CatalogueError {
            file: p.display().to_string(),
            line: 1,
            column: 1,
            message: format!("no se puede leer: {e}"),
        }]
    };
    let meta = dir.join("catalogo.toml");
    let mut files = vec![(
        "catalogo.toml".to_string(),
        std::fs::read_to_string(&meta).map_err(|e| read_err(&meta, e))?,
    )];
    let sdir = dir.join("servicios");
    let mut paths: Vec<_> = std::fs::read_dir(&sdir)
        .map_err(|e| read_err(&sdir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for p in paths {
        let name = format!(
            "servicios/{}",
            p.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        files.push((
            name,
            std::fs::read_to_string(&p).map_err(|e| read_err(&p, e))?,
        ));
    }
    let mut catalogue = load_files(&dir.display().to_string(), &files, vocab)?;
    // Canal Verde's criteria, protocols and barriers, when the folder has its own: checked now,
    // so a catalogue that loads is one whose cases can be worked.
    let cv = dir.join("canal_verde.toml");
    if cv.exists() {
        let text = std::fs::read_to_string(&cv).map_err(|e| read_err(&cv, e))?;
        let file = cv.display().to_string();
        crate::canal_verde::load_canal_verde(&file, &text, &catalogue)?;
        catalogue.canal_verde = Some((file, text));
    }
    Ok(catalogue)
}

/// Loads a catalogue from `(relative path, text)` pairs; the first must be `catalogo.toml`.
#[allow(clippy::too_many_lines)] // reason: one pass over its input, not yet split into steps
pub fn load_files(
    root: &str,
    files: &[(String, String)],
    vocab: &dyn Vocabulary,
) -> Result<Catalogue, Vec<CatalogueError>> {
    let mut errors = Vec::new();
    let label = |rel: &str| format!("{root}/{rel}");
    let Some((meta_rel, meta_text)) = files.first() else {
        return Err(vec![CatalogueError {
            file: root.into(),
            line: 1,
            column: 1,
            message: "falta catalogo.toml".into(),
        }]);
    };
    let meta_file = label(meta_rel);
    let meta: RawMeta = match toml::from_str(meta_text) {
        Ok(m) => m,
        Err(e) => return Err(vec![toml_error(&meta_file, meta_text, &e)]),
    };
    let mut institutions: Vec<Institution> = Vec::new();
    {
        let mut err = Errors {
            file: &meta_file,
            text: meta_text,
            list: &mut errors,
        };
        for i in &meta.institucion {
            let code = i.codigo.get_ref();
            if institutions.iter().any(|x| &x.code == code) {
                err.at(
                    i.codigo.span().start,
                    format!("institución repetida «{code}»"),
                );
            } else if code.is_empty()
                || !code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                err.at(
                    i.codigo.span().start,
                    format!(
                        "código de institución inválido «{code}»: use mayúsculas (MSPBS, MEC…)"
                    ),
                );
            } else {
                institutions.push(Institution {
                    code: code.clone(),
                    name: i.nombre.clone(),
                });
            }
        }
    }
    let known = |code: &str| institutions.iter().any(|i| i.code == code);
    let mut services: Vec<Service> = Vec::new();
    for (rel, text) in files.iter().skip(1) {
        let file = label(rel);
        let raw: RawServices = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                errors.push(toml_error(&file, text, &e));
                continue;
            }
        };
        let mut err = Errors {
            file: &file,
            text,
            list: &mut errors,
        };
        for s in raw.servicio {
            let start = s.span().start;
            let s = s.into_inner();
            let code = s.codigo.get_ref().clone();
            let mut ok = true;
            if !valid_code(&code) {
                err.at(
                    s.codigo.span().start,
                    format!("código de servicio inválido «{code}»: minúsculas, dígitos y _"),
                );
                ok = false;
            }
            if let Some(first) = services.iter().find(|x| x.code == code) {
                err.at(
                    s.codigo.span().start,
                    format!(
                        "servicio repetido «{code}» (ya definido en {}:{})",
                        first.file, first.line
                    ),
                );
                ok = false;
            }
            if !known(s.institucion.get_ref()) {
                err.at(
                    s.institucion.span().start,
                    format!(
                        "institución desconocida «{}»: declárela en catalogo.toml",
                        s.institucion.get_ref()
                    ),
                );
                ok = false;
            }
            let pillar = Pillar::parse(s.pilar.get_ref());
            if pillar.is_none() {
                err.at(s.pilar.span().start, format!("pilar desconocido «{}» (integracion_social, insercion_laboral, prevision_social)", s.pilar.get_ref()));
            }
            let category = Category::parse(s.categoria.get_ref());
            if category.is_none() {
                let all: Vec<&str> = Category::ALL.iter().map(|c| c.code()).collect();
                err.at(
                    s.categoria.span().start,
                    format!(
                        "categoría desconocida «{}» ({})",
                        s.categoria.get_ref(),
                        all.join(", ")
                    ),
                );
            }
            let package = Package::parse(s.paquete.get_ref());
            if package.is_none() {
                err.at(
                    s.paquete.span().start,
                    format!(
                        "paquete desconocido «{}» (nucleo, ampliado, diferencial)",
                        s.paquete.get_ref()
                    ),
                );
            }
            let level = DeliveryLevel::parse(s.nivel_entrega.get_ref());
            if level.is_none() {
                err.at(s.nivel_entrega.span().start, format!("nivel de entrega desconocido «{}» (distrito, departamento, nacional, remoto)", s.nivel_entrega.get_ref()));
            }
            if *s.costo_unitario_pyg.get_ref() < 0 {
                err.at(
                    s.costo_unitario_pyg.span().start,
                    "el costo unitario no puede ser negativo",
                );
            }
            let scopes = category.map(scopes_of).unwrap_or(&[]);
            let compile_at = |src: &Spanned<String>, err: &mut Errors<'_>| match compile(
                src.get_ref(),
                scopes,
                vocab,
            ) {
                Ok(c) => Some(c),
                Err(e) => {
                    // +1: the opening quote of the TOML string.
                    err.at(
                        src.span().start + 1 + e.offset,
                        format!("regla inválida: {}", e.message),
                    );
                    None
                }
            };
            let eligibility = match &s.elegibilidad {
                Some(src) if category.is_some() => {
                    let c = compile_at(src, &mut err);
                    ok &= c.is_some();
                    c
                }
                _ => None,
            };
            let mut evidence: Vec<Evidence> = Vec::new();
            let mut seen: Vec<(String, usize)> = Vec::new();
            for ev in &s.evidencia {
                let ev_start = ev.span().start;
                let line = position(text, ev_start).0;
                let ev = ev.get_ref();
                let admin_like = |err: &mut Errors<'_>| -> Option<(String, Vec<String>)> {
                    let Some(inst) = &ev.institucion else {
                        err.at(ev_start, "falta «institucion» en la regla de evidencia");
                        return None;
                    };
                    if !known(inst.get_ref()) {
                        err.at(
                            inst.span().start,
                            format!("institución desconocida «{}»", inst.get_ref()),
                        );
                        return None;
                    }
                    match &ev.servicios {
                        Some(v) if !v.is_empty() => Some((inst.get_ref().clone(), v.clone())),
                        _ => {
                            err.at(ev_start, "falta «servicios» (los códigos de servicio del registro de la institución)");
                            None
                        }
                    }
                };
                let fuente = ev.fuente.get_ref().as_str();
                let source = match (EvidenceKind::parse(fuente), fuente) {
                    (Some(kind), _) => {
                        if let Some(r) = &ev.regla {
                            err.at(
                                r.span().start,
                                "una regla «admin»/«contrarreferencia» no lleva «regla»",
                            );
                        }
                        admin_like(&mut err).map(|(institution, services)| match kind {
                            EvidenceKind::Admin => EvidenceSource::Admin {
                                institution,
                                services,
                            },
                            EvidenceKind::CounterReferral => EvidenceSource::CounterReferral {
                                institution,
                                services,
                            },
                        })
                    }
                    (None, "fips") => match &ev.regla {
                        Some(r) if category.is_some() => {
                            compile_at(r, &mut err).map(|rule| EvidenceSource::Fips { rule })
                        }
                        Some(_) => None,
                        None => {
                            err.at(ev_start, "falta «regla» en la evidencia de la FIPS");
                            None
                        }
                    },
                    (None, other) => {
                        err.at(
                            ev.fuente.span().start,
                            format!(
                                "fuente desconocida «{other}» (admin, contrarreferencia, fips)"
                            ),
                        );
                        None
                    }
                };
                let Some(source) = source else {
                    ok = false;
                    continue;
                };
                // Two identical rules in one service are a mistake (the second never decides).
                let key = match &source {
                    EvidenceSource::Admin {
                        institution,
                        services,
                    } => format!("admin:{institution}:{}", sorted(services)),
                    EvidenceSource::CounterReferral {
                        institution,
                        services,
                    } => format!("cr:{institution}:{}", sorted(services)),
                    EvidenceSource::Fips { rule } => format!(
                        "fips:{}",
                        rule.source().split_whitespace().collect::<String>()
                    ),
                };
                if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                    err.at(
                        ev_start,
                        format!("regla de evidencia repetida: igual a la de la línea {first}"),
                    );
                    ok = false;
                    continue;
                }
                seen.push((key, line));
                evidence.push(Evidence {
                    source,
                    valid_days: ev.vigencia_dias,
                    description: ev.descripcion.clone(),
                    absence_unprotects: ev.ausencia_desprotege,
                    line,
                });
            }
            if s.evidencia.is_empty() {
                err.at(start, format!("el servicio «{code}» no tiene reglas de evidencia: nunca podría figurar como protegido"));
                ok = false;
            }
            if let (true, Some(pillar), Some(category), Some(package), Some(delivery_level)) =
                (ok, pillar, category, package, level)
            {
                services.push(Service {
                    code,
                    name: s.nombre,
                    institution: s.institucion.into_inner(),
                    pillar,
                    category,
                    package,
                    delivery_level,
                    unit_cost_pyg: s.costo_unitario_pyg.into_inner(),
                    deadline_days: s.plazo_dias,
                    eligibility,
                    evidence,
                    file: file.clone(),
                    line: position(text, start).0,
                });
            }
        }
    }
    // ORIENTACIONES SPS belongs to the core package of every life-cycle category.
    for c in Category::ALL {
        let any = services.iter().any(|s| s.category == c);
        let has = services.iter().any(|s| {
            s.category == c && s.package == Package::Nucleo && s.code.starts_with("orientaciones")
        });
        if any && !has {
            errors.push(CatalogueError {
                file: meta_file.clone(),
                line: 1,
                column: 1,
                message: format!(
                    "la categoría «{}» no incluye ORIENTACIONES SPS en su paquete núcleo",
                    c.code()
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Who is poor then follows the IPM method: a change to it is a change to the catalogue.
    let method = (meta.parametros.pobreza == Poverty::Ipm).then_some(crate::IPM_METHOD);
    let version = version_of(files, method);
    Ok(Catalogue {
        name: meta.nombre,
        label: meta.version,
        version,
        illustrative: meta.ilustrativo,
        description: meta.descripcion,
        poverty_line_pyg: meta.parametros.linea_pobreza_mensual_pyg,
        poverty: meta.parametros.pobreza,
        institutions,
        services,
        canal_verde: None,
    })
}

/// The effective version: a hash of the files (by path) and, for a catalogue that decides
/// poverty by the IPM, of the method's text.
fn version_of(files: &[(String, String)], ipm_method: Option<&str>) -> String {
    let mut h = Sha256::new();
    let mut sorted_files: Vec<&(String, String)> = files.iter().collect();
    sorted_files.sort_by(|a, b| a.0.cmp(&b.0));
    for (rel, text) in sorted_files {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    if let Some(m) = ipm_method {
        h.update(m.as_bytes());
    }
    let digest = h.finalize();
    format!(
        "sha256:{}",
        digest
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn sorted(v: &[String]) -> String {
    let mut v = v.to_vec();
    v.sort();
    v.join(",")
}

#[cfg(test)]
mod tests {
    use super::version_of;

    #[test]
    fn the_version_covers_the_ipm_method_only_when_the_catalogue_decides_poverty_by_it() {
        let files = vec![("catalogo.toml".to_string(), "x".to_string())];
        assert_ne!(
            version_of(&files, Some("metodo 1")),
            version_of(&files, Some("metodo 2"))
        );
        assert_ne!(
            version_of(&files, None),
            version_of(&files, Some("metodo 1"))
        );
        let other = vec![("catalogo.toml".to_string(), "y".to_string())];
        assert_ne!(version_of(&files, None), version_of(&other, None));
    }
}

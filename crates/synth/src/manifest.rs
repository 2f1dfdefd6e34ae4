//! The two files that say, to people and to programs, that the output is synthetic:
//! `LEEME_SINTETICO.txt` (Spanish) and `manifest.json` (`"synthetic": true`, seed, districts,
//! counts, and each file's encoding and separator so an importer can read them without guessing).

use crate::out::io_err;
use crate::{SynthConfig, SynthError, SynthReport, WrittenFile};
use std::fmt::Write as _;
use std::path::Path;
use vamos_domain::{DistrictCode, Territory};

fn relative(out_dir: &Path, p: &Path) -> String {
    p.strip_prefix(out_dir)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Writes both files and adds them to the report.
pub(crate) fn write(
    cfg: &SynthConfig,
    districts: &[DistrictCode],
    out_dir: &Path,
    report: &mut SynthReport,
) -> Result<(), SynthError> {
    let t = Territory::official();
    let all = districts.len() == t.districts().len();
    let mut names = String::new();
    if all {
        names.push_str("todos los distritos del país (263)");
    } else {
        for (i, d) in districts.iter().enumerate() {
            if i > 0 {
                names.push_str(", ");
            }
            let n = t.district(*d).map(|x| x.name.as_str()).unwrap_or("");
            let _ = write!(names, "{d} {n}");
        }
    }
    let mut leeme = String::new();
    let _ = writeln!(leeme, "DATOS SINTÉTICOS — NO SON PERSONAS REALES");
    let _ = writeln!(leeme, "==========================================");
    let _ = writeln!(leeme);
    let _ = writeln!(
        leeme,
        "Estos archivos fueron generados por «vamos synth» con la semilla {} para {}.",
        cfg.seed, names
    );
    let _ = writeln!(leeme, "Fecha de referencia: {}.", cfg.reference_date);
    let _ = writeln!(
        leeme,
        "Hogares: {}. Personas: {}. Comunidades: {}. Registros administrativos: {}.",
        report.households, report.persons, report.communities, report.admin_records
    );
    let _ = writeln!(leeme);
    let _ = writeln!(
        leeme,
        "Todos los nombres, cédulas, fechas, direcciones y respuestas son INVENTADOS al azar. \
         Las cantidades imitan cifras públicas del INE (Censo 2022, EPHC), pero ninguna fila \
         corresponde a una persona, un hogar o una comunidad reales. Un número de cédula de \
         estos archivos puede coincidir por casualidad con el de una persona real: no lo use \
         para buscar a nadie."
    );
    let _ = writeln!(leeme);
    let _ = writeln!(
        leeme,
        "NUNCA mezcle estos datos con registros reales (SIIS, RUB, padrones de programas ni \
         bases institucionales). Sirven solo para pruebas, capacitación, demostraciones y \
         mediciones de rendimiento."
    );
    let _ = writeln!(leeme);
    let _ = writeln!(leeme, "Archivos:");
    for f in &report.files {
        let _ = writeln!(
            leeme,
            "- {} ({} filas): {}",
            relative(out_dir, &f.path),
            f.rows,
            f.what
        );
    }
    if cfg.admin {
        let _ = writeln!(
            leeme,
            "\nLas atenciones de ORIENTACIONES SPS (admin/utgs_orientaciones.csv) son de los \
             últimos 12 meses y llegan a más personas en los cuatro distritos piloto (1116, 1602, \
             0218, 0607), donde el servicio empezó primero, que en el resto del país."
        );
        let _ = writeln!(
            leeme,
            "\nverdad/enlace_admin.csv dice de quién es cada registro administrativo (la clave \
             KEY del miembro en la encuesta; vacío: alguien que no está en ella, ≈ 5 % por \
             diseño). Sirve para medir el enlace de registros; no es un archivo para importar."
        );
    }
    let _ = writeln!(
        leeme,
        "\nEl mismo comando con la misma semilla produce exactamente los mismos archivos."
    );
    let leeme_path = out_dir.join("LEEME_SINTETICO.txt");
    std::fs::write(&leeme_path, leeme).map_err(|e| io_err(&leeme_path, e))?;

    let files: Vec<serde_json::Value> = report
        .files
        .iter()
        .map(|f| {
            let rel = relative(out_dir, &f.path);
            let mec = rel.ends_with("mec_matricula.csv");
            let mut v = serde_json::json!({
                "path": rel,
                "rows": f.rows,
                "what": f.what,
                "encoding": if mec { "windows-1252" } else { "utf-8" },
                "delimiter": if mec { ";" } else { "," },
                "date_format": if mec { "dd/mm/yyyy" } else { "yyyy-mm-dd" },
            });
            let registry = crate::admin::Registry::ALL
                .into_iter()
                .find(|r| rel.ends_with(&format!("admin/{}", r.file())));
            if let (Some(r), Some(o)) = (registry, v.as_object_mut()) {
                o.insert("institution".into(), r.institution().into());
            }
            v
        })
        .collect();
    let manifest = serde_json::json!({
        "synthetic": true,
        "generator": "vamos synth",
        "generator_version": env!("CARGO_PKG_VERSION"),
        "seed": cfg.seed,
        "districts": districts.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "households": report.households,
        "persons": report.persons,
        "communities": report.communities,
        "admin_records": report.admin_records,
        "reference_date": cfg.reference_date.to_string(),
        "files": files,
    });
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| SynthError::Calibration(format!("manifest.json: {e}")))?;
    let manifest_path = out_dir.join("manifest.json");
    std::fs::write(&manifest_path, text + "\n").map_err(|e| io_err(&manifest_path, e))?;

    report.files.push(WrittenFile {
        path: leeme_path,
        rows: 0,
        what: "Aviso: datos SINTÉTICOS, cómo se generaron y qué contiene cada archivo".into(),
    });
    report.files.push(WrittenFile {
        path: manifest_path,
        rows: 0,
        what: "Manifiesto legible por máquina (synthetic: true, semilla, distritos, archivos)"
            .into(),
    });
    Ok(())
}

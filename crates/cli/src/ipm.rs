//! `vamos ipm`: the official multidimensional poverty index of a territory at a measurement
//! (H, A, M0 over persons and households, headcounts, contributions, areas, populations, the
//! territories below, robustness over k, change from another measurement), and `vamos ipm
//! compute`: the same figures of any table of indicator deprivations by a method file —
//! both `vamos_app::ipm`.

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct IpmArgs {
    #[command(subcommand)]
    pub command: Option<IpmCommand>,
    /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
    #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
    pub db: String,
    /// Número de medición (por defecto, la última).
    #[arg(long)]
    pub measurement: Option<i64>,
    /// PY (nación, por defecto), DD (departamento) o DDdd (distrito).
    #[arg(long, default_value = "PY")]
    pub territory: String,
    /// Corte de pobreza como fracción (0.26 = 26 %); por defecto, el del método.
    #[arg(long)]
    pub k: Option<f64>,
    /// Cortes para la tabla de robustez, separados por comas (por defecto 0.2,0.26,0.33,0.4,0.5).
    #[arg(long, value_delimiter = ',')]
    pub k_list: Vec<f64>,
    /// Otra medición con la cual comparar (cambio absoluto y relativo).
    #[arg(long)]
    pub compare: Option<i64>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::Format,
    /// Escribe en CSV la tabla de todos los territorios (nación, departamentos y distritos) a
    /// este archivo («-»: la salida estándar), en lugar del informe.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum IpmCommand {
    /// El índice de una tabla de privaciones (una fila por unidad, una columna por indicador
    /// con 1, 0 o vacío = sin dato, y una columna `weight` opcional) según un método (TOML).
    Compute {
        #[arg(long)]
        method: PathBuf,
        #[arg(long)]
        input: PathBuf,
        /// Corte de pobreza como fracción (0.26 = 26 %); por defecto, el del método.
        #[arg(long)]
        k: Option<f64>,
        #[arg(long, value_enum, default_value = "text")]
        format: crate::Format,
    },
    /// El perfil de privaciones de un hogar: cada indicador (privado, no o sin dato) con su
    /// explicación, el puntaje y si es pobre. Sólo con un acuerdo que incluya la pobreza.
    Household {
        /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// Número del hogar.
        id: i64,
        /// Para qué se consulta (queda en la auditoría).
        #[arg(long)]
        purpose: Option<String>,
    },
    /// La matriz de privaciones de una medición en CSV: una fila por hogar, SIN identificadores
    /// (distrito, área, personas, poblaciones, cada indicador con 1, 0 o vacío = sin dato), para
    /// verificar el índice con otra herramienta. Lee el registro: queda en la auditoría.
    Matrix {
        /// Base de datos: sqlite:<archivo> o postgres://usuario@servidor/base
        #[arg(long, env = "VAMOS_DB", default_value = crate::DEFAULT_DB)]
        db: String,
        /// Número de medición (por defecto, la última).
        #[arg(long)]
        measurement: Option<i64>,
        /// Archivo CSV de salida.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn ipm(a: &IpmArgs) -> Result<ExitCode> {
    let Some(cmd) = &a.command else {
        return registry(a);
    };
    match cmd {
        IpmCommand::Household { db, id, purpose } => {
            let mut store = crate::admin::connect(db)?;
            let actor = crate::identity::actor(store.as_mut())?;
            let v = vamos_app::ipm::household_profile(
                store.as_mut(),
                &actor,
                vamos_domain::HouseholdId(*id),
                purpose,
            )?;
            println!("{}", serde_json::to_string(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        IpmCommand::Matrix {
            db,
            measurement,
            out,
        } => {
            let mut store = crate::admin::connect(db)?;
            let actor = crate::identity::actor(store.as_mut())?;
            // The file is created at the first row, once the export is allowed.
            let mut f = LazyFile {
                path: out.clone(),
                file: None,
            };
            let n =
                vamos_app::ipm::matrix(store.as_mut(), &actor, *measurement, readers(), &mut f)?;
            std::io::Write::flush(&mut f)?;
            eprintln!(
                "{n} hogares escritos en {} (sin identificadores)",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        IpmCommand::Compute {
            method,
            input,
            k,
            format,
        } => {
            let m = vamos_app::ipm::load_method(method)?;
            let r = vamos_app::ipm::compute_table(&m, input, *k)?;
            if *format == crate::Format::Json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "Método {} (k = {:.0} %): H = {:.2} %, A = {:.2} %, IPM (M0) = {:.4} — {} unidades, {} sin dato ({:.1} %)",
                    r.method_version,
                    r.k * 100.0,
                    r.h * 100.0,
                    r.a * 100.0,
                    r.m0,
                    r.units,
                    r.units_missing,
                    r.missing_share * 100.0
                );
                for i in &r.indicators {
                    println!(
                        "  {:<24} {:<10} peso {:.4}  sin censura {:6.2} %  censurado {:6.2} %  contribución {:6.2} %",
                        i.indicator,
                        i.dimension,
                        i.weight,
                        i.uncensored * 100.0,
                        i.censored * 100.0,
                        i.contribution_share * 100.0
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `vamos ipm --db`: the index of a territory at a measurement.
fn registry(a: &IpmArgs) -> Result<ExitCode> {
    let territory = vamos_domain::TerritoryCode::parse(&a.territory).map_err(|e| anyhow!("{e}"))?;
    // Connected as a writer: a measurement taken before the index gets its cells computed,
    // kept and audited on first reading.
    let mut store = crate::admin::connect(&a.db)?;
    let actor = crate::identity::actor(store.as_mut())?;
    if let Some(path) = &a.csv {
        let (m, rows) = vamos_app::ipm::territories_table(
            store.as_mut(),
            &actor,
            a.measurement,
            a.k,
            readers(),
        )?;
        let bytes = vamos_app::ipm::territories_csv(&m, &rows)?;
        if path.as_os_str() == "-" {
            std::io::Write::write_all(&mut std::io::stdout().lock(), &bytes)?;
        } else {
            std::fs::write(path, bytes)
                .with_context(|| format!("no se pudo escribir {}", path.display()))?;
            eprintln!("{} territorios escritos en {}", rows.len(), path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let r = vamos_app::ipm::report(
        store.as_mut(),
        &actor,
        &vamos_app::ipm::Ask {
            measurement: a.measurement,
            territory: Some(territory),
            k: a.k,
            ks: a.k_list.clone(),
            compare: a.compare,
            readers: readers(),
        },
    )?;
    if a.format == crate::Format::Json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_report(&r);
    Ok(ExitCode::SUCCESS)
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn pct(x: f64) -> String {
    vamos_domain::numbers::decimal_es(x * 100.0, 2) + " %"
}

fn print_report(r: &Value) {
    let m = r.get("measurement").cloned().unwrap_or(Value::Null);
    println!(
        "Pobreza multidimensional — {} — medición {} al {}{}",
        r.get("territory_name")
            .and_then(Value::as_str)
            .unwrap_or(""),
        m.get("id").and_then(Value::as_i64).unwrap_or(0),
        m.get("as_of").and_then(Value::as_str).unwrap_or(""),
        if m.get("synthetic").and_then(Value::as_bool) == Some(true) {
            " (datos SINTÉTICOS)"
        } else {
            ""
        }
    );
    println!(
        "Método {} — k = {}",
        r.get("method_version")
            .and_then(Value::as_str)
            .unwrap_or(""),
        pct(num(r, "k"))
    );
    let hh = r.get("households").cloned().unwrap_or(Value::Null);
    println!(
        "  Personas: H = {}, A = {}, IPM (M0) = {}   Hogares: H = {}, A = {}, IPM = {}",
        pct(num(r, "H")),
        pct(num(r, "A")),
        vamos_domain::numbers::decimal_es(num(r, "M0"), 4),
        pct(num(&hh, "H")),
        pct(num(&hh, "A")),
        vamos_domain::numbers::decimal_es(num(&hh, "M0"), 4)
    );
    println!(
        "  Sin dato (fuera de las cifras): {} de las personas",
        pct(num(r, "missing_share"))
    );
    println!(
        "\n  Indicador                 Dimensión   Peso   Sin censura  Censurado  Contribución"
    );
    for i in r
        .get("indicators")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!(
            "  {:<25} {:<10} {:>6}  {:>10}  {:>10}  {:>10}",
            i.get("indicator").and_then(Value::as_str).unwrap_or(""),
            i.get("dimension").and_then(Value::as_str).unwrap_or(""),
            vamos_domain::numbers::decimal_es(num(i, "weight"), 4),
            pct(num(i, "uncensored")),
            pct(num(i, "censored")),
            pct(num(i, "contribution_share"))
        );
    }
    for (title, key) in [("Área", "areas"), ("Poblaciones", "populations")] {
        println!("\n  {title}:");
        if let Some(o) = r.get(key).and_then(Value::as_object) {
            for (name, f) in o {
                println!(
                    "    {:<18} H = {:>9}  A = {:>9}  IPM = {}",
                    name,
                    pct(num(f, "H")),
                    pct(num(f, "A")),
                    vamos_domain::numbers::decimal_es(num(f, "M0"), 4)
                );
            }
        }
    }
    if let Some(ts) = r
        .get("territories")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
    {
        println!("\n  Territorios:");
        for t in ts {
            println!(
                "    {:<6} {:<28} H = {:>9}  A = {:>9}  IPM = {}",
                t.get("territory").and_then(Value::as_str).unwrap_or(""),
                t.get("name").and_then(Value::as_str).unwrap_or(""),
                pct(num(t, "H")),
                pct(num(t, "A")),
                vamos_domain::numbers::decimal_es(num(t, "M0"), 4)
            );
        }
    }
    println!("\n  Robustez (otros cortes k):");
    for x in r
        .get("robustness")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!(
            "    k = {:>8}  H = {:>9}  A = {:>9}  IPM = {}",
            pct(num(x, "k")),
            pct(num(x, "H")),
            pct(num(x, "A")),
            vamos_domain::numbers::decimal_es(num(x, "M0"), 4)
        );
    }
    if let Some(c) = r.get("change") {
        println!(
            "\n  Cambio desde la medición {} ({}):",
            c.get("measurement").and_then(Value::as_i64).unwrap_or(0),
            c.get("as_of").and_then(Value::as_str).unwrap_or("")
        );
        for key in ["H", "A", "M0"] {
            if let Some(x) = c.get(key).filter(|x| !x.is_null()) {
                println!(
                    "    {key}: {} → {} (absoluto {}, relativo {})",
                    vamos_domain::numbers::decimal_es(num(x, "from"), 4),
                    vamos_domain::numbers::decimal_es(num(x, "to"), 4),
                    vamos_domain::numbers::decimal_es(num(x, "absolute"), 4),
                    x.get("relative")
                        .and_then(Value::as_f64)
                        .map_or("—".into(), pct)
                );
            }
        }
    }
}

fn readers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// A file created on its first write: a refused export leaves no empty file behind.
struct LazyFile {
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl std::io::Write for LazyFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file.is_none() {
            self.file = Some(std::io::BufWriter::new(std::fs::File::create(&self.path)?));
        }
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), std::io::Write::flush)
    }
}

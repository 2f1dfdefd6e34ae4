//! Vocabulary of the synthetic population: given names, surnames, place names, streets, and the
//! spelling noise administrative files add to them.
//!
//! The lists are common Paraguayan names (Spanish and Guaraní given names, the most frequent
//! surnames), German names for the Mennonite colonies of the central Chaco, and generic place
//! names (saints, dates, Guaraní toponyms). They are drawn at random and independently, so no
//! combination describes a real person. Person names are all encodable in Windows-1252 (a test
//! checks it), because the MEC registry file is written in that encoding; place names may use
//! Guaraní letters such as `ỹ` and only appear in the UTF-8 files.

use crate::rng::Rng64;

pub(crate) const MALE: &[&str] = &[
    "José",
    "Juan",
    "Carlos",
    "Luis",
    "Francisco",
    "Jorge",
    "Miguel",
    "Ramón",
    "Pedro",
    "Antonio",
    "Víctor",
    "Derlis",
    "Nelson",
    "Osvaldo",
    "Hugo",
    "Rubén",
    "Fernando",
    "Marcelo",
    "Diego",
    "Rodrigo",
    "Gustavo",
    "Cristian",
    "Fabio",
    "Édgar",
    "Alcides",
    "Julio",
    "César",
    "Roberto",
    "Ángel",
    "Blas",
    "Celso",
    "Aníbal",
    "Eladio",
    "Gerardo",
    "Isidro",
    "Justo",
    "Lorenzo",
    "Marcos",
    "Nicolás",
    "Óscar",
    "Pablo",
    "Raúl",
    "Sergio",
    "Teodoro",
    "Wilfrido",
    "Arnaldo",
    "Rolando",
    "Darío",
    "Elvio",
    "Matías",
    "Thiago",
    "Santiago",
    "Benjamín",
    "Joaquín",
    "Lucas",
    "Mateo",
    "Enzo",
    "Gabriel",
    "Alexis",
    "Ever",
    "Ariel",
    "Silvio",
    "Néstor",
    "Germán",
    "Aldo",
    "Fredy",
    "Richard",
    "Cirilo",
    "Agustín",
    "Emilio",
];

pub(crate) const FEMALE: &[&str] = &[
    "María",
    "Ana",
    "Rosa",
    "Liz",
    "Ramona",
    "Gladys",
    "Mirian",
    "Carmen",
    "Juana",
    "Graciela",
    "Lourdes",
    "Teresa",
    "Sonia",
    "Nilda",
    "Zulma",
    "Estela",
    "Blanca",
    "Mercedes",
    "Patricia",
    "Lorena",
    "Rocío",
    "Fátima",
    "Leticia",
    "Noelia",
    "Natalia",
    "Andrea",
    "Claudia",
    "Silvia",
    "Gloria",
    "Celia",
    "Elena",
    "Mirta",
    "Antonia",
    "Francisca",
    "Lidia",
    "Nancy",
    "Norma",
    "Perla",
    "Cinthia",
    "Fabiola",
    "Jazmín",
    "Dahiana",
    "Camila",
    "Valentina",
    "Sofía",
    "Luana",
    "Martina",
    "Alma",
    "Isabella",
    "Milagros",
    "Belén",
    "Dolores",
    "Asunción",
    "Concepción",
    "Elisa",
    "Catalina",
    "Romina",
    "Tamara",
    "Diana",
    "Victoria",
    "Librada",
    "Digna",
];

/// Guaraní given names, increasingly common among younger Paraguayans.
pub(crate) const GUARANI_MALE: &[&str] = &["Tupã", "Kuarahy", "Yvytu", "Arandu", "Ñandu"];
pub(crate) const GUARANI_FEMALE: &[&str] = &[
    "Arami", "Jasy", "Mainumby", "Yvoty", "Ára", "Porã", "Ysapy", "Arasy",
];

/// Most frequent Paraguayan surnames, roughly in frequency order (drawn with Zipf-like weights).
pub(crate) const SURNAMES: &[&str] = &[
    "González",
    "Benítez",
    "Martínez",
    "López",
    "Giménez",
    "Vera",
    "Duarte",
    "Rojas",
    "Ramírez",
    "Báez",
    "Ortiz",
    "Cáceres",
    "Acosta",
    "Villalba",
    "Ayala",
    "Fernández",
    "Sanabria",
    "Aquino",
    "Núñez",
    "Romero",
    "Ferreira",
    "Ocampos",
    "Gómez",
    "Rodríguez",
    "Franco",
    "Medina",
    "Torres",
    "Zaracho",
    "Cabrera",
    "Galeano",
    "Insfrán",
    "Cardozo",
    "Espínola",
    "Amarilla",
    "Riveros",
    "Britez",
    "Alvarenga",
    "Escobar",
    "Sosa",
    "Silva",
    "Valdez",
    "Mendoza",
    "Paredes",
    "Chávez",
    "Figueredo",
    "Leguizamón",
    "Coronel",
    "Recalde",
    "Morínigo",
    "Ojeda",
    "Samaniego",
    "Cristaldo",
    "Caballero",
    "Bogado",
    "Díaz",
    "Meza",
    "Valiente",
    "Arévalo",
    "Domínguez",
    "Centurión",
    "Florentín",
    "Areco",
    "Ibarra",
    "Colmán",
    "Jara",
    "Quintana",
    "Alonso",
    "Benegas",
    "Cubilla",
    "Garcete",
    "Lezcano",
    "Montiel",
    "Portillo",
    "Servín",
    "Talavera",
    "Villasboa",
];

/// Mennonite colonies (Filadelfia, Loma Plata: Boquerón) — Plautdietsch/German speakers.
pub(crate) const GERMAN_MALE: &[&str] = &[
    "Peter",
    "Johann",
    "Heinrich",
    "Jakob",
    "Abram",
    "Cornelius",
    "David",
    "Franz",
];
pub(crate) const GERMAN_FEMALE: &[&str] = &[
    "Anna",
    "Maria",
    "Helena",
    "Katharina",
    "Susanna",
    "Margaretha",
    "Elisabeth",
    "Agatha",
];
pub(crate) const GERMAN_SURNAMES: &[&str] = &[
    "Friesen",
    "Penner",
    "Klassen",
    "Giesbrecht",
    "Wiebe",
    "Harder",
    "Dueck",
    "Enns",
    "Funk",
    "Toews",
    "Neufeld",
    "Unruh",
];

/// Urban neighbourhoods (barrios): saints, dates, heroes and Guaraní toponyms.
pub(crate) const BARRIOS: &[&str] = &[
    "Barrio San Miguel",
    "Barrio Santa Librada",
    "Barrio Virgen de Fátima",
    "Barrio San Antonio",
    "Barrio Obrero",
    "Barrio San Isidro",
    "Barrio Santa Ana",
    "Barrio Jardín",
    "Barrio Las Mercedes",
    "Barrio San Roque",
    "Barrio Sagrado Corazón",
    "Barrio San Pedro",
    "Barrio María Auxiliadora",
    "Barrio Centro",
    "Barrio Santo Domingo",
    "Barrio San Blas",
    "Barrio San Cayetano",
    "Barrio Ybaroty",
    "Barrio Tablada",
    "Barrio Loma Pytã",
    "Barrio Primero de Marzo",
    "Barrio San Vicente",
    "Barrio Santa Lucía",
    "Barrio Villa Aurelia",
    "Barrio Itá Ybaté",
    "Barrio Defensores del Chaco",
    "Barrio San Francisco",
    "Barrio Santa Rosa",
    "Barrio Mburucuyá",
    "Barrio Ytororó",
    "Barrio Virgen del Rosario",
    "Barrio San José",
    "Barrio Santa Teresa",
    "Barrio Cerro Corá",
    "Barrio Trinidad",
    "Barrio Nazareth",
    "Barrio Caacupemí",
    "Barrio Las Residentas",
    "Barrio Ñu Guasu",
    "Barrio Kennedy",
    "Barrio Progreso",
    "Barrio Universo",
    "Barrio Santísima Trinidad",
    "Barrio Yukyty",
    "Barrio Potrero Guasu",
    "Asentamiento San Ramón",
    "Asentamiento Nueva Esperanza",
    "Barrio Virgen de Guadalupe",
];

/// Rural localities: compañías, colonias and asentamientos.
pub(crate) const COMPANIAS: &[&str] = &[
    "Compañía Potrero Guasu",
    "Compañía Ka'aguy Pa'ũ",
    "Colonia Nueva Esperanza",
    "Asentamiento 8 de Diciembre",
    "Compañía Yataity",
    "Compañía Costa Alegre",
    "Compañía Tacuruty",
    "Compañía Ñu Guasu",
    "Compañía Cerrito",
    "Compañía San José Obrero",
    "Colonia Primavera",
    "Compañía Isla Alta",
    "Compañía Arroyo Porã",
    "Compañía Rincón",
    "Compañía Caraguatay Mí",
    "Asentamiento Tava Porã",
    "Compañía Loma Clavel",
    "Compañía Ybyraty",
    "Compañía San Isidro",
    "Compañía Santa Clara",
    "Compañía Itá Guasu",
    "Compañía Tuyutí",
    "Compañía Mbocayaty",
    "Compañía Yvu",
    "Compañía Laguna Pytã",
    "Colonia Santa Teresa",
    "Compañía Pirayú Mí",
    "Asentamiento Santa Lucía",
    "Compañía Naranjito",
    "Compañía Guayaibí",
    "Compañía Kurusu",
    "Compañía Tajy",
    "Compañía Ysaty",
    "Compañía Aguai'y",
    "Colonia Juan de Mena",
    "Compañía Arroyo Guasu",
    "Compañía Tapiracuai",
    "Compañía Costa Rosado",
    "Compañía Cerro Punta",
    "Compañía San Antonio",
    "Compañía Calle Ocho",
    "Asentamiento Ybype",
    "Compañía Jhugua Ñandu",
    "Compañía Yrybucuá",
    "Compañía Estero Bellaco",
];

/// Names of indigenous communities (*approximate*, generic): Chaco and Región Oriental styles.
pub(crate) const COMUNIDADES_CHACO: &[&str] = &[
    "Yalve Sanga",
    "Campo Loa",
    "Pozo Amarillo",
    "Uje Lhavos",
    "Cayin o Clim",
    "Santa Teresita",
    "Nueva Promesa",
    "Sargento Rodríguez",
    "Diez Leguas",
    "Armonía",
    "Tres Palmas",
    "Nueva Esperanza",
    "Casanillo",
    "La Esperanza",
    "San José Esteros",
    "Campo Alegre",
    "Jerusalén",
    "Laguna Negra",
    "Palo Santo",
    "Nueva Vida",
    "Pykasu",
    "Tunucujai",
    "Mistolar",
    "Cucaani",
];
pub(crate) const COMUNIDADES_ORIENTAL: &[&str] = &[
    "Yvy Pytã",
    "Tekoha Guasu",
    "Ka'aguy Poty",
    "Yvyra'ija",
    "Jeguahaty",
    "Ita Guasu",
    "Takuára",
    "Pindo'i",
    "Ysati",
    "Kuarahy Resẽ",
    "Ñu Porã",
    "Tajy Poty",
    "Yvy Marane'ỹ",
    "Arroyo Morotĩ",
    "Tekoha Porã",
    "Guyra Kehá",
    "Mbokaja'i",
    "Ka'aguy Rory",
    "Yvyrarovaná",
    "Takuaritiy",
];

/// Streets for urban addresses.
pub(crate) const STREETS: &[&str] = &[
    "Mcal. López",
    "España",
    "Mcal. Estigarribia",
    "Eusebio Ayala",
    "Gral. Díaz",
    "Carlos Antonio López",
    "Tte. Fariña",
    "25 de Mayo",
    "14 de Mayo",
    "15 de Agosto",
    "Cerro Corá",
    "Yegros",
    "Colón",
    "Brasil",
    "Perú",
    "Ayolas",
    "Defensores del Chaco",
    "Gral. Aquino",
    "Independencia Nacional",
    "Pa'i Pérez",
    "Tacuary",
    "Humaitá",
    "Curupayty",
    "Boquerón",
    "Nanawa",
    "Sargento Silva",
    "Cnel. Bogado",
    "San Blas",
    "Santa Ana",
    "Itapúa",
    "Caaguazú",
    "Rca. Argentina",
    "De la Victoria",
    "Tte. Rojas Silva",
    "Dr. Francia",
];

pub(crate) const LANDMARKS: &[&str] = &[
    "la escuela",
    "la capilla",
    "la cancha",
    "el puesto de salud",
    "la despensa",
    "el almacén",
    "la ruta",
    "el arroyo",
    "la iglesia",
    "el cementerio",
];

/// A surname drawn with weights ∝ 1/(rank + 4): the head of the list is much more frequent.
pub(crate) fn surname(rng: &mut impl Rng64) -> &'static str {
    // Harmonic-like weights without building a table each call: rejection from a uniform pick.
    loop {
        let i = rng.int(0, SURNAMES.len() as i64 - 1) as usize;
        if rng.chance(4.0 / (i as f64 + 4.0)) {
            return SURNAMES.get(i).copied().unwrap_or("González");
        }
    }
}

/// One given name for a person of this sex and birth year. Guaraní names are drawn more often
/// for people born after 1990.
pub(crate) fn given(
    rng: &mut impl Rng64,
    female: bool,
    birth_year: i32,
    german: bool,
) -> &'static str {
    if german {
        return rng.choose(if female { GERMAN_FEMALE } else { GERMAN_MALE });
    }
    let guarani = if birth_year >= 1990 { 0.05 } else { 0.01 };
    if rng.chance(guarani) {
        rng.choose(if female { GUARANI_FEMALE } else { GUARANI_MALE })
    } else {
        rng.choose(if female { FEMALE } else { MALE })
    }
}

/// The plain form of an accented letter (what many registry systems store); `ñ` is kept.
pub(crate) fn plain_char(c: char) -> char {
    match c {
        'á' | 'à' | 'ã' | 'â' => 'a',
        'é' | 'è' | 'ẽ' => 'e',
        'í' | 'ì' | 'ĩ' => 'i',
        'ó' | 'ò' | 'õ' => 'o',
        'ú' | 'ù' | 'ü' | 'ũ' => 'u',
        'ỹ' | 'ý' => 'y',
        'Á' | 'À' | 'Ã' => 'A',
        'É' | 'Ẽ' => 'E',
        'Í' | 'Ĩ' => 'I',
        'Ó' | 'Õ' => 'O',
        'Ú' | 'Ü' | 'Ũ' => 'U',
        other => other,
    }
}

/// Known spelling variants of frequent surnames, as found in administrative files.
fn surname_variant(s: &str) -> Option<&'static str> {
    Some(match s {
        "González" => "Gonzáles",
        "Giménez" => "Jiménez",
        "Báez" => "Baes",
        "Villalba" => "Villalva",
        "Benítez" => "Benites",
        "Martínez" => "Martines",
        "Cáceres" => "Caseres",
        "Britez" => "Brítez",
        "Ocampos" => "Ocampo",
        "Sanabria" => "Sanábria",
        "Insfrán" => "Insfran",
        "Zaracho" => "Saracho",
        "Núñez" => "Nuñes",
        "Valdez" => "Valdes",
        "Giesbrecht" => "Giesbrech",
        _ => return None,
    })
}

/// How an institution writes names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameStyle {
    /// Probability that the whole name is written in upper case.
    pub upper: f64,
    /// Probability that accents are dropped.
    pub plain: f64,
}

/// The name parts of a person.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NameParts {
    pub given1: &'static str,
    pub given2: &'static str,
    pub surname1: &'static str,
    pub surname2: &'static str,
}

/// Writes the given names and surnames as an administrative file would: institution style
/// (upper case, no accents) plus record-level noise (second given name as an initial or
/// missing, second surname missing, a spelling variant). Reuses the output buffers.
pub(crate) fn noisy_name(
    rng: &mut impl Rng64,
    style: NameStyle,
    n: &NameParts,
    scratch: &mut String,
    nombres: &mut String,
    apellidos: &mut String,
) {
    scratch.clear();
    scratch.push_str(n.given1);
    if !n.given2.is_empty() {
        let r = rng.unit();
        if r < 0.08 {
            scratch.push(' ');
            if let Some(c) = n.given2.chars().next() {
                scratch.push(c);
                scratch.push('.');
            }
        } else if r >= 0.18 {
            scratch.push(' ');
            scratch.push_str(n.given2);
        }
    }
    scratch.push('|');
    let s1 = if rng.chance(0.05) {
        surname_variant(n.surname1).unwrap_or(n.surname1)
    } else {
        n.surname1
    };
    scratch.push_str(s1);
    if !n.surname2.is_empty() && !rng.chance(0.08) {
        scratch.push(' ');
        scratch.push_str(n.surname2);
    }
    let plain = rng.chance(style.plain);
    let upper = rng.chance(style.upper);
    nombres.clear();
    apellidos.clear();
    let mut target_is_surname = false;
    for c in scratch.chars() {
        if c == '|' {
            target_is_surname = true;
            continue;
        }
        let out = if target_is_surname {
            &mut *apellidos
        } else {
            &mut *nombres
        };
        let c = if plain { plain_char(c) } else { c };
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_name_is_windows_1252() {
        for list in [
            MALE,
            FEMALE,
            GUARANI_MALE,
            GUARANI_FEMALE,
            SURNAMES,
            GERMAN_MALE,
            GERMAN_FEMALE,
            GERMAN_SURNAMES,
        ] {
            for s in list {
                let (_, _, bad) = encoding_rs::WINDOWS_1252.encode(s);
                assert!(!bad, "{s}");
            }
        }
    }

    #[test]
    fn noise_keeps_the_name_recognisable() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let parts = NameParts {
            given1: "María",
            given2: "Fátima",
            surname1: "González",
            surname2: "Báez",
        };
        let (mut s, mut n, mut a) = (String::new(), String::new(), String::new());
        noisy_name(
            &mut rng,
            NameStyle {
                upper: 1.0,
                plain: 1.0,
            },
            &parts,
            &mut s,
            &mut n,
            &mut a,
        );
        assert!(n.starts_with("MARIA"), "{n}");
        assert!(a.starts_with("GONZAL"), "{a}");
        noisy_name(
            &mut rng,
            NameStyle {
                upper: 0.0,
                plain: 0.0,
            },
            &parts,
            &mut s,
            &mut n,
            &mut a,
        );
        assert!(n.starts_with("María"), "{n}");
    }
}

//! The vocabulary of the service catalogue: life-cycle categories (each with its Logro),
//! packages, pillars and delivery levels, with their Spanish codes as the catalogue files and
//! the users write them.

use serde::Serialize;

/// Life-cycle categories of the SPS (VAMOS.md §3.2), plus Hogares and Entorno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    AntesDelNacimiento,
    EnElNacimiento,
    DespuesDelNacimiento,
    Ninez,
    Adolescencia,
    Juventud,
    Adultez,
    AdultosMayores,
    Hogares,
    Entorno,
}

/// The unit a category counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Person,
    Household,
    Community,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::AntesDelNacimiento,
        Category::EnElNacimiento,
        Category::DespuesDelNacimiento,
        Category::Ninez,
        Category::Adolescencia,
        Category::Juventud,
        Category::Adultez,
        Category::AdultosMayores,
        Category::Hogares,
        Category::Entorno,
    ];
    /// The code used in catalogue files and exports.
    pub fn code(self) -> &'static str {
        match self {
            Category::AntesDelNacimiento => "antes_del_nacimiento",
            Category::EnElNacimiento => "en_el_nacimiento",
            Category::DespuesDelNacimiento => "despues_del_nacimiento",
            Category::Ninez => "ninez",
            Category::Adolescencia => "adolescencia",
            Category::Juventud => "juventud",
            Category::Adultez => "adultez",
            Category::AdultosMayores => "adultos_mayores",
            Category::Hogares => "hogares",
            Category::Entorno => "entorno",
        }
    }
    /// The Spanish label users read.
    pub fn label(self) -> &'static str {
        match self {
            Category::AntesDelNacimiento => "0–4 antes del nacimiento",
            Category::EnElNacimiento => "0–4 en el nacimiento",
            Category::DespuesDelNacimiento => "0–4 después del nacimiento",
            Category::Ninez => "5–13",
            Category::Adolescencia => "14–17",
            Category::Juventud => "18–29",
            Category::Adultez => "30–59",
            Category::AdultosMayores => "60 y más",
            Category::Hogares => "Hogares",
            Category::Entorno => "Entorno",
        }
    }
    /// The Logro (1–10) measuring this category.
    pub fn logro(self) -> u8 {
        match self {
            Category::AntesDelNacimiento => 1,
            Category::EnElNacimiento => 2,
            Category::DespuesDelNacimiento => 3,
            Category::Ninez => 4,
            Category::Adolescencia => 5,
            Category::Juventud => 6,
            Category::Adultez => 7,
            Category::AdultosMayores => 8,
            Category::Hogares => 9,
            Category::Entorno => 10,
        }
    }
    pub fn unit(self) -> Unit {
        match self {
            Category::Hogares => Unit::Household,
            Category::Entorno => Unit::Community,
            _ => Unit::Person,
        }
    }
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.code() == s)
    }
}

macro_rules! coded_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|x| x.code() == s)
            }
        }
    };
}

coded_enum!(
    /// Packages of a category: the núcleo is the basis of the Logros.
    Package { Nucleo => "nucleo", Ampliado => "ampliado", Diferencial => "diferencial" }
);
coded_enum!(
    /// The three pillars of the SPS.
    Pillar {
        IntegracionSocial => "integracion_social",
        InsercionLaboral => "insercion_laboral",
        PrevisionSocial => "prevision_social",
    }
);
coded_enum!(
    /// Where a service is delivered.
    DeliveryLevel { Distrito => "distrito", Departamento => "departamento", Nacional => "nacional", Remoto => "remoto" }
);

impl Package {
    /// The Spanish label users read.
    pub fn label(self) -> &'static str {
        match self {
            Package::Nucleo => "paquete núcleo",
            Package::Ampliado => "paquete ampliado",
            Package::Diferencial => "paquete diferencial",
        }
    }
}

impl DeliveryLevel {
    /// The Spanish label users read.
    pub fn label(self) -> &'static str {
        match self {
            DeliveryLevel::Distrito => "distrital",
            DeliveryLevel::Departamento => "departamental",
            DeliveryLevel::Nacional => "nacional",
            DeliveryLevel::Remoto => "a distancia",
        }
    }
}

/// The label of a package code (the code itself when unknown).
pub fn package_label(code: &str) -> &str {
    match Package::parse(code) {
        Some(p) => p.label(),
        None => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_categories_ten_logros() {
        let logros: Vec<u8> = Category::ALL.iter().map(|c| c.logro()).collect();
        assert_eq!(logros, (1..=10).collect::<Vec<u8>>());
        assert_eq!(
            Category::parse("adultos_mayores"),
            Some(Category::AdultosMayores)
        );
        assert_eq!(Category::Entorno.unit(), Unit::Community);
        assert_eq!(Package::parse("diferencial"), Some(Package::Diferencial));
        assert_eq!(Pillar::parse("x"), None);
    }

    #[test]
    fn packages_read_as_words_and_unknown_codes_stay() {
        assert_eq!(package_label("nucleo"), "paquete núcleo");
        assert_eq!(package_label("diferencial"), "paquete diferencial");
        assert_eq!(package_label("otro"), "otro");
    }
}

//! The choice codes of the shipped forms (FIPS and Entorno), against which every rule — the
//! catalogue's, Canal Verde's, the poverty index's — is compiled.

use vamos_catalogue::Vocabulary;
use vamos_ingest::forms::{form, FormId};

/// The choice codes of the shipped forms, for compiling rules.
pub struct FormVocabulary;

impl Vocabulary for FormVocabulary {
    fn choices(&self, list: &str) -> Option<&'static [&'static str]> {
        [FormId::Fips, FormId::Comunidad]
            .into_iter()
            .map(|f| form(f).choice_list(list))
            .find(|l| !l.is_empty())
    }
}

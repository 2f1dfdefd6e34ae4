//! Classification and Logros on a small registry built through `RegistrySink`, with a small
//! catalogue: statuses, evidence precedence and validity, concurrent protection, roll-ups.

// Tests fail loudly on purpose: unwrap, panic and indexing are how they assert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use chrono::NaiveDate;
use vamos_catalogue::{load_files, Catalogue, Vocabulary};
use vamos_domain::schema::{position, COMMUNITY_FIELDS, HOUSEHOLD_FIELDS, PERSON_FIELDS};
use vamos_domain::services::Category;
use vamos_domain::EvidenceSource::{Admin, CounterReferral};
use vamos_domain::*;
use vamos_engine::logros::{measure, roll_up};
use vamos_engine::{Because, Classifier, RegistryData, Status, Unit};

struct Vocab;
impl Vocabulary for Vocab {
    fn choices(&self, list: &str) -> Option<&'static [&'static str]> {
        match list {
            "si_no" => Some(&["si", "no"]),
            "si_no_ns" => Some(&["si", "no", "no_sabe"]),
            "sexo" => Some(&["hombre", "mujer"]),
            "area" => Some(&["urbana", "rural"]),
            "relacion" => Some(&["jefe", "conyuge", "hijo"]),
            "agua" => Some(&["red_essap_senasa", "pozo_sin_bomba"]),
            _ => None,
        }
    }
}

fn catalogue() -> Catalogue {
    catalogue_with_vaccines_read_from("admin")
}

/// [`catalogue`], its `vacunas` service's first rule reading MSPBS's events of `fuente`
/// (`admin` or `contrarreferencia`).
fn catalogue_with_vaccines_read_from(fuente: &str) -> Catalogue {
    let meta = r#"nombre = "t"
version = "t"
ilustrativo = true
[[institucion]]
codigo = "UTGS"
nombre = "UTGS"
[[institucion]]
codigo = "MSPBS"
nombre = "MSPBS"
[[institucion]]
codigo = "SENASA"
nombre = "SENASA"
"#;
    let mut services = String::new();
    for (cat, code) in [
        ("despues_del_nacimiento", "o1"),
        ("hogares", "o2"),
        ("entorno", "o3"),
    ] {
        services.push_str(&format!(
            r#"[[servicio]]
codigo = "orientaciones_{code}"
nombre = "Orientaciones SPS"
institucion = "UTGS"
pilar = "integracion_social"
categoria = "{cat}"
paquete = "nucleo"
nivel_entrega = "distrito"
costo_unitario_pyg = 1
  [[servicio.evidencia]]
  fuente = "admin"
  institucion = "UTGS"
  servicios = ["orientacion"]
  vigencia_dias = 365
  descripcion = "Atención de Orientaciones SPS"
"#
        ));
    }
    services.push_str(&format!(
        r#"[[servicio]]
codigo = "vacunas"
nombre = "Vacunación completa"
institucion = "MSPBS"
pilar = "integracion_social"
categoria = "despues_del_nacimiento"
paquete = "nucleo"
nivel_entrega = "distrito"
costo_unitario_pyg = 1
  [[servicio.evidencia]]
  fuente = "{fuente}"
  institucion = "MSPBS"
  servicios = ["vacunacion_completa"]
  vigencia_dias = 365
  descripcion = "Registro del PAI"
  [[servicio.evidencia]]
  fuente = "fips"
  regla = "persona.carnet_vacunacion == 'si'"
  vigencia_dias = 365
  descripcion = "Carné al día según la FIPS"
[[servicio]]
codigo = "agua"
nombre = "Agua segura"
institucion = "SENASA"
pilar = "integracion_social"
categoria = "hogares"
paquete = "nucleo"
nivel_entrega = "distrito"
costo_unitario_pyg = 1
  [[servicio.evidencia]]
  fuente = "fips"
  regla = "hogar.fuente_agua == 'red_essap_senasa'"
  descripcion = "Red pública"
"#
    ));
    load_files(
        "t",
        &[
            ("catalogo.toml".into(), meta.into()),
            ("servicios/s.toml".into(), services),
        ],
        &Vocab,
    )
    .unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Two districts; in Villeta a household with a mother and two children, in Santa Rosa one
/// household with a child; `events` are (person id, source, service, date).
fn registry(
    events: &[(i64, EvidenceSource<&str>, &str, &str)],
    card_child_2: &str,
) -> RegistryData {
    registry_in_parts(events, card_child_2, false)
}

/// [`registry`], with all persons but the first delivered to a part absorbed afterwards (as
/// the parallel load does) when `in_parts`.
fn registry_in_parts(
    events: &[(i64, EvidenceSource<&str>, &str, &str)],
    card_child_2: &str,
    in_parts: bool,
) -> RegistryData {
    let mut r = RegistryData::new(&Vocab);
    let villeta = DistrictCode::try_from("1116").unwrap();
    let santa_rosa = DistrictCode::try_from("0218").unwrap();
    let nc = vec![AnswerRef::Null; COMMUNITY_FIELDS.len()];
    r.community(&CommunityRow {
        id: 1,
        district: villeta,
        area: Some("urbana"),
        survey_date: None,
        answers: &nc,
    });
    r.community(&CommunityRow {
        id: 2,
        district: santa_rosa,
        area: Some("rural"),
        survey_date: None,
        answers: &nc,
    });
    let mut hh = vec![AnswerRef::Null; HOUSEHOLD_FIELDS.len()];
    hh[position(HOUSEHOLD_FIELDS, "fuente_agua").unwrap()] = AnswerRef::Text("red_essap_senasa");
    r.household(&HouseholdRow {
        id: 10,
        district: villeta,
        community_id: 1,
        area: Some("urbana"),
        interview_date: d("2026-10-01"),
        answers: &hh,
    });
    hh[position(HOUSEHOLD_FIELDS, "fuente_agua").unwrap()] = AnswerRef::Text("pozo_sin_bomba");
    r.household(&HouseholdRow {
        id: 20,
        district: santa_rosa,
        community_id: 2,
        area: Some("rural"),
        interview_date: d("2026-10-01"),
        answers: &hh,
    });
    let card = position(PERSON_FIELDS, "carnet_vacunacion").unwrap();
    let person = |r: &mut RegistryData,
                  id: i64,
                  h: i64,
                  birth: &str,
                  sex: Sex,
                  rel: &str,
                  card_answer: &'static str| {
        let mut a = vec![AnswerRef::Null; PERSON_FIELDS.len()];
        if !card_answer.is_empty() {
            a[card] = AnswerRef::Text(card_answer);
        }
        r.person(&PersonRow {
            id,
            household_id: h,
            national_id: None,
            birth_date: d(birth),
            sex,
            relationship: rel,
            answers: &a,
        });
    };
    let c2: &'static str = Box::leak(card_child_2.to_string().into_boxed_str());
    let mut part = r.part();
    for (i, (id, h, birth, sex, rel, card)) in [
        (100, 10, "1995-01-01", Sex::Mujer, "jefe", ""),
        (101, 10, "2023-05-05", Sex::Hombre, "hijo", "no"),
        (102, 10, "2025-02-02", Sex::Mujer, "hijo", c2),
        (200, 20, "2024-01-01", Sex::Hombre, "hijo", ""),
    ]
    .into_iter()
    .enumerate()
    {
        let sink = if in_parts && i > 0 { &mut part } else { &mut r };
        person(sink, id, h, birth, sex, rel, card);
    }
    if in_parts {
        r.absorb(part);
    }
    // Events in a part of their own (with its own symbol table) when `in_parts`.
    let mut events_part = r.part();
    for (p, i, s, date) in events {
        let sink = if in_parts { &mut events_part } else { &mut r };
        sink.admin_event(&AdminEventRow {
            person_id: *p,
            source: *i,
            service: s,
            event_date: d(date),
        });
    }
    if in_parts {
        r.absorb(events_part);
    }
    r.finish();
    r
}

fn status(
    r: &RegistryData,
    c: &Catalogue,
    as_of: &str,
    person: i64,
) -> (bool, Vec<(String, Status)>) {
    let cls = Classifier::new(c, r, d(as_of));
    let p = r.person_by_id(person).unwrap();
    let mut dec = Vec::new();
    cls.classify(r, Unit::Person(p), Category::DespuesDelNacimiento, &mut dec);
    (
        cls.concurrent(&dec),
        dec.iter()
            .map(|x| (c.services[x.service].code.clone(), x.status))
            .collect(),
    )
}

#[test]
fn a_counter_referral_is_evidence_only_for_a_counter_referral_rule() {
    // Child 101's FIPS card is not up to date: without evidence of MSPBS `vacunas` is
    // desprotegido by the FIPS rule.
    let record = [(101, Admin("MSPBS"), "vacunacion_completa", "2026-09-01")];
    let reported = [(
        101,
        CounterReferral("MSPBS"),
        "vacunacion_completa",
        "2026-09-01",
    )];
    let vaccines = |c: &Catalogue, events: &[(i64, EvidenceSource<&str>, &str, &str)]| {
        status(&registry(events, "si"), c, "2026-11-23", 101).1[1].1
    };
    // An `admin` rule takes the institution's record, never its counter-referral…
    let admin = catalogue();
    assert_eq!(vaccines(&admin, &record), Status::Protegido);
    assert_eq!(vaccines(&admin, &reported), Status::Desprotegido);
    // …and a `contrarreferencia` rule the other way round.
    let counter = catalogue_with_vaccines_read_from("contrarreferencia");
    assert_eq!(vaccines(&counter, &reported), Status::Protegido);
    assert_eq!(vaccines(&counter, &record), Status::Desprotegido);
    // Both kinds of the same institution in one registry keep their own source.
    let both: Vec<_> = record.iter().chain(&reported).copied().collect();
    let r = registry(&both, "si");
    assert_eq!(r.event_sources.list.len(), 2);
    let names: Vec<String> = r.sources().into_iter().map(|s| s.source).collect();
    assert!(names.contains(&"MSPBS".to_string()), "{names:?}");
    assert!(
        names.contains(&"contrarreferencia:MSPBS".to_string()),
        "{names:?}"
    );
}

#[test]
fn evidence_decides_in_order_and_expires() {
    let c = catalogue();
    let events = [
        (101, Admin("UTGS"), "orientacion", "2026-06-01"),
        (102, Admin("UTGS"), "orientacion", "2026-06-01"),
    ];
    let r = registry(&events, "si");
    // Child 101: oriented; FIPS says the card is not up to date → desprotegido by the FIPS.
    let (conc, s) = status(&r, &c, "2026-11-23", 101);
    assert!(!conc);
    assert_eq!(
        s,
        [
            ("orientaciones_o1".into(), Status::Protegido),
            ("vacunas".into(), Status::Desprotegido)
        ]
    );
    // Child 102: oriented and the FIPS card is up to date → concurrent protection.
    assert!(status(&r, &c, "2026-11-23", 102).0);
    // Child 200: no evidence at all → sin dato for both.
    let (_, s) = status(&r, &c, "2026-11-23", 200);
    assert!(s.iter().all(|(_, st)| *st == Status::SinDato));
    // An administrative record outranks the FIPS self-report: 101 becomes protected…
    let mut with_pai = events.to_vec();
    with_pai.push((101, Admin("MSPBS"), "vacunacion_completa", "2026-09-01"));
    let r2 = registry(&with_pai, "si");
    let cls = Classifier::new(&c, &r2, d("2026-11-23"));
    let mut dec = Vec::new();
    cls.classify(
        &r2,
        Unit::Person(r2.person_by_id(101).unwrap()),
        Category::DespuesDelNacimiento,
        &mut dec,
    );
    assert!(cls.concurrent(&dec));
    assert_eq!(
        dec[1].because,
        Because::Rule {
            rule: 0,
            day: vamos_engine::data::day(d("2026-09-01"))
        }
    );
    // …and when the record (and the interview) are older than their validity, it does not count.
    let (conc, s) = status(&r2, &c, "2027-10-05", 101);
    assert!(!conc);
    assert_eq!(s[1].1, Status::SinDato, "PAI record and FIPS both expired");
    // A record dated after as_of does not count yet.
    let (conc, _) = status(&r2, &c, "2026-08-01", 101);
    assert!(!conc);
}

#[test]
fn logros_add_up_and_move_by_exactly_one() {
    let c = catalogue();
    let base = [
        (101, Admin("UTGS"), "orientacion", "2026-06-01"),
        (102, Admin("UTGS"), "orientacion", "2026-06-01"),
        (100, Admin("UTGS"), "orientacion", "2026-06-01"),
    ];
    let r = registry(&base, "si");
    let cls = Classifier::new(&c, &r, d("2026-11-23"));
    let districts = measure(&cls, &r);
    assert_eq!(districts.len(), 2);
    let nation = roll_up(&districts, TerritoryCode::Nation);
    let l3 = &nation[2];
    assert_eq!((l3.logro, l3.all.identified, l3.all.protected), (3, 3, 1));
    for d in &districts {
        for l in &d.logros {
            assert!(l.all.protected <= l.all.identified);
            assert!(l.all.protected + l.all.without_data <= l.all.identified);
        }
    }
    // Department 11 = Villeta; the nation = the sum of districts.
    let central = roll_up(&districts, TerritoryCode::parse("11").unwrap());
    let villeta = roll_up(&districts, TerritoryCode::parse("1116").unwrap());
    assert_eq!(central, villeta);
    for (i, n) in nation.iter().enumerate() {
        let sum: u64 = districts.iter().map(|x| x.logros[i].all.identified).sum();
        assert_eq!(n.all.identified, sum);
    }
    // Households: Villeta's has safe water and an oriented member → protected; Santa Rosa's not.
    assert_eq!((nation[8].all.identified, nation[8].all.protected), (2, 1));
    // Communities: Villeta's residents have ORIENTACIONES records → its community is oriented;
    // Santa Rosa's resident has none.
    assert_eq!(
        (
            nation[9].logro,
            nation[9].all.identified,
            nation[9].all.protected
        ),
        (10, 2, 1)
    );
    // Babies under one: 102 (born 2025-02-02) is not under one on 2026-11-23; nobody is.
    assert_eq!(nation[1].all.identified, 0);
    // One more PAI record for child 101 raises Logro 3 by exactly one.
    let mut more = base.to_vec();
    more.push((101, Admin("MSPBS"), "vacunacion_completa", "2026-09-01"));
    let r2 = registry(&more, "si");
    let nation2 = roll_up(
        &measure(&Classifier::new(&c, &r2, d("2026-11-23")), &r2),
        TerritoryCode::Nation,
    );
    assert_eq!(nation2[2].all.protected, l3.all.protected + 1);
    let vac = nation2[2]
        .services
        .iter()
        .find(|s| s.service == "vacunas")
        .unwrap();
    assert_eq!(
        (
            vac.applicable,
            vac.protected,
            vac.unprotected,
            vac.without_data
        ),
        (3, 2, 0, 1)
    );
}

#[test]
fn the_sql_rendering_keeps_the_evidence_order() {
    let c = catalogue();
    let sql = vamos_engine::sql::duckdb_query(&c, d("2026-11-23"));
    // Vaccination: the PAI record first, then the FIPS card, then sin dato.
    let pai = sql.find("a.service IN ('vacunacion_completa')").unwrap();
    let card = sql.find("(persona.carnet_vacunacion = 'si')").unwrap();
    assert!(pai < card, "admin evidence is tried before the FIPS");
    assert!(sql.contains("date_diff('day', a.event_date, DATE '2026-11-23') <= 365"));
    // Household evidence looks at any member's records, community evidence at any resident's.
    assert!(sql.contains("JOIN persons m ON m.id = a.person_id WHERE m.household_id = hogar.id"));
    assert!(
        sql.contains(
            "JOIN households hh ON hh.id = m.household_id WHERE hh.community_id = comunidad.id"
        ),
        "{sql}"
    );
    assert_eq!(sql.matches(" AS logro").count(), 10);
}

#[test]
fn persons_read_in_parts_classify_like_persons_read_in_one_go() {
    let c = catalogue();
    let events = [
        (101, Admin("MSPBS"), "vacunacion", "2026-06-01"),
        (100, Admin("UTGS"), "orientacion", "2026-06-01"),
        (101, Admin("UTGS"), "orientacion", "2026-07-01"),
    ];
    let whole = registry(&events, "no");
    let parts = registry_in_parts(&events, "no", true);
    assert_eq!(whole.person_id, parts.person_id);
    assert_eq!(whole.person_household, parts.person_household);
    assert_eq!(whole.household_members, parts.household_members);
    for id in [100, 101, 102, 200] {
        let (a, b) = (whole.person_by_id(id), parts.person_by_id(id));
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(
            status(&whole, &c, "2026-11-23", id),
            status(&parts, &c, "2026-11-23", id)
        );
    }
    assert_eq!(parts.events_of(parts.person_by_id(101).unwrap()).len(), 2);
    let cls = (
        Classifier::new(&c, &whole, d("2026-11-23")),
        Classifier::new(&c, &parts, d("2026-11-23")),
    );
    assert_eq!(measure(&cls.0, &whole), measure(&cls.1, &parts));
}

#[test]
fn events_added_after_loading_classify_like_events_loaded_with_the_registry() {
    // The Logros updater reads a territory once, then adds the counter-referrals received since.
    let c = catalogue();
    let first = [(100, Admin("UTGS"), "orientacion", "2026-06-01")];
    let later = [
        (101, Admin("MSPBS"), "vacunacion", "2026-06-01"),
        (101, Admin("UTGS"), "orientacion", "2026-05-01"),
        (999, Admin("MSPBS"), "vacunacion", "2026-06-01"),
    ];
    let all: Vec<_> = first.iter().chain(&later).copied().collect();
    let loaded = registry(&all, "no");
    let mut added = registry(&first, "no");
    let before = status(&added, &c, "2026-11-23", 101);
    added.add_events(later.iter().map(|(p, i, s, day)| (*p, *i, *s, d(day))));
    assert_ne!(
        before,
        status(&added, &c, "2026-11-23", 101),
        "the vaccine counts"
    );
    for id in [100, 101, 102, 200] {
        let (a, b) = (
            loaded.person_by_id(id).unwrap(),
            added.person_by_id(id).unwrap(),
        );
        let days = |r: &RegistryData, p| r.events_of(p).iter().map(|e| e.day).collect::<Vec<_>>();
        assert_eq!(days(&loaded, a), days(&added, b), "person {id}");
        assert_eq!(
            status(&loaded, &c, "2026-11-23", id),
            status(&added, &c, "2026-11-23", id)
        );
    }
    // The event of a person outside the data is an orphan, as when loading.
    assert_eq!(loaded.orphans, added.orphans);
    assert_eq!(loaded.orphans, 1);
    let cls = (
        Classifier::new(&c, &loaded, d("2026-11-23")),
        Classifier::new(&c, &added, d("2026-11-23")),
    );
    assert_eq!(measure(&cls.0, &loaded), measure(&cls.1, &added));
}

#[test]
fn persons_out_of_id_order_and_orphans_are_handled() {
    let mut r = RegistryData::new(&Vocab);
    let villeta = DistrictCode::try_from("1116").unwrap();
    let nc = vec![AnswerRef::Null; COMMUNITY_FIELDS.len()];
    r.community(&CommunityRow {
        id: 1,
        district: villeta,
        area: Some("urbana"),
        survey_date: None,
        answers: &nc,
    });
    let hh = vec![AnswerRef::Null; HOUSEHOLD_FIELDS.len()];
    for id in [30, 10] {
        r.household(&HouseholdRow {
            id,
            district: villeta,
            community_id: 1,
            area: None,
            interview_date: d("2026-10-01"),
            answers: &hh,
        });
    }
    let a = vec![AnswerRef::Null; PERSON_FIELDS.len()];
    // Descending ids; person 7 belongs to a household that was not loaded.
    for (id, h) in [(9, 10), (8, 30), (7, 99), (5, 10)] {
        r.person(&PersonRow {
            id,
            household_id: h,
            national_id: None,
            birth_date: d("1990-01-01"),
            sex: Sex::Hombre,
            relationship: "jefe",
            answers: &a,
        });
    }
    r.admin_event(&AdminEventRow {
        person_id: 7,
        source: Admin("MEC"),
        service: "matricula",
        event_date: d("2026-03-01"),
    });
    r.admin_event(&AdminEventRow {
        person_id: 5,
        source: Admin("MEC"),
        service: "matricula",
        event_date: d("2026-03-01"),
    });
    r.finish();
    assert_eq!(r.persons(), 3);
    assert_eq!(r.orphans, 2, "person 7 and its event");
    assert_eq!(r.person_by_id(7), None);
    let h10 = r.household_by_id(10).unwrap();
    assert_eq!(r.household_by_id(30), Some(0));
    assert_eq!(r.household_members[h10], 2);
    let p5 = r.person_by_id(5).unwrap();
    assert_eq!(r.person_id[p5], 5);
    assert_eq!(r.person_household[p5] as usize, h10);
    assert_eq!(r.events_of(p5).len(), 1);
    assert_eq!(r.person_id[r.person_by_id(8).unwrap()], 8);
}

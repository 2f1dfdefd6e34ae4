//! Orientations at the counter (issue 37, component III): an orientador who guided a person
//! records it, and the record is evidence for the person's ORIENTACIONES SPS service — sent the
//! way every service delivery is, as a counter-referral of the UTGS (the institution that
//! provides the service), so it answers the person's open referral, moves their status and the
//! Logros like any other counter-referral, and is idempotent per person and day.
//!
//! The orientador does not become an operator of the UTGS: [`sender`] derives, for this one
//! event, an actor of the UTGS limited to the orientador's territories (a person outside them
//! is refused like a missing one, by the counter-referral checks) and named after the
//! orientador in the audit trail.

use crate::{Actor, Error, Result};
use vamos_domain::{Permission, Role};
use vamos_ingest::counter_referrals::{EventInput, Located};

/// The institution that provides ORIENTACIONES SPS.
pub const INSTITUTION: &str = "UTGS";
/// The service code the UTGS reports an orientation under (`servicios` of the catalogue's
/// counter-referral evidence of every ORIENTACIONES SPS service).
pub const SERVICE: &str = "orientacion";

/// An orientation to record: the person and, optionally, where it was given.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Orientation {
    pub person_id: i64,
    /// The place (office, fair, visit) where the person was guided.
    pub place: Option<String>,
}

/// The actor that sends the orientation of `actor` (needs `orientaciones:registrar`) and the
/// one event it sends: the UTGS's counter-referral of `orientacion` for the person, delivered
/// `today`, with an event id per person and day (recording it twice the same day changes
/// nothing).
pub fn sender(
    actor: &Actor,
    o: &Orientation,
    today: chrono::NaiveDate,
) -> Result<(Actor, Vec<Located>)> {
    actor.require(Permission::OrientationsRecord)?;
    if o.person_id <= 0 {
        return Err(Error::bad_request(
            "indique el número de la persona orientada",
        ));
    }
    let place = o
        .place
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    if let Some(p) = &place {
        vamos_domain::limits::Limit::Place
            .check(p)
            .map_err(|_| Error::bad_request("el lugar admite hasta 200 caracteres"))?;
    }
    let utgs = Actor {
        name: format!("{} (orientación)", actor.account().unwrap_or(&actor.name)),
        role: Some(Role::Operador),
        institution: Some(INSTITUTION.into()),
        scope: actor.scope.clone(),
        request_id: actor.request_id.clone(),
        scopes: Some(vec![Permission::CounterReferralsWrite]),
        operator: false,
    };
    // One orientation per person, day and place: the same one sent twice is a duplicate,
    // another place the same day is another orientation (not a conflict).
    let event_id = match &place {
        None => format!("orientacion-{}-{today}", o.person_id),
        Some(p) => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(p.as_bytes());
            let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
            format!("orientacion-{}-{today}-{short}", o.person_id)
        }
    };
    let event = EventInput {
        event_id: Some(event_id),
        institution: Some(INSTITUTION.into()),
        person_id: Some(o.person_id.to_string()),
        cedula: None,
        service: Some(SERVICE.into()),
        delivered_on: Some(today.to_string()),
        place,
        place_district: None,
    };
    Ok((
        utgs,
        vec![Located {
            file: "orientación".into(),
            row: 1,
            event,
        }],
    ))
}

/// Records an orientation directly in the store (the command line; the server sends the same
/// event through its intake): the counter-referral checks, the insert and the audit record of
/// the submission, as for any counter-referral.
pub fn record(
    store: &mut dyn vamos_store::Store,
    actor: &Actor,
    catalogue: &vamos_catalogue::Catalogue,
    o: &Orientation,
) -> Result<crate::counter_referrals::IngestSummary> {
    let today = crate::clock::today();
    let (utgs, events) = sender(actor, o, today)?;
    let who = crate::counter_referrals::sender_for(&utgs, "orientacion", events.len())?;
    let at = crate::clock::now_rfc3339();
    let sum = crate::counter_referrals::ingest(store, catalogue, events, &who, today, &at)
        .map_err(Error::internal)?;
    let entry = utgs.audit_entry(
        "registrar orientación",
        "persona",
        &o.person_id.to_string(),
        "orientación en ventanilla",
        "",
    );
    crate::audit::write_audit(
        store,
        crate::counter_referrals::intake::complete_audit(entry, &sum),
    )?;
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vamos_domain::authz::Scope;

    fn orientador() -> Actor {
        Actor {
            name: "ori".into(),
            role: Some(Role::Orientador),
            institution: None,
            scope: Scope::from_stored("1116").unwrap(),
            request_id: None,
            scopes: None,
            operator: false,
        }
    }

    #[test]
    fn an_orientation_is_the_utgs_counter_referral_of_the_day_within_the_orientadors_scope() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let o = Orientation {
            person_id: 42,
            place: Some("Oficina de Villeta".into()),
        };
        let (utgs, events) = sender(&orientador(), &o, day).unwrap();
        assert_eq!(utgs.institution.as_deref(), Some("UTGS"));
        assert_eq!(utgs.scope, orientador().scope);
        assert!(utgs.can(Permission::CounterReferralsWrite));
        assert!(!utgs.can(Permission::ReferralsWork), "only this one event");
        let e = &events[0].event;
        // Per person, day and place.
        let id = e.event_id.as_deref().unwrap();
        assert!(id.starts_with("orientacion-42-2026-12-07-"), "{id}");
        let bare = Orientation {
            person_id: 42,
            place: None,
        };
        let (_, plain) = sender(&orientador(), &bare, day).unwrap();
        assert_eq!(
            plain[0].event.event_id.as_deref(),
            Some("orientacion-42-2026-12-07")
        );
        assert_eq!(e.service.as_deref(), Some("orientacion"));
        assert_eq!(e.person_id.as_deref(), Some("42"));
    }

    #[test]
    fn recording_an_orientation_needs_the_permission() {
        let mut mesa = orientador();
        mesa.role = Some(Role::Mesa);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let o = Orientation {
            person_id: 42,
            place: None,
        };
        assert!(sender(&mesa, &o, day).is_err());
        let long = Orientation {
            person_id: 42,
            place: Some("x".repeat(vamos_domain::limits::PLACE + 1)),
        };
        assert!(sender(&orientador(), &long, day).is_err());
    }
}

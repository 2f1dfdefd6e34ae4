//! Re-interviews (issue 36): a household already in the registry, read again, becomes a new
//! version of itself instead of a rejection.
//!
//! The FIPS importer decides *which* household a submission re-interviews (its `deprecatedID`,
//! or the cédulas of its members) and sends the parsed household, then its members, through
//! the writer channel. This module runs on the writer thread, inside the import's transaction:
//! it reads the current rows of a batch of targets, compares, and writes only what changed —
//! the household's own new version, each member's new version, new members, members who are
//! no longer there (`retirado`) — plus a `household_interviews` row for a re-interview that
//! changed nothing. What changed is written, field by field, to the changes file the analyst
//! reads (`--changes`).

use crate::IngestError;
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use vamos_domain::csv_safe::CsvWriter;
use vamos_domain::versions::{household_diff, person_diff, FieldChange, UnitStatus, VersionMeta};
use vamos_domain::{Community, Household, Person, Provenance};
use vamos_store::versions::VersionSet;
use vamos_store::{HouseholdInterview, ImportTx};

/// A re-interviewed household's members, once all its member rows were read.
pub(crate) struct Revisit {
    pub target: i64,
    pub key: String,
    pub interview: NaiveDate,
    pub provenance: Provenance,
    /// Accepted member rows, `household_id` already the target's; `id` is assigned here.
    pub members: Vec<Person>,
}

/// What the re-interviews of one import did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub households_updated: u64,
    pub households_unchanged: u64,
    pub persons_updated: u64,
    pub persons_added: u64,
    pub persons_left: u64,
    pub change_lines: u64,
}

/// The writer side of re-interviews.
pub(crate) struct Applier<'a> {
    next_person_id: &'a AtomicI64,
    /// Households whose own content changed in this import → their previous interview date.
    versioned: FxHashMap<i64, NaiveDate>,
    changes: Option<CsvWriter<BufWriter<File>>>,
    pub counts: Counts,
}

fn meta(version: i64, from: NaiveDate, recorded_at: &str, status: UnitStatus) -> VersionMeta {
    VersionMeta {
        version: version + 1,
        valid_from: Some(from),
        recorded_at: recorded_at.to_string(),
        status,
        merged_into: None,
        change_id: None,
    }
}

fn full_name(p: &Person) -> String {
    format!("{} {}", p.given_names, p.family_names)
}

impl<'a> Applier<'a> {
    pub fn new(next_person_id: &'a AtomicI64, changes: Option<&Path>) -> Result<Self, IngestError> {
        let changes = changes
            .map(|p| {
                crate::report::csv_file(
                    p,
                    "de cambios",
                    &["hogar", "persona", "campo", "antes", "después"],
                )
            })
            .transpose()?;
        Ok(Applier {
            next_person_id,
            versioned: FxHashMap::default(),
            changes,
            counts: Counts::default(),
        })
    }

    fn note(
        &mut self,
        household: i64,
        person: Option<i64>,
        lines: Vec<FieldChange>,
    ) -> Result<(), IngestError> {
        self.counts.change_lines += lines.len() as u64;
        if let Some(w) = &mut self.changes {
            let person = person.map(|p| p.to_string()).unwrap_or_default();
            for c in lines {
                w.write_record([
                    household.to_string().as_str(),
                    &person,
                    &c.label,
                    &c.before,
                    &c.after,
                ])
                .map_err(IngestError::csv)?;
            }
        }
        Ok(())
    }

    /// The re-interviewed households' own answers: a new version where they differ.
    pub fn households(
        &mut self,
        tx: &mut dyn ImportTx,
        rows: Vec<Household>,
    ) -> Result<(), IngestError> {
        let ids: Vec<i64> = rows.iter().map(|h| h.id).collect();
        let mut now: FxHashMap<i64, (Household, VersionMeta)> = tx
            .current_households(&ids)?
            .into_iter()
            .map(|(h, m)| (h.id, (h, m)))
            .collect();
        let recorded_at = tx.recorded_at().to_string();
        let mut set = VersionSet::default();
        for h in rows {
            let Some((old, m)) = now.remove(&h.id) else {
                return Err(IngestError::Internal(format!(
                    "el hogar {} desapareció durante la importación",
                    h.id
                )));
            };
            let diff = household_diff(&old, &h);
            if diff.is_empty() {
                continue;
            }
            self.note(h.id, None, diff)?;
            self.versioned.insert(h.id, old.interview_date);
            let from = h.interview_date;
            set.households
                .push((h, meta(m.version, from, &recorded_at, UnitStatus::Activo)));
        }
        tx.write_versions(&set)?;
        Ok(())
    }

    /// The re-interviewed households' members: matched to the persons on record by cédula,
    /// else by given names and birth date; new versions, new persons and persons who left.
    pub fn members(
        &mut self,
        tx: &mut dyn ImportTx,
        revisits: Vec<Revisit>,
    ) -> Result<(), IngestError> {
        let ids: Vec<i64> = revisits.iter().map(|r| r.target).collect();
        let mut homes: FxHashMap<i64, (Household, VersionMeta)> = tx
            .current_households(&ids)?
            .into_iter()
            .map(|(h, m)| (h.id, (h, m)))
            .collect();
        let mut members: FxHashMap<i64, Vec<(Person, VersionMeta)>> = FxHashMap::default();
        for (p, m) in tx.current_members(&ids)? {
            if m.status.is_active() {
                members.entry(p.household_id).or_default().push((p, m));
            }
        }
        let recorded_at = tx.recorded_at().to_string();
        let mut set = VersionSet::default();
        let mut interviews = Vec::new();
        for r in revisits {
            let Some((home, home_meta)) = homes.remove(&r.target) else {
                return Err(IngestError::Internal(format!(
                    "el hogar {} desapareció durante la importación",
                    r.target
                )));
            };
            let previous = self
                .versioned
                .get(&r.target)
                .copied()
                .unwrap_or(home.interview_date);
            let old = members.remove(&r.target).unwrap_or_default();
            let mut used = vec![false; old.len()];
            let mut changed = false;
            for mut p in r.members {
                let by_nid = p.national_id.and_then(|n| {
                    old.iter()
                        .enumerate()
                        .position(|(i, (o, _))| !taken(&used, i) && o.national_id == Some(n))
                });
                let by_name = || {
                    let key = Community::name_key(&p.given_names);
                    old.iter().enumerate().position(|(i, (o, _))| {
                        !taken(&used, i)
                            && (o.national_id.is_none() || p.national_id.is_none())
                            && o.birth_date == p.birth_date
                            && Community::name_key(&o.given_names) == key
                    })
                };
                match by_nid.or_else(by_name).and_then(|i| Some((i, old.get(i)?))) {
                    Some((i, (o, om))) => {
                        if let Some(u) = used.get_mut(i) {
                            *u = true;
                        }
                        p.id = o.id;
                        let diff = person_diff(o, &p);
                        if !diff.is_empty() {
                            changed = true;
                            self.note(r.target, Some(p.id), diff)?;
                            self.counts.persons_updated += 1;
                            set.persons.push((
                                p,
                                meta(om.version, r.interview, &recorded_at, UnitStatus::Activo),
                            ));
                        }
                    }
                    None => {
                        changed = true;
                        p.id = self.next_person_id.fetch_add(1, Ordering::Relaxed);
                        // A child born since the last interview is a member since birth;
                        // anyone else is known to be one from this interview on.
                        let from = if p.birth_date > previous {
                            p.birth_date
                        } else {
                            r.interview
                        };
                        self.note(
                            r.target,
                            Some(p.id),
                            vec![FieldChange::new(
                                "miembro",
                                "miembro",
                                String::new(),
                                format!("nuevo: {}", full_name(&p)),
                            )],
                        )?;
                        self.counts.persons_added += 1;
                        let mut m = meta(0, from, &recorded_at, UnitStatus::Activo);
                        m.version = 1;
                        set.new_persons.push((p, m));
                    }
                }
            }
            for (i, (o, om)) in old.into_iter().enumerate() {
                if taken(&used, i) {
                    continue;
                }
                changed = true;
                self.note(
                    r.target,
                    Some(o.id),
                    vec![FieldChange::new(
                        "status",
                        "estado",
                        UnitStatus::Activo.label().into(),
                        UnitStatus::Retirado.label().into(),
                    )],
                )?;
                self.counts.persons_left += 1;
                let m = meta(om.version, r.interview, &recorded_at, UnitStatus::Retirado);
                set.persons.push((o, m));
            }
            if self.versioned.contains_key(&r.target) {
                self.counts.households_updated += 1;
            } else if changed {
                // The household's answers are the same but its members changed: a new version
                // of the household too, read at this interview, so its history shows it.
                self.counts.households_updated += 1;
                let mut h = home;
                h.submission_key = r.key;
                h.interview_date = r.interview;
                h.provenance = r.provenance;
                set.households.push((
                    h,
                    meta(
                        home_meta.version,
                        r.interview,
                        &recorded_at,
                        UnitStatus::Activo,
                    ),
                ));
            } else {
                self.counts.households_unchanged += 1;
                interviews.push(HouseholdInterview {
                    submission_key: r.key,
                    household_id: r.target,
                    interview_date: r.interview,
                    outcome: "sin_cambios",
                });
            }
        }
        tx.write_versions(&set)?;
        tx.insert_interviews(&interviews)?;
        Ok(())
    }

    /// Flushes the changes file.
    pub fn finish(self) -> Result<Counts, IngestError> {
        if let Some(mut w) = self.changes {
            w.flush().map_err(IngestError::io)?;
        }
        Ok(self.counts)
    }
}

/// Whether old member `i` was already matched to a re-interviewed one.
fn taken(used: &[bool], i: usize) -> bool {
    used.get(i).copied().unwrap_or(true)
}

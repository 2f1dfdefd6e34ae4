//! Where every registered person lives, held in memory by the server: person → household →
//! community and district, and cédula → persons. Counter-referral checks look their persons
//! up here instead of in the database, where each lookup of a batch was a random read of the
//! persons and households tables (on SQLite through a page cache that every commit of another
//! connection empties: a fifth of the server's time under a stream of batches).
//!
//! Registry rows are never changed or deleted — imports only add persons and households — so
//! a person found here lives where the database says. A person added by a later import is
//! not here: it is looked up in the database. A cédula is answered from memory only while no
//! import has committed since the reading (a later import may add a second person with the
//! same cédula, which makes it ambiguous); otherwise from the database.

use super::{locate_persons, registry_state, Located, PersonPlace};
use crate::Result;
use rustc_hash::FxHashMap;

/// Rows read per query while loading (keyset pages, so no query holds millions of rows).
const PAGE: i64 = 200_000;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct PersonPlaces {
    /// The registry state ([`registry_state`]) the cédulas are complete for; `None` when an
    /// import committed during the reading.
    state: Option<i64>,
    /// Sorted.
    person_ids: Vec<i64>,
    /// Position in `household_ids` of each person's household.
    person_household: Vec<u32>,
    /// Sorted.
    household_ids: Vec<i64>,
    household_community: Vec<i64>,
    household_district: Vec<i64>,
    /// (cédula, position in `person_ids`), sorted.
    cedulas: Vec<(i64, u32)>,
}

impl PersonPlaces {
    /// Reads every person and household (ids, household, community, district, cédula).
    pub fn load(sql: &mut crate::sql::Db<'_>) -> Result<PersonPlaces> {
        let sql = sql.raw();
        let state = registry_state(&mut crate::sql::Db::new(sql))?;
        let mut out = PersonPlaces::default();
        let mut after = i64::MIN;
        loop {
            let rows = sql.query(
                "SELECT id, community_id, district_code FROM households WHERE id > $1 ORDER BY id LIMIT $2",
                &[after.into(), PAGE.into()],
            )?;
            for r in &rows {
                out.household_ids.push(r.int(0).unwrap_or_default());
                out.household_community.push(r.int(1).unwrap_or_default());
                out.household_district.push(r.int(2).unwrap_or_default());
            }
            match out.household_ids.last() {
                Some(&last) if rows.len() as i64 == PAGE => after = last,
                _ => break,
            }
        }
        let mut after = i64::MIN;
        // The household of the previous person: members are mostly consecutive.
        let mut last: Option<(i64, u32)> = None;
        loop {
            let rows = sql.query(
                "SELECT id, household_id, national_id FROM persons WHERE id > $1 ORDER BY id LIMIT $2",
                &[after.into(), PAGE.into()],
            )?;
            for r in &rows {
                let (id, household) = (r.int(0).unwrap_or_default(), r.int(1).unwrap_or_default());
                let position = match last {
                    Some((h, p)) if h == household => p,
                    _ => match out.household_ids.binary_search(&household) {
                        Ok(p) => p as u32,
                        // Committed by an import after the households were read.
                        Err(_) => continue,
                    },
                };
                last = Some((household, position));
                if let Some(c) = r.int(2) {
                    out.cedulas.push((c, out.person_ids.len() as u32));
                }
                out.person_ids.push(id);
                out.person_household.push(position);
            }
            match rows.last().and_then(|r| r.int(0)) {
                Some(id) if rows.len() as i64 == PAGE => after = id,
                _ => break,
            }
        }
        out.cedulas.sort_unstable();
        out.state = (registry_state(&mut crate::sql::Db::new(sql))? == state).then_some(state);
        Ok(out)
    }

    /// Persons held.
    pub fn persons(&self) -> usize {
        self.person_ids.len()
    }

    /// The registry state these places are complete for (`None`: an import committed while
    /// they were read).
    pub fn state(&self) -> Option<i64> {
        self.state
    }

    fn place(&self, position: usize) -> Option<PersonPlace> {
        let h = *self.person_household.get(position)? as usize;
        Some(PersonPlace {
            person_id: *self.person_ids.get(position)?,
            household_id: *self.household_ids.get(h)?,
            community_id: *self.household_community.get(h)?,
            district_code: *self.household_district.get(h)?,
        })
    }

    /// The person with this SIIS id, if held.
    pub fn person(&self, id: i64) -> Option<PersonPlace> {
        self.place(self.position(id)?)
    }

    /// Where `id` is in `person_ids`. Ids are mostly dense (an import numbers its persons
    /// consecutively), so the position is first guessed as the distance from the first id —
    /// one read instead of a binary search's two dozen scattered ones over millions of ids.
    fn position(&self, id: i64) -> Option<usize> {
        let first = *self.person_ids.first()?;
        let guess = usize::try_from(id.checked_sub(first)?).ok()?;
        if self.person_ids.get(guess) == Some(&id) {
            return Some(guess);
        }
        self.person_ids.binary_search(&id).ok()
    }

    /// Every person with this cédula held (complete only while the registry state is
    /// [`Self::state`]).
    pub fn with_cedula(&self, cedula: i64) -> Vec<PersonPlace> {
        let start = self.cedulas.partition_point(|(c, _)| *c < cedula);
        self.cedulas
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|(c, _)| *c == cedula)
            .filter_map(|(_, p)| self.place(*p as usize))
            .collect()
    }

    /// [`locate_persons`] answered from memory where it can (see the module documentation):
    /// the database is asked only for persons not held, and for cédulas when an import has
    /// committed since the reading.
    pub fn locate(
        &self,
        sql: &mut crate::sql::Db<'_>,
        ids: &[i64],
        cedulas: &[i64],
    ) -> Result<Located> {
        let sql = sql.raw();
        let mut by_id = FxHashMap::with_capacity_and_hasher(ids.len(), Default::default());
        let mut missing = Vec::new();
        for id in ids {
            match self.person(*id) {
                Some(p) => {
                    by_id.insert(*id, p);
                }
                None => missing.push(*id),
            }
        }
        let complete = !cedulas.is_empty()
            && self.state == Some(registry_state(&mut crate::sql::Db::new(sql))?);
        let mut by_cedula = FxHashMap::default();
        if complete {
            for c in cedulas {
                let found = self.with_cedula(*c);
                if !found.is_empty() {
                    by_cedula.insert(*c, found);
                }
            }
        }
        if !missing.is_empty() || (!cedulas.is_empty() && !complete) {
            let (found, from_db) = locate_persons(
                &mut crate::sql::Db::new(sql),
                &missing,
                if complete { &[] } else { cedulas },
            )?;
            by_id.extend(found);
            by_cedula.extend(from_db);
        }
        Ok((by_id, by_cedula))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_are_found_with_and_without_gaps_in_their_ids() {
        for ids in [
            vec![3, 4, 5, 6],
            vec![3, 4, 5, 9, 10, 20],
            vec![-2, 7, 8, 100],
        ] {
            let n = ids.len();
            let places = PersonPlaces {
                person_ids: ids.clone(),
                person_household: vec![0; n],
                household_ids: vec![40],
                household_community: vec![41],
                household_district: vec![1116],
                ..PersonPlaces::default()
            };
            for id in -5..120 {
                let found = places.person(id).map(|p| p.person_id);
                let expected = ids.contains(&id).then_some(id);
                assert_eq!(found, expected, "{ids:?}: {id}");
            }
        }
        assert_eq!(PersonPlaces::default().person(1), None);
    }
}

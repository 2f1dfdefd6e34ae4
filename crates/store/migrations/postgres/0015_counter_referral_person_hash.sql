-- 0015: counter-referrals are found by their person through a hash index (PostgreSQL). They are
-- only ever looked up by one person (`vamos explain`, a person's page: `person_id = $1`), and
-- the intake inserts them at national rates for random persons: each insert into the B-tree
-- descended its levels to a random leaf, the largest part of the B-tree inserts that took 56 % of
-- the time of the backend applying the intake log; a hash index goes to its bucket's page. Measured on the national bench (hand
-- harness, 60-s batch loads): ~75,600 events/s end to end with the B-tree, ~88,400 with the hash
-- index (BENCHMARKS.md, issue 5). Hash indexes are WAL-logged and crash-safe since PostgreSQL 10.
-- (SQLite keeps its B-tree: it has no other kind.)
DROP INDEX IF EXISTS counter_referrals_person;
CREATE INDEX counter_referrals_person ON counter_referrals USING hash (person_id);

-- 0014: counter-referrals name their person without a foreign key (PostgreSQL). The key's check
-- locks the referenced person's row (FOR KEY SHARE) for every counter-referral inserted: a write
-- to a random page of `persons` and a WAL record per event (the server's intake applied its log
-- at ~39,000 events/s with it, ~49,000 without; BENCHMARKS.md, issue 5). Persons are never
-- deleted; the events of the intake log name persons located in the registry when they were
-- acknowledged; every other store of counter-referrals (single events applied at once,
-- command-line imports) checks in its transaction that each person exists (`persons_exist`: one
-- read, no lock). The guarantee stays, the write per event goes. (SQLite keeps its key: its
-- check is a read, and the server's intake already applies its log with it switched off.)
ALTER TABLE counter_referrals DROP CONSTRAINT IF EXISTS counter_referrals_person_id_fkey;

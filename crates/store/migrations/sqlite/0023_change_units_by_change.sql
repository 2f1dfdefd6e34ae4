-- Issue 36: the units of a list of change requests are read by request (one query per page).
CREATE INDEX change_units_change ON change_units (change_id);

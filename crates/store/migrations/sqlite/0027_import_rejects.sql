-- 0027: the rejection report of each import, kept with it (issue 37): every rejected row with its
-- file, row, column, value and Spanish reason, so a past import's report can be downloaded from
-- the history long after the upload's temporary folder is gone. It holds personal data (the
-- rejected values): read only by those who load data, and every download is audited.
CREATE TABLE import_rejects (
    import_id INTEGER PRIMARY KEY REFERENCES imports(id),
    -- The CSV as written by the importer (UTF-8, every cell neutralised against formulas).
    report BLOB NOT NULL,
    -- 1: the report was longer than the store keeps, it holds its first rows only.
    truncated INTEGER NOT NULL
);

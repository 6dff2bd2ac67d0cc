-- +goose Up
-- audit entries say their kind in a column of their own. Entries
-- written before told it by a prefix of their note ("note: ...",
-- "district ...", "keep evidence: ..." on entries that kept the
-- status): parse it once here and drop the prefixes that only named
-- the kind, in one UPDATE so that every CASE reads the note as it was.
ALTER TABLE audit ADD COLUMN kind TEXT NOT NULL DEFAULT 'status';
UPDATE audit SET
	kind = CASE
		WHEN substr(note, 1, 6) = 'note: ' THEN 'note'
		WHEN substr(note, 1, 9) = 'district ' THEN 'reassign'
		ELSE 'keep' END,
	note = CASE
		WHEN substr(note, 1, 6) = 'note: ' THEN substr(note, 7)
		WHEN substr(note, 1, 9) = 'district ' THEN substr(note, 10)
		ELSE note END
	WHERE from_status <> '' AND from_status = to_status;

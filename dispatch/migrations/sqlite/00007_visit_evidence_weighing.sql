-- +goose Up
-- a visit's evidence files (JSON array) and manifest digest, for
-- the ticket of an unweighed unload; the weighing record it was
-- matched with ("source/record_id") and its over-limit flag.
ALTER TABLE visits ADD COLUMN evidence_files TEXT NOT NULL DEFAULT '[]';
ALTER TABLE visits ADD COLUMN manifest_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN weighing TEXT NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN over_limit_kg REAL NOT NULL DEFAULT 0;

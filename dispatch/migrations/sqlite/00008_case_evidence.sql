-- +goose Up
-- evidence made before its case (a weighing record's bay clip,
-- cut while the camera's history still held it), by the violation id
-- of the case it would support.
CREATE TABLE case_evidence (
	violation_id    TEXT PRIMARY KEY,
	prefix          TEXT NOT NULL,
	files           TEXT NOT NULL,
	manifest_sha256 TEXT NOT NULL
);

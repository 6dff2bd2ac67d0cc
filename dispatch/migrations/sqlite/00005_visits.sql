-- +goose Up
-- station visits (stations.Visit), one per visit id; times are
-- microseconds like everywhere here. visits_station serves a
-- reconciler's per-station time ranges.
CREATE TABLE visits (
	id              TEXT PRIMARY KEY,
	station         TEXT NOT NULL,
	camera          TEXT NOT NULL,
	arrival         INTEGER NOT NULL,
	stop            INTEGER NOT NULL,
	departure       INTEGER NOT NULL,
	vehicle_class   TEXT NOT NULL,
	score           REAL NOT NULL,
	evidence_prefix TEXT NOT NULL DEFAULT '',
	evidence_status TEXT NOT NULL,
	created_at      INTEGER NOT NULL
);
CREATE INDEX visits_station ON visits(station, arrival);

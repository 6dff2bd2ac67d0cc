-- +goose Up
-- garbage stations' weighing records (stations.Weighing), one per
-- (source, record_id); seq orders them by arrival for a reconciler
-- following new and late records, weighings_station serves its
-- per-station time ranges. Weights are kilograms, NULL when not given.
CREATE TABLE weighings (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	source      TEXT NOT NULL,
	record_id   TEXT NOT NULL,
	station     TEXT NOT NULL,
	at          INTEGER NOT NULL,
	net_kg      REAL NOT NULL,
	gross_kg    REAL,
	tare_kg     REAL,
	plate       TEXT NOT NULL,
	operator    TEXT NOT NULL,
	received_at INTEGER NOT NULL,
	UNIQUE (source, record_id)
);
CREATE INDEX weighings_station ON weighings(station, at);

-- +goose Up
-- tickets, audit log, outbox.
CREATE TABLE tickets (
	id                TEXT PRIMARY KEY,
	violation_id      TEXT NOT NULL UNIQUE,
	type              TEXT NOT NULL,
	camera_id         TEXT NOT NULL,
	camera_name       TEXT NOT NULL,
	zone              TEXT NOT NULL,
	lat               REAL NOT NULL,
	lon               REAL NOT NULL,
	address           TEXT NOT NULL,
	district          TEXT NOT NULL,
	team              TEXT NOT NULL,
	first_seen        INTEGER NOT NULL,
	confirmed_at      INTEGER NOT NULL,
	confidence        REAL NOT NULL,
	model_name        TEXT NOT NULL,
	model_version     TEXT NOT NULL,
	evidence_prefix   TEXT NOT NULL,
	evidence_files    TEXT NOT NULL,
	manifest_sha256   TEXT NOT NULL,
	status            TEXT NOT NULL,
	reject_reason     TEXT NOT NULL DEFAULT '',
	keep              INTEGER NOT NULL DEFAULT 0,
	delivery_attempts INTEGER NOT NULL DEFAULT 0,
	last_error        TEXT NOT NULL DEFAULT '',
	queued_at         INTEGER,
	dispatched_at     INTEGER,
	version           INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
);
CREATE INDEX tickets_status ON tickets(status, id);
CREATE INDEX tickets_camera ON tickets(camera_id, id);
CREATE INDEX tickets_confirmed_at ON tickets(confirmed_at);
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id   TEXT NOT NULL REFERENCES tickets(id),
	at          INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	from_status TEXT NOT NULL,
	to_status   TEXT NOT NULL,
	reason      TEXT NOT NULL,
	note        TEXT NOT NULL
);
CREATE INDEX audit_ticket ON audit(ticket_id, id);
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id       TEXT NOT NULL UNIQUE REFERENCES tickets(id),
	queued_at       INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox(next_attempt_at);

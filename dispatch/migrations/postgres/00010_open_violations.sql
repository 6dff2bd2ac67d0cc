-- +goose Up
-- Each camera's open violations (confirmed, object still in view), the
-- document confirm/rules keeps, here when the nodes of a cluster share
-- the database: the node a camera moves to knows what is already
-- reported. updated_at: microseconds since the epoch.
CREATE TABLE open_violations (
	camera     TEXT PRIMARY KEY,
	document   TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);

-- +goose Up
-- when each station camera was watching (Service.Watching): one row
-- a span of heartbeats without a gap, [started, until] in
-- microseconds. A camera with no span covering a time did not watch.
CREATE TABLE camera_watch (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	camera  TEXT NOT NULL,
	started INTEGER NOT NULL,
	until   INTEGER NOT NULL
);
CREATE INDEX camera_watch_camera ON camera_watch(camera, until);

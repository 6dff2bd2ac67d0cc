-- +goose Up
-- The review page's sign-in state, kept here so that every node on the
-- database shares it: a restart signs nobody out, a session made on one
-- node is good on all, and a password guesser has one budget, not one a
-- node. Times are microseconds since the epoch like everywhere else.
--
-- A session is keyed by the SHA-256 of its cookie token (hex): nothing
-- here rebuilds a cookie. fingerprint is the SHA-256 of the user's role
-- and password hash at sign-in: a node honours the session only while
-- its own accounts give the same (a changed password or role, or a
-- removed user, signs the user out everywhere).
CREATE TABLE auth_sessions (
	token_sha256 TEXT PRIMARY KEY,
	user_name    TEXT NOT NULL,
	role         TEXT NOT NULL,
	csrf         TEXT NOT NULL,
	fingerprint  TEXT NOT NULL,
	expires_at   INTEGER NOT NULL
);
CREATE INDEX auth_sessions_expires ON auth_sessions(expires_at);
CREATE INDEX auth_sessions_user ON auth_sessions(user_name, fingerprint);

-- The sign-in limiter's token buckets, one number each (the generic cell
-- rate algorithm): when the bucket is full again. A full bucket is no
-- row. key is the limit's name and a hash of what it limits.
CREATE TABLE auth_buckets (
	key     TEXT PRIMARY KEY,
	full_at INTEGER NOT NULL
);

-- When a user last signed in from an address (key: a hash of both).
CREATE TABLE auth_known_addresses (
	key TEXT PRIMARY KEY,
	at  INTEGER NOT NULL
);

-- +goose Up
-- Outbox leases: a sender claims a due row by moving its next_attempt_at
-- to the end of its lease and writing its own name here, so no other
-- sender (node) takes the row until the lease ends. '' : not claimed.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';

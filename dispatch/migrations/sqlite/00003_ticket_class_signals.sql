-- +goose Up
-- what the violation's object is and which signals confirmed it
-- (class model, left object). Tickets made before have neither: their
-- class is unknown ('') and their signals ('') were the model's.
ALTER TABLE tickets ADD COLUMN object_class TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN signals TEXT NOT NULL DEFAULT '';

-- A counter of BumpUntil may be forgotten after expires_ms (Unix
-- milliseconds); NULL keeps it for good, as every counter before.
ALTER TABLE sessionkit_generations ADD COLUMN expires_ms bigint;
CREATE INDEX sessionkit_generations_expires ON sessionkit_generations (expires_ms) WHERE expires_ms IS NOT NULL;

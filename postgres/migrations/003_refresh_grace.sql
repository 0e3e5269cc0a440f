-- gatehouse PostgreSQL schema, version 3: the refresh-token reuse grace
-- (--refresh-reuse-grace). A token that a rotation retired records when (rotated_at, Unix
-- nanoseconds) and, only until its family's next rotation, the rotation's sealed result
-- (sealed): AES-256-GCM under a key derived from the retired token's secret, which the server
-- never stores. No column holds a refresh or access token in clear.

ALTER TABLE refresh_tokens ADD COLUMN rotated_at BIGINT, ADD COLUMN sealed BYTEA;
-- At most one token per family has a sealed result; a rotation finds it here to clear it.
CREATE INDEX refresh_tokens_sealed ON refresh_tokens (family_id) WHERE sealed IS NOT NULL;

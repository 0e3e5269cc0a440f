-- gatehouse schema, version 1. Times are INTEGER Unix nanoseconds; secrets are stored only as
-- their SHA-256 hashes (BLOB, 32 bytes).

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL,
	username_norm TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL DEFAULT '',
	email         TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
	disabled      INTEGER NOT NULL DEFAULT 0,
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
	hash         BLOB PRIMARY KEY,
	handle       TEXT NOT NULL UNIQUE,
	user_id      TEXT NOT NULL,
	username     TEXT NOT NULL,
	name         TEXT NOT NULL,
	email        TEXT NOT NULL,
	role         TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	ip           TEXT NOT NULL,
	user_agent   TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE refresh_families (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_expires ON refresh_families (expires_at);

-- Every token a family ever had; exactly one per family has current = 1.
CREATE TABLE refresh_tokens (
	hash      BLOB PRIMARY KEY,
	family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
	current   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE revoked_tokens (
	jti        TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

CREATE TABLE user_not_before (
	user_id    TEXT PRIMARY KEY,
	not_before INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

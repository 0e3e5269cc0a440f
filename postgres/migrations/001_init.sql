-- gatehouse PostgreSQL schema, version 1. Times are BIGINT Unix nanoseconds (exact, unlike
-- timestamptz's microseconds); secrets are stored only as their SHA-256 hashes (BYTEA, 32
-- bytes). Ids compare bytewise (COLLATE "C"), so that paging by id is the same everywhere.

CREATE TABLE users (
	id            TEXT COLLATE "C" PRIMARY KEY,
	username      TEXT NOT NULL,
	username_norm TEXT COLLATE "C" NOT NULL UNIQUE,
	name          TEXT NOT NULL DEFAULT '',
	email         TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
	disabled      BOOLEAN NOT NULL DEFAULT false,
	password_hash TEXT NOT NULL,
	created_at    BIGINT NOT NULL
);

CREATE TABLE refresh_families (
	id         TEXT COLLATE "C" PRIMARY KEY,
	user_id    TEXT COLLATE "C" NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_expires ON refresh_families (expires_at);

-- Every token a family ever had; exactly one per family is current.
CREATE TABLE refresh_tokens (
	hash      BYTEA PRIMARY KEY CHECK (length(hash) = 32),
	family_id TEXT COLLATE "C" NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
	current   BOOLEAN NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE revoked_tokens (
	jti        TEXT COLLATE "C" PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

CREATE TABLE user_not_before (
	user_id    TEXT COLLATE "C" PRIMARY KEY,
	not_before BIGINT NOT NULL
);

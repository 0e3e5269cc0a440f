-- A database at schema version 4 as an earlier gatehouse created it (sqlite3 .dump of a fresh
-- database). TestOpensDatabaseOfEarlierRelease checks that Open takes it as it is.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
INSERT INTO schema_migrations VALUES(1,1796230492224687744);
INSERT INTO schema_migrations VALUES(2,1796230492225601969);
INSERT INTO schema_migrations VALUES(3,1796230492226662682);
INSERT INTO schema_migrations VALUES(4,1796230492230609060);
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
CREATE TABLE refresh_families (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE TABLE refresh_tokens (
	hash      BLOB PRIMARY KEY,
	family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
	current   INTEGER NOT NULL
, rotated_at INTEGER, sealed BLOB) STRICT, WITHOUT ROWID;
CREATE TABLE revoked_tokens (
	jti        TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE user_not_before (
	user_id    TEXT PRIMARY KEY,
	not_before INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE audit_events (
	id         TEXT PRIMARY KEY,
	time       INTEGER NOT NULL,
	action     TEXT NOT NULL,
	outcome    TEXT NOT NULL,
	user_id    TEXT NOT NULL DEFAULT '',
	actor_id   TEXT NOT NULL DEFAULT '',
	ip         TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_expires ON refresh_families (expires_at);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX refresh_tokens_sealed ON refresh_tokens (family_id) WHERE sealed IS NOT NULL;
COMMIT;

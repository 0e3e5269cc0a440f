-- gatehouse SQLite schema, version 11: sessions in less space. A session row is keyed by the
-- first 8 bytes of its hash read as a big-endian signed integer (the table's rowid, so that the
-- secondary indexes carry 8 bytes instead of the 32-byte hash) and keeps the other 24 bytes in
-- hash_rest, which a look-up compares: a session is still found only by its whole SHA-256. The
-- handle is NULL when it is gatehouse.SessionHandle of the hash (every session the server makes),
-- and the user's username, name, e-mail, role and groups are NULL when they were the user's row
-- in users at sign-in (read from there by a join). The index on (user_id, created_at) becomes
-- one on user_id (a user's sessions are sorted after reading them), and the expiry index
-- carries the 8-byte key. Sessions stored before keep their handle and are converted with every
-- field they had; their principal is dropped only where it equals the user's row. Of two
-- sessions whose hashes share their first 8 bytes (about one chance in 2^25 among a million
-- sessions; a new session then gets a conflict instead) the second is dropped, so that the
-- upgrade cannot fail on it: its user signs in again.

CREATE TABLE sessions_compact (
	id           INTEGER PRIMARY KEY,
	hash_rest    BLOB NOT NULL,
	user_id      TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	ip           TEXT NOT NULL,
	user_agent   TEXT NOT NULL,
	amr          INTEGER NOT NULL,
	handle       TEXT,
	username     TEXT,
	name         TEXT,
	email        TEXT,
	role         TEXT,
	groups       TEXT
) STRICT;

INSERT OR IGNORE INTO sessions_compact (id, hash_rest, user_id, created_at, last_seen_at, expires_at, ip,
		user_agent, amr, handle, username, name, email, role, groups)
	SELECT
		((instr('0123456789ABCDEF', substr(hex(s.hash), 1, 1)) - 1) << 60) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 2, 1)) - 1) << 56) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 3, 1)) - 1) << 52) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 4, 1)) - 1) << 48) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 5, 1)) - 1) << 44) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 6, 1)) - 1) << 40) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 7, 1)) - 1) << 36) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 8, 1)) - 1) << 32) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 9, 1)) - 1) << 28) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 10, 1)) - 1) << 24) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 11, 1)) - 1) << 20) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 12, 1)) - 1) << 16) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 13, 1)) - 1) << 12) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 14, 1)) - 1) << 8) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 15, 1)) - 1) << 4) |
		((instr('0123456789ABCDEF', substr(hex(s.hash), 16, 1)) - 1) << 0),
		substr(s.hash, 9), s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, s.amr, s.handle,
		iif(s.same, NULL, s.username), iif(s.same, NULL, s.name), iif(s.same, NULL, s.email),
		iif(s.same, NULL, s.role), iif(s.same, NULL, s.groups)
	FROM (SELECT o.*, EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND u.username = o.username
			AND u.name = o.name AND u.email = o.email AND u.role = o.role AND u.group_list = o.groups) AS same
		FROM sessions o WHERE length(o.hash) = 32) s;

DROP TABLE sessions;
ALTER TABLE sessions_compact RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE UNIQUE INDEX sessions_handle ON sessions (handle) WHERE handle IS NOT NULL;

-- gatehouse PostgreSQL schema, version 2: the audit trail (the columns of SQLite's
-- 002_audit.sql). Times are BIGINT Unix nanoseconds; ids compare bytewise (COLLATE "C"), so
-- that paging by id is the same as in SQLite. No column ever holds a secret (password, token,
-- refresh token or cookie value).

CREATE TABLE audit_events (
	id         TEXT COLLATE "C" PRIMARY KEY,
	time       BIGINT NOT NULL,
	action     TEXT NOT NULL,
	outcome    TEXT NOT NULL,
	user_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
	actor_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	ip         TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_time ON audit_events (time);

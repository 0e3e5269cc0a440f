-- gatehouse schema, version 2: the audit trail. Times are INTEGER Unix nanoseconds. No column
-- ever holds a secret (password, token, refresh token, cookie value).

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
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_time ON audit_events (time);

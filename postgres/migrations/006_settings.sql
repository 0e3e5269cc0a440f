-- gatehouse PostgreSQL schema, version 6: settings that every instance sharing the database
-- must agree on, one row each. "issuer" is the "iss" of the access tokens, recorded by the
-- first instance that starts.

CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

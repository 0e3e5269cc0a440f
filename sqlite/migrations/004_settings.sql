-- gatehouse SQLite schema, version 4: settings that every instance sharing the database must
-- agree on, one row each. "issuer" is the "iss" of the access tokens, recorded at first start.

CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

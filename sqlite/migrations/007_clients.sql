-- gatehouse SQLite schema, version 7: the applications registered to sign users in through the
-- OpenID Provider. A confidential client's secret is kept only as its SHA-256 hash (the secret
-- is 256 random bits); a public client has none (secret_hash is NULL). Redirect URIs and scopes
-- are JSON arrays of strings. Version 6 is left to the account profiles.

CREATE TABLE clients (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	public        INTEGER NOT NULL,
	first_party   INTEGER NOT NULL,
	redirect_uris TEXT NOT NULL,
	scopes        TEXT NOT NULL,
	secret_hash   BLOB,
	created_at    INTEGER NOT NULL
) STRICT;

-- gatehouse PostgreSQL schema, version 9: the applications registered to sign users in through
-- the OpenID Provider. A confidential client's secret is kept only as its SHA-256 hash (the
-- secret is 256 random bits); a public client has none (secret_hash is NULL). Version 8 is left
-- to the account profiles.

CREATE TABLE clients (
	id            TEXT COLLATE "C" PRIMARY KEY,
	name          TEXT NOT NULL,
	public        BOOLEAN NOT NULL,
	first_party   BOOLEAN NOT NULL,
	redirect_uris TEXT[] NOT NULL,
	scopes        TEXT[] NOT NULL,
	secret_hash   BYTEA CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
	created_at    BIGINT NOT NULL
);

-- gatehouse PostgreSQL schema, version 12: what the OpenID Provider needs beyond version 9. The
-- users' grants (consent) to clients, with the scopes granted; a client's post-logout redirect
-- URIs, back-channel logout URI and ID token algorithm (empty: the server's default). Versions
-- 10 and 11 are left to other parts.

CREATE TABLE grants (
	user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	client_id  TEXT COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scopes     TEXT[] NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (user_id, client_id)
);

ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';

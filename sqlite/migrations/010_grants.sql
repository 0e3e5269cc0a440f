-- gatehouse SQLite schema, version 10: what the OpenID Provider needs beyond version 7. The
-- users' grants (consent) to clients, with the scopes granted as a JSON array of strings; a
-- client's post-logout redirect URIs (JSON array), back-channel logout URI and ID token
-- algorithm (empty: the server's default). Versions 8 and 9 are left to other parts.

CREATE TABLE grants (
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scopes     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, client_id)
) STRICT;

ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';

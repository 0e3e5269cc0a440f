-- gatehouse SQLite schema, version 6: editable profiles, groups, and single-use e-mail links.
--
-- email_norm is the lower-case address (gatehouse.NormalizeEmail), unique among users that
-- have one. Addresses stored before it were not unique: where two accounts share one, the
-- oldest (smallest id) keeps it for look-ups; the others keep their address but are found by
-- it only once it is saved again. group_list is the sorted group names joined by commas.

ALTER TABLE users ADD COLUMN email_norm TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN group_list TEXT NOT NULL DEFAULT '';
UPDATE users SET email_norm = lower(email)
	WHERE email <> '' AND id = (SELECT min(u.id) FROM users u WHERE lower(u.email) = lower(users.email));
CREATE UNIQUE INDEX users_email_norm ON users (email_norm) WHERE email_norm <> '';

-- Single-use links sent by mail (address verification, password reset): only the SHA-256 of
-- the secret is stored. email is the address the link was sent to.
CREATE TABLE email_links (
	hash       BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL,
	purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
	email      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX email_links_user ON email_links (user_id, purpose);
CREATE INDEX email_links_expires ON email_links (expires_at);

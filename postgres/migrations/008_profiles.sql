-- gatehouse PostgreSQL schema, version 8: editable profiles, groups, and single-use e-mail
-- links.
--
-- email_norm is the lower-case address (gatehouse.NormalizeEmail), unique among users that
-- have one. Addresses stored before it were not unique: where two accounts share one, the
-- oldest (smallest id) keeps it for look-ups; the others keep their address but are found by
-- it only once it is saved again. group_list is the sorted group names joined by commas.

ALTER TABLE users ADD COLUMN email_norm TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN group_list TEXT NOT NULL DEFAULT '';
UPDATE users SET email_norm = lower(email)
	WHERE email <> '' AND id = (SELECT min(u.id) FROM users u WHERE lower(u.email) = lower(users.email));
CREATE UNIQUE INDEX users_email_norm ON users (email_norm) WHERE email_norm <> '';

-- Single-use links sent by mail (address verification, password reset): only the SHA-256 of
-- the secret is stored. email is the address the link was sent to.
CREATE TABLE email_links (
	hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
	user_id    TEXT COLLATE "C" NOT NULL,
	purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
	email      TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX email_links_user ON email_links (user_id, purpose);
CREATE INDEX email_links_expires ON email_links (expires_at);

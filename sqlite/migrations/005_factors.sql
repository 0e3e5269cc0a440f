-- gatehouse SQLite schema, version 5: second factors and the challenges of two-step sign-ins.
-- A TOTP secret is stored sealed (AES-256-GCM under the server's factor key, by the mfa package);
-- recovery codes only as SHA-256 hashes; WebAuthn credentials hold public keys only. A user's
-- factors go with the user (ON DELETE CASCADE).

CREATE TABLE totp_factors (
	user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	id           TEXT NOT NULL,
	sealed       BLOB NOT NULL,
	confirmed    INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	confirmed_at INTEGER NOT NULL DEFAULT 0,
	last_step    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE recovery_codes (
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash    BLOB NOT NULL,
	PRIMARY KEY (user_id, hash)
) STRICT, WITHOUT ROWID;

CREATE TABLE webauthn_credentials (
	id               BLOB PRIMARY KEY,
	user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name             TEXT NOT NULL,
	public_key       BLOB NOT NULL,
	attestation_type TEXT NOT NULL,
	transports       TEXT NOT NULL, -- comma-separated
	aaguid           BLOB NOT NULL,
	sign_count       INTEGER NOT NULL,
	discoverable     INTEGER NOT NULL,
	user_verified    INTEGER NOT NULL,
	backup_eligible  INTEGER NOT NULL,
	backup_state     INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	last_used_at     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id, created_at);

CREATE TABLE challenges (
	hash       BLOB PRIMARY KEY,
	purpose    TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	mode       TEXT NOT NULL,
	amr        TEXT NOT NULL, -- comma-separated
	data       BLOB,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX challenges_expires ON challenges (expires_at);

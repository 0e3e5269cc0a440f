-- gatehouse PostgreSQL schema, version 7: second factors and the challenges of two-step
-- sign-ins. A TOTP secret is stored sealed (AES-256-GCM under the server's factor key, by the
-- mfa package); recovery codes only as SHA-256 hashes; WebAuthn credentials hold public keys
-- only. A user's factors go with the user (ON DELETE CASCADE).

CREATE TABLE totp_factors (
	user_id      TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	id           TEXT COLLATE "C" NOT NULL,
	sealed       BYTEA NOT NULL,
	confirmed    BOOLEAN NOT NULL DEFAULT false,
	created_at   BIGINT NOT NULL,
	confirmed_at BIGINT NOT NULL DEFAULT 0,
	last_step    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE recovery_codes (
	user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash    BYTEA NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (user_id, hash)
);

CREATE TABLE webauthn_credentials (
	id               BYTEA PRIMARY KEY,
	user_id          TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name             TEXT NOT NULL,
	public_key       BYTEA NOT NULL,
	attestation_type TEXT NOT NULL,
	transports       TEXT[] NOT NULL,
	aaguid           BYTEA NOT NULL,
	sign_count       BIGINT NOT NULL,
	discoverable     BOOLEAN NOT NULL,
	user_verified    BOOLEAN NOT NULL,
	backup_eligible  BOOLEAN NOT NULL,
	backup_state     BOOLEAN NOT NULL,
	created_at       BIGINT NOT NULL,
	last_used_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id, created_at);

CREATE TABLE challenges (
	hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
	purpose    TEXT NOT NULL,
	user_id    TEXT COLLATE "C" NOT NULL,
	mode       TEXT NOT NULL,
	amr        TEXT[] NOT NULL,
	data       BYTEA,
	expires_at BIGINT NOT NULL
);
CREATE INDEX challenges_expires ON challenges (expires_at);

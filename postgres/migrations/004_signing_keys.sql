-- gatehouse PostgreSQL schema, version 4: the signing keys, for instances that keep them in
-- the database (--key-store postgres) instead of a shared key file. One row holds the whole
-- key document, sealed by the server (AES-256-GCM under the key-encryption key, which never
-- reaches the database): a dump of this table holds no usable key.

CREATE TABLE signing_keys (
	id         SMALLINT PRIMARY KEY CHECK (id = 1),
	sealed     BYTEA NOT NULL,
	updated_at BIGINT NOT NULL
);

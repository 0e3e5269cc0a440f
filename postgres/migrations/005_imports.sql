-- gatehouse PostgreSQL schema, version 5: copies of other deployments into this database
-- (gatehouse migrate). A copy that was begun and not finished is resumed when it is run again
-- from the same source; the source is an identifier of the copied database, never a path or a
-- secret.

CREATE TABLE imports (
	source      TEXT COLLATE "C" PRIMARY KEY,
	started_at  BIGINT NOT NULL,
	finished_at BIGINT,
	summary     TEXT NOT NULL DEFAULT ''
);

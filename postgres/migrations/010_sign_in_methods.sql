-- gatehouse PostgreSQL schema, version 10: a refresh-token family keeps how the user signed in,
-- a bit set of methods (gatehouse.AuthMethods; 0 for a family started before it was recorded),
-- so that every access token of the family carries it. (Sessions are not kept in PostgreSQL.)

ALTER TABLE refresh_families ADD COLUMN amr SMALLINT NOT NULL DEFAULT 0;

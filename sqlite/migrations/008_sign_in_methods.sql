-- gatehouse SQLite schema, version 8: a session keeps the user's groups at sign-in (a comma-
-- separated normalised list, '' for none) and, with every refresh-token family, how the user
-- signed in: a bit set of methods (gatehouse.AuthMethods; 0 for a credential made before it
-- was recorded).

ALTER TABLE sessions ADD COLUMN groups TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN amr INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_families ADD COLUMN amr INTEGER NOT NULL DEFAULT 0;

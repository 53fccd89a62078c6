-- Risk: high
-- ========== UP ==========
SET LOCAL lock_timeout = '30s';
-- pgkit:allow volatile-default the table holds ten rows
ALTER TABLE ONLY app."Users" ADD COLUMN IF NOT EXISTS token uuid DEFAULT gen_random_uuid() NOT NULL,
  ALTER COLUMN email SET NOT NULL, ADD CONSTRAINT c CHECK (email IS NOT NULL) NOT VALID,
  ALTER name TYPE varchar(50) USING name::varchar, ADD PRIMARY KEY USING INDEX users_pk,
  DROP COLUMN fax, RENAME COLUMN a TO b;
ALTER TABLE users VALIDATE CONSTRAINT c;
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ON users (email);
REINDEX (VERBOSE) TABLE CONCURRENTLY users;
DROP INDEX IF EXISTS users_email;
ALTER TYPE mood ADD VALUE 'calm' BEFORE 'sad';
UPDATE users SET m = 'calm' WHERE id IN (SELECT id FROM users LIMIT 10);
DELETE FROM ONLY users;
-- pgkit:allow
DROP TABLE IF EXISTS old, older;
-- ========== DOWN ==========
ALTER TABLE users RENAME TO people;

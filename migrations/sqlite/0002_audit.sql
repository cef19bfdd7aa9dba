-- sunwai records store: the audit log (SQLite). Same conventions as 0001_init.sql.
--
-- Who looked at or changed which complaint records, who exported them, who signed in (or
-- failed to), who listened in on a call. Append-only: the server never updates or deletes
-- a row, and the triggers below refuse it to anyone else who opens the database with the
-- server's schema. (PostgreSQL: REVOKE UPDATE, DELETE on the table from the server's role,
-- or an equivalent trigger.)
CREATE TABLE audit_log (
    -- Insertion order, to break ties between rows with the same time.
    -- (PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY.)
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    -- Who: a signed-in user, the command line (with the operating-system user if known),
    -- a citizen, the server itself, or nobody known (a failed sign-in with an unknown name).
    actor_kind TEXT    NOT NULL CHECK (actor_kind IN ('user', 'cli', 'citizen', 'system', 'anonymous')),
    actor_id   TEXT,                           -- user id when actor_kind = 'user'
    actor_name TEXT,                           -- username, or the OS user for 'cli'
    action     TEXT    NOT NULL,               -- e.g. record_view, sign_in_failed
    -- The record concerned, if one. No foreign key: the log outlives anything it names.
    record_id  TEXT,
    reference  TEXT,
    -- The client's address as the server saw it (after trusted proxies), if known.
    address    TEXT,
    -- What exactly: a JSON object (the filter and count of a list, a status change, ...).
    detail     TEXT    NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor_name ON audit_log (actor_name, at);
CREATE INDEX audit_log_reference ON audit_log (reference, at);
CREATE INDEX audit_log_record ON audit_log (record_id, at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

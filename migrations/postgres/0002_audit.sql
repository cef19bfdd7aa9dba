-- sunwai records store: the audit log (PostgreSQL). Mirrors migrations/sqlite/0002_audit.sql;
-- the comments there explain the columns.
--
-- Append-only: the server never updates or deletes a row, and the trigger below refuses
-- UPDATE, DELETE and TRUNCATE to anyone else who connects as a role that cannot alter the
-- table. (The table's owner could drop the trigger: see docs/deployment.md for keeping the
-- server's role and the owner apart where that matters.)
CREATE TABLE audit_log (
    seq        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT  NOT NULL,
    actor_kind TEXT    NOT NULL CHECK (actor_kind IN ('user', 'cli', 'citizen', 'system', 'anonymous')),
    actor_id   TEXT,
    actor_name TEXT,
    action     TEXT    NOT NULL,
    record_id  TEXT,
    reference  TEXT,
    address    TEXT,
    detail     TEXT    NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor_name ON audit_log (actor_name, at);
CREATE INDEX audit_log_reference ON audit_log (reference, at);
CREATE INDEX audit_log_record ON audit_log (record_id, at);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

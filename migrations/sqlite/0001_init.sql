-- sunwai records store, initial schema (SQLite).
--
-- Conventions, kept so that the PostgreSQL schema can mirror this one column for column:
--   * times are INTEGER unix milliseconds, UTC (BIGINT in PostgreSQL);
--   * ids are TEXT: lowercase hyphenated UUIDs;
--   * enums are TEXT in snake_case, checked here, parsed by the store;
--   * hashes are BLOB of 32 bytes (BYTEA in PostgreSQL);
--   * booleans are INTEGER 0/1 (BOOLEAN in PostgreSQL).

-- One row per citizen case: a video hearing or a written complaint. The id is the queue
-- entry's id, so a waiting-room entry and its record can never drift apart.
CREATE TABLE complaints (
    id               TEXT    PRIMARY KEY,
    reference        TEXT    NOT NULL UNIQUE,  -- e.g. PRY-2026-000123
    desk             TEXT    NOT NULL,
    channel          TEXT    NOT NULL CHECK (channel IN ('video', 'written')),
    -- The citizen's intake, as validated at the edge.
    name             TEXT    NOT NULL,
    mobile           TEXT    NOT NULL,         -- E.164
    area             TEXT    NOT NULL,
    category         TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    language         TEXT    NOT NULL,         -- 'hi' | 'en'
    -- SHA-256 of the citizen's waiting-room ticket; never the ticket itself.
    ticket_hash      BLOB,
    created_at       INTEGER NOT NULL,
    -- Queue and call lifecycle.
    offered_at       INTEGER,                  -- first offer to an officer
    answered_at      INTEGER,                  -- first answer
    ended_at         INTEGER,
    wait_secs        INTEGER,                  -- answered_at - created_at
    talk_secs        INTEGER,                  -- ended_at - answered_at
    -- No foreign key to users: the record keeps the officer's name as it was, whatever
    -- later happens to the account.
    officer_id       TEXT,
    officer_name     TEXT,
    disposition      TEXT    NOT NULL CHECK (disposition IN
                         ('waiting', 'in_call', 'completed', 'abandoned', 'carried_over', 'written')),
    -- The officer's outcome; all NULL until one is saved.
    outcome_category TEXT,
    outcome_station  TEXT,
    outcome_action   TEXT,
    outcome_notes    TEXT,
    status           TEXT    NOT NULL CHECK (status IN
                         ('received', 'forwarded', 'under_investigation', 'resolved')),
    updated_at       INTEGER NOT NULL          -- last change of any kind
);

CREATE INDEX complaints_desk_created ON complaints (desk, created_at);
CREATE INDEX complaints_created ON complaints (created_at);
CREATE INDEX complaints_status ON complaints (status);
CREATE INDEX complaints_mobile ON complaints (mobile);
CREATE INDEX complaints_desk_disposition ON complaints (desk, disposition);
CREATE UNIQUE INDEX complaints_ticket ON complaints (ticket_hash) WHERE ticket_hash IS NOT NULL;

-- Append-only audit trail of a complaint. Rows are never updated or deleted.
CREATE TABLE complaint_history (
    -- Insertion order, to break ties between rows with the same time.
    -- (PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY.)
    seq          INTEGER PRIMARY KEY,
    complaint_id TEXT    NOT NULL REFERENCES complaints (id),
    at           INTEGER NOT NULL,
    actor_kind   TEXT    NOT NULL CHECK (actor_kind IN ('citizen', 'user', 'system')),
    actor_id     TEXT,                         -- user id when actor_kind = 'user'
    actor_name   TEXT,                         -- user's display name at the time
    kind         TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    status       TEXT                          -- status after this row, if it set one
);

CREATE INDEX complaint_history_complaint ON complaint_history (complaint_id, at);

-- Last reference sequence number handed out per (prefix, year).
CREATE TABLE reference_counters (
    prefix   TEXT    NOT NULL,
    year     INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (prefix, year)
);

-- Staff accounts. Never deleted (records name their officers); disabled instead.
CREATE TABLE users (
    id           TEXT    PRIMARY KEY,
    username     TEXT    NOT NULL UNIQUE,      -- lowercase
    display_name TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('officer', 'supervisor')),
    desk         TEXT,                         -- NULL: all desks
    password_phc TEXT    NOT NULL,             -- argon2id PHC string
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);

-- Login sessions. Only the SHA-256 of the token is stored, so a copy of the database does
-- not let anyone log in.
CREATE TABLE sessions (
    token_hash BLOB    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

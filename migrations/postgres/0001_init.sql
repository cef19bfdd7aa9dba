-- sunwai records store, initial schema (PostgreSQL).
--
-- Mirrors migrations/sqlite/0001_init.sql column for column, so that the store runs the
-- same SQL on both; the comments there explain the columns. The same conventions, in
-- PostgreSQL's types:
--   * times are BIGINT unix milliseconds, UTC;
--   * ids are TEXT: lowercase hyphenated UUIDs;
--   * enums are TEXT in snake_case, checked here, parsed by the store;
--   * hashes are BYTEA of 32 bytes;
--   * booleans are BOOLEAN.
-- Text that is sorted or matched case-blind (ids, references, names, mobiles, usernames)
-- uses the "C" collation: byte order, and LOWER() folds ASCII only, as in SQLite, whatever
-- locale the database was created with. Orders and searches then agree on both backends.

CREATE TABLE complaints (
    id               TEXT COLLATE "C" PRIMARY KEY,
    reference        TEXT COLLATE "C" NOT NULL UNIQUE,
    desk             TEXT    NOT NULL,
    channel          TEXT    NOT NULL CHECK (channel IN ('video', 'written')),
    name             TEXT COLLATE "C" NOT NULL,
    mobile           TEXT COLLATE "C" NOT NULL,
    area             TEXT    NOT NULL,
    category         TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    language         TEXT    NOT NULL,
    ticket_hash      BYTEA,
    created_at       BIGINT  NOT NULL,
    offered_at       BIGINT,
    answered_at      BIGINT,
    ended_at         BIGINT,
    wait_secs        BIGINT,
    talk_secs        BIGINT,
    officer_id       TEXT,
    officer_name     TEXT,
    disposition      TEXT    NOT NULL CHECK (disposition IN
                         ('waiting', 'in_call', 'completed', 'abandoned', 'carried_over', 'written')),
    outcome_category TEXT,
    outcome_station  TEXT,
    outcome_action   TEXT,
    outcome_notes    TEXT,
    status           TEXT    NOT NULL CHECK (status IN
                         ('received', 'forwarded', 'under_investigation', 'resolved')),
    updated_at       BIGINT  NOT NULL
);

CREATE INDEX complaints_desk_created ON complaints (desk, created_at);
CREATE INDEX complaints_created ON complaints (created_at);
CREATE INDEX complaints_status ON complaints (status);
CREATE INDEX complaints_mobile ON complaints (mobile);
CREATE INDEX complaints_desk_disposition ON complaints (desk, disposition);
CREATE UNIQUE INDEX complaints_ticket ON complaints (ticket_hash) WHERE ticket_hash IS NOT NULL;

-- Append-only history of a complaint. Rows are never updated or deleted.
CREATE TABLE complaint_history (
    seq          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    complaint_id TEXT COLLATE "C" NOT NULL REFERENCES complaints (id),
    at           BIGINT  NOT NULL,
    actor_kind   TEXT    NOT NULL CHECK (actor_kind IN ('citizen', 'user', 'system')),
    actor_id     TEXT,
    actor_name   TEXT,
    kind         TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    status       TEXT
);

CREATE INDEX complaint_history_complaint ON complaint_history (complaint_id, at);

-- Last reference sequence number handed out per (prefix, year).
CREATE TABLE reference_counters (
    prefix   TEXT    NOT NULL,
    year     BIGINT  NOT NULL,
    last_seq BIGINT  NOT NULL,
    PRIMARY KEY (prefix, year)
);

-- Staff accounts. Never deleted (records name their officers); disabled instead.
CREATE TABLE users (
    id           TEXT    PRIMARY KEY,
    username     TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('officer', 'supervisor')),
    desk         TEXT,
    password_phc TEXT    NOT NULL,
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT  NOT NULL
);

-- Login sessions, under the SHA-256 of the token.
CREATE TABLE sessions (
    token_hash BYTEA   PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT  NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

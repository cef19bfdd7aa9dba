-- sunwai records store: a supervisor's changes to a desk's schedule (PostgreSQL). Same
-- conventions as 0001_init.sql.
--
-- The hearing window a supervisor opened, extended or closed early, so that a restart (or
-- another node taking the desk over) keeps it instead of going back to the configured
-- schedule. One row per override, in the order they apply (`seq`, from 0): a later one wins
-- where two overlap. A desk's rows are replaced as a whole each time a supervisor changes
-- the schedule; intervals are half-open, in milliseconds since the Unix epoch. Mirrors the
-- SQLite file with BIGINT for the order and the instants.
CREATE TABLE schedule_overrides (
    desk     TEXT COLLATE "C" NOT NULL,
    seq      BIGINT  NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('opened', 'extended', 'closed')),
    from_ms  BIGINT  NOT NULL,
    until_ms BIGINT  NOT NULL,
    PRIMARY KEY (desk, seq)
);

-- sunwai records store: the waiting room's places (SQLite). Same conventions as 0001_init.sql.
--
-- One row per citizen still in a desk's waiting room (waiting, offered or in a call): the
-- place the room gave them. Queue order is (class rank, seq): 'interrupted' (put back
-- after a call broke off) before 'carried' (a token from an earlier window) before
-- 'normal', first come first served within a class. A row is written when the room gives
-- a place (joining, being put back at the front) and deleted in the same transaction as
-- the record's leaving event (ended, abandoned, carried over), so after a crash the rows
-- and the records' dispositions rebuild the room in the same order. Plain SQL, so the
-- PostgreSQL schema can mirror it as is (seq BIGINT, placed_at BIGINT).
CREATE TABLE queue_places (
    complaint_id TEXT    PRIMARY KEY REFERENCES complaints (id),
    desk         TEXT    NOT NULL,
    class        TEXT    NOT NULL CHECK (class IN ('interrupted', 'carried', 'normal')),
    seq          INTEGER NOT NULL,
    placed_at    INTEGER NOT NULL
);

CREATE INDEX queue_places_desk ON queue_places (desk);

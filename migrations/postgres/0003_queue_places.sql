-- sunwai records store: the waiting room's places (PostgreSQL). Same conventions as 0001_init.sql.
--
-- One row per citizen still in a desk's waiting room (waiting, offered or in a call): the
-- place the room gave them. Queue order is (class rank, seq): 'interrupted' (put back
-- after a call broke off) before 'carried' (a token from an earlier window) before
-- 'normal', first come first served within a class. A row is written when the room gives
-- a place (joining, being put back at the front) and deleted in the same transaction as
-- the record's leaving event (ended, abandoned, carried over), so after a crash the rows
-- and the records' dispositions rebuild the room in the same order. Mirrors the SQLite file
-- with BIGINT for seq and placed_at.
CREATE TABLE queue_places (
    complaint_id TEXT COLLATE "C" PRIMARY KEY REFERENCES complaints (id),
    desk         TEXT COLLATE "C" NOT NULL,
    class        TEXT    NOT NULL CHECK (class IN ('interrupted', 'carried', 'normal')),
    seq          BIGINT  NOT NULL,
    placed_at    BIGINT  NOT NULL
);

CREATE INDEX queue_places_desk ON queue_places (desk);

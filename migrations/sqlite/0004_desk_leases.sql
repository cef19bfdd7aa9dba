-- sunwai records store: which node owns each desk's waiting room (SQLite). Same conventions
-- as 0001_init.sql.
--
-- Used when several nodes share one database (PostgreSQL; see docs/deployment.md): a desk's
-- waiting room is owned by one node at a time, the node whose lease has not expired. The
-- owner renews its lease well before `lease_until` (unix milliseconds); when it stops
-- renewing (it died, or lost the database), another node takes the desk over once the
-- lease has expired, and `epoch` goes up by one with every change of owner. `node_url` is
-- where the other nodes reach the owner's HTTP listener to route people to it. The
-- counts are the owner's, as of its last renewal, for the desk lists of the other nodes. A single
-- node without clustering never writes here. Plain SQL, so the PostgreSQL schema can
-- mirror it (epoch and lease_until BIGINT).
CREATE TABLE desk_leases (
    desk        TEXT    PRIMARY KEY,
    node_id     TEXT    NOT NULL,
    node_url    TEXT    NOT NULL,
    epoch       INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    waiting     INTEGER NOT NULL DEFAULT 0,
    in_call     INTEGER NOT NULL DEFAULT 0,
    officers    INTEGER NOT NULL DEFAULT 0
);

-- sunwai records store: which node owns each desk's waiting room (PostgreSQL). Same
-- conventions as 0001_init.sql.
--
-- Used when several nodes share this database (see docs/deployment.md): a desk's waiting
-- room is owned by one node at a time, the node whose lease has not expired. The owner
-- renews its lease well before `lease_until` (unix milliseconds); when it stops renewing
-- (it died, or lost the database), another node takes the desk over once the lease has
-- expired, and `epoch` goes up by one with every change of owner. `node_url` is where the
-- other nodes reach the owner's HTTP listener to route people to it. The
-- counts are the owner's, as of its last renewal, for the desk lists of the other nodes. Mirrors the SQLite
-- file with BIGINT for epoch and lease_until.
CREATE TABLE desk_leases (
    desk        TEXT COLLATE "C" PRIMARY KEY,
    node_id     TEXT   NOT NULL,
    node_url    TEXT   NOT NULL,
    epoch       BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    waiting     BIGINT NOT NULL DEFAULT 0,
    in_call     BIGINT NOT NULL DEFAULT 0,
    officers    BIGINT NOT NULL DEFAULT 0
);

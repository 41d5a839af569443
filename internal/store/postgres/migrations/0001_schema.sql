-- openfront's schema, version 1 (docs/architecture.md, "Storage: the rules
-- the stores enforce" and "Storage: PostgreSQL").

-- meta holds the key of the invalidation Id codec (invalidation.IDCodec):
-- Ids are a keyed permutation of invalidation_seq, unique for good.
CREATE TABLE meta (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
INSERT INTO meta (name, value) VALUES ('id_key', gen_random_uuid()::text::bytea);

CREATE SEQUENCE invalidation_seq;

-- Strings a client chooses (CallerReferences, paths, names, keys) are
-- bytea: PostgreSQL's text holds no NUL. Unique ones are indexed by their
-- SHA-256, which fits a btree entry whatever their length.

-- One row per invalidation; seq orders a distribution's invalidations
-- (List, newest first). No foreign key to distributions: the
-- configuration file's distributions are not stored.
CREATE TABLE invalidations (
    distribution_id  text   NOT NULL,
    id               text   NOT NULL,
    seq              bigint NOT NULL,
    caller_reference bytea  NOT NULL,
    ref_hash         bytea  NOT NULL, -- SHA-256 of caller_reference
    in_progress      boolean NOT NULL,
    create_time      bigint NOT NULL, -- Unix nanoseconds
    complete_time    bigint,          -- Unix nanoseconds; NULL while InProgress
    paths            bytea  NOT NULL, -- each path: its length (uvarint), its bytes
    file_paths       integer NOT NULL,
    wildcard_paths   integer NOT NULL,
    PRIMARY KEY (distribution_id, id),
    UNIQUE (distribution_id, ref_hash)
);
CREATE INDEX invalidations_list ON invalidations (distribution_id, seq);
CREATE INDEX invalidations_in_progress ON invalidations (seq) WHERE in_progress;

-- The in-progress usage of each distribution with invalidations, in two
-- rows so that creates and completions do not wait for each other: what
-- its creates added (invalidation_added, which a create locks, SELECT
-- ... FOR UPDATE, before it admits, so that the in-progress limits hold
-- across replicas) minus what completions freed (invalidation_freed,
-- which creates read without locking: a completion committing meanwhile
-- only lowers the usage, so a create admits against more, never less).
CREATE TABLE invalidation_added (
    distribution_id text PRIMARY KEY,
    file_paths      bigint NOT NULL DEFAULT 0,
    wildcard_paths  bigint NOT NULL DEFAULT 0
);
CREATE TABLE invalidation_freed (
    distribution_id text PRIMARY KEY,
    file_paths      bigint NOT NULL DEFAULT 0,
    wildcard_paths  bigint NOT NULL DEFAULT 0
);

CREATE TABLE distributions (
    id               text PRIMARY KEY,
    ref_hash         bytea NOT NULL, -- SHA-256 of the CallerReference
    data             bytea NOT NULL, -- the distribution's JSON
    CONSTRAINT distributions_caller_reference UNIQUE (ref_hash)
);

CREATE TABLE aliases (
    alias_key       bytea PRIMARY KEY, -- distribution.AliasKey
    distribution_id text NOT NULL REFERENCES distributions (id) ON DELETE CASCADE
);
CREATE INDEX aliases_distribution ON aliases (distribution_id);

CREATE TABLE resources (
    kind    text NOT NULL,
    id      text NOT NULL,
    name_hash bytea NOT NULL, -- SHA-256 of the name
    managed boolean NOT NULL,
    data    bytea NOT NULL, -- the resource's JSON
    PRIMARY KEY (kind, id),
    CONSTRAINT resources_name UNIQUE (kind, name_hash)
);

-- References: holder_kind is '' for a distribution, else the holder
-- resource's kind. Deleting a resource something refers to fails on the
-- foreign key (ErrInUse).
CREATE TABLE refs (
    holder_kind text NOT NULL,
    holder_id   text NOT NULL,
    kind        text NOT NULL,
    id          text NOT NULL,
    PRIMARY KEY (holder_kind, holder_id, kind, id),
    FOREIGN KEY (kind, id) REFERENCES resources (kind, id) ON DELETE RESTRICT
);
CREATE INDEX refs_target ON refs (kind, id);

-- The fleet's event log. event_counter's one row hands out positions:
-- an append updates it, which locks it until the append commits, so
-- positions are given and become visible in commit order, without gaps.
CREATE TABLE event_counter (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_pos bigint NOT NULL
);
INSERT INTO event_counter (last_pos) VALUES (0);

CREATE TABLE events (
    pos  bigint PRIMARY KEY,
    data bytea NOT NULL
);

-- Every key ever appended, kept after its event is trimmed.
CREATE TABLE event_keys (
    key bytea PRIMARY KEY,
    pos bigint NOT NULL
);

-- The registry of edges.
CREATE TABLE edges (
    name bytea PRIMARY KEY,
    data bytea NOT NULL
);


CREATE TABLE users (
    id uuid PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at text NOT NULL
);
CREATE TABLE grants (
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection text NOT NULL,
    access text NOT NULL CHECK (access IN ('read', 'write')),
    PRIMARY KEY (user_id, collection)
);
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id uuid NOT NULL,
    device_name text NOT NULL,
    created_at text NOT NULL
);
CREATE TABLE collections (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    definition text NOT NULL
);
-- Stamps compare as bytes, as they do in SQLite: COLLATE "C".
CREATE TABLE history (
    seq bigint PRIMARY KEY,
    collection text NOT NULL,
    id uuid NOT NULL,
    version bigint NOT NULL,
    fields text NOT NULL,
    deleted boolean NOT NULL,
    updated_at text COLLATE "C" NOT NULL,
    updated_by text NOT NULL,
    hlc text COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX history_by_version ON history (collection, id, version);
CREATE INDEX history_by_stamp ON history (updated_at);
-- The latest version of each record is its history row `seq`; pulls walk this table in seq order.
CREATE TABLE records (
    collection text NOT NULL,
    id uuid NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE UNIQUE INDEX records_by_seq ON records (seq);
CREATE TABLE mutations (
    user_id uuid NOT NULL,
    mutation_id uuid NOT NULL,
    status text NOT NULL,
    collection text NOT NULL,
    record_id uuid NOT NULL,
    version bigint,
    conflict text,
    error text,
    PRIMARY KEY (user_id, mutation_id)
);
-- The last change sequence number handed out; its row lock orders pushes.
CREATE TABLE change_seq (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    value bigint NOT NULL
);
INSERT INTO change_seq (one, value) VALUES (true, 0);

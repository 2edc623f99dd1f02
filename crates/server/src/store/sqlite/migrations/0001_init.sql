
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE grants (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    access TEXT NOT NULL CHECK (access IN ('read', 'write')),
    PRIMARY KEY (user_id, collection)
);
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE collections (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    definition TEXT NOT NULL
);
CREATE TABLE history (
    seq INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    fields TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    hlc TEXT NOT NULL
);
CREATE UNIQUE INDEX history_by_version ON history(collection, id, version);
-- The latest version of each record is its history row `seq`; pulls walk this table in seq order.
CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL
);
CREATE UNIQUE INDEX records_by_id ON records(collection, id);
CREATE TABLE mutations (
    user_id TEXT NOT NULL,
    mutation_id TEXT NOT NULL,
    status TEXT NOT NULL,
    collection TEXT NOT NULL,
    record_id TEXT NOT NULL,
    version INTEGER,
    conflict TEXT,
    error TEXT,
    PRIMARY KEY (user_id, mutation_id)
) WITHOUT ROWID;

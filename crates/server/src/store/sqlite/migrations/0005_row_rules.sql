-- Row rules (see rules.rs). `parts`: the record's partition values as a JSON array, NULL when its collection is not partitioned.
ALTER TABLE records ADD COLUMN parts TEXT;
-- Each partition value a record is or was in: present, or left at `seq`. Pulls of some values walk this by (collection, value, seq).
CREATE TABLE record_parts (
    collection TEXT NOT NULL,
    value TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    present INTEGER NOT NULL,
    PRIMARY KEY (collection, value, id)
) WITHOUT ROWID;
CREATE INDEX record_parts_by_seq ON record_parts(collection, value, seq, id);
CREATE TABLE teams (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE team_members (
    team TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team, user_id)
);
CREATE INDEX team_members_by_user ON team_members(user_id);
-- Grants other than a user's to a whole collection (those stay in `grants`): subject 'user:ID', 'team:NAME' or '*';
-- value '' for the whole collection.
CREATE TABLE rules (
    subject TEXT NOT NULL,
    collection TEXT NOT NULL,
    value TEXT NOT NULL,
    access TEXT NOT NULL CHECK (access IN ('read', 'write')),
    PRIMARY KEY (subject, collection, value)
);
-- Records that came into or left a user's view when their grants changed, each at its own sequence position.
CREATE TABLE user_feed (
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE INDEX user_feed_by_seq ON user_feed(seq);

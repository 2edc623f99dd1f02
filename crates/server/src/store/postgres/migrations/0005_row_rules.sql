-- Row rules (see rules.rs). `parts`: the record's partition values as a JSON array, NULL when its collection is not partitioned.
ALTER TABLE records ADD COLUMN parts text;
-- Each partition value a record is or was in: present, or left at `seq`. Pulls of some values walk this by (collection, value, seq).
CREATE TABLE record_parts (
    collection text NOT NULL,
    value text NOT NULL,
    id uuid NOT NULL,
    seq bigint NOT NULL,
    present boolean NOT NULL,
    PRIMARY KEY (collection, value, id)
);
CREATE INDEX record_parts_by_seq ON record_parts (collection, value, seq, id);
CREATE TABLE teams (
    name text PRIMARY KEY,
    created_at text NOT NULL
);
CREATE TABLE team_members (
    team text NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);
-- Grants other than a user's to a whole collection (those stay in `grants`): subject 'user:ID', 'team:NAME' or '*';
-- value '' for the whole collection.
CREATE TABLE rules (
    subject text NOT NULL,
    collection text NOT NULL,
    value text NOT NULL,
    access text NOT NULL CHECK (access IN ('read', 'write')),
    PRIMARY KEY (subject, collection, value)
);
-- Records that came into or left a user's view when their grants changed, each at its own sequence position.
CREATE TABLE user_feed (
    user_id uuid NOT NULL,
    seq bigint NOT NULL,
    collection text NOT NULL,
    id uuid NOT NULL,
    PRIMARY KEY (user_id, seq)
);

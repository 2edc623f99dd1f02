-- Whether a feed entry is a record that came into the user's view (1) or left it (0), and the record's sequence
-- position then: one that came in and changed after a reader's cursor reaches them through the other sources, and
-- is not sent twice (a fresh pull skips every such entry without reading the record).
ALTER TABLE user_feed ADD COLUMN gained INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_feed ADD COLUMN record_seq INTEGER NOT NULL DEFAULT 0;

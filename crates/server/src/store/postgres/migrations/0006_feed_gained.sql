-- Whether a feed entry is a record that came into the user's view (true) or left it (false): one that came in and
-- changed after a reader's cursor reaches them through the other sources, and is not sent twice.
ALTER TABLE user_feed ADD COLUMN gained boolean NOT NULL DEFAULT false;

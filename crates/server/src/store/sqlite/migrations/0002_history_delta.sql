
-- `fields` of a delta row holds only what differs from the next version (see store::history).
ALTER TABLE history ADD COLUMN delta INTEGER NOT NULL DEFAULT 0;

-- Facts about the database itself: `epoch` (changes when a backup is restored, so clients notice the server went
-- back in time), `compacted_seq` (no cursor below it is still good: tombstones up to it were compacted away),
-- `restored_at` and `restored_from` (the last restore, and when its backup was taken).
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('epoch', lower(hex(randomblob(16))));

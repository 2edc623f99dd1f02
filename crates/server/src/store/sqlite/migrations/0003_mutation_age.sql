-- When each mutation id was first answered (Unix ms), so ids past the
-- horizon can be forgotten; those stored before count from now.
ALTER TABLE mutations ADD COLUMN created_at INTEGER;
UPDATE mutations SET created_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);
CREATE INDEX mutations_by_age ON mutations(created_at);

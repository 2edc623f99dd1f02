-- The version a merged edit was made from (protocol: Record.merged_from); NULL for other writes.
ALTER TABLE history ADD COLUMN merged_from INTEGER;

-- When each mutation id was first answered (Unix ms, the database's clock),
-- so ids past the horizon can be forgotten; those stored before count from now.
ALTER TABLE mutations ADD COLUMN created_at bigint NOT NULL
    DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
CREATE INDEX mutations_by_age ON mutations (created_at);

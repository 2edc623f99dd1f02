-- Devices: each session is one device's sign-in. What it said of itself, when and from where it was last seen
-- (its session ends after a while unused), and whether an administrator or its user cut it off (revoked: its
-- token answers device_revoked) and asked it to delete its local data (wipe).
ALTER TABLE sessions ADD COLUMN platform TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN app_version TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen_at TEXT;
ALTER TABLE sessions ADD COLUMN last_ip TEXT;
ALTER TABLE sessions ADD COLUMN revoked_at TEXT;
ALTER TABLE sessions ADD COLUMN wipe INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE INDEX sessions_by_device ON sessions(device_id);

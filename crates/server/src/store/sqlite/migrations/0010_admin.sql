-- Administrators: a user's role ('admin' manages the server through /v1/admin and the console) and whether they
-- may sign in at all (a disabled user's devices are signed out).
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member'));
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
-- The audit log: every administrative action, who did it, when and from where. Never a password or a token.
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    device_id TEXT,
    ip TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_actor ON audit(actor, seq);
CREATE INDEX audit_by_target ON audit(target, seq);

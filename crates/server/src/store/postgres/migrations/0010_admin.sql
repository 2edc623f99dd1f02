-- Administrators: a user's role ('admin' manages the server through /v1/admin and the console) and whether they
-- may sign in at all (a disabled user's devices are signed out).
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member'));
ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;
-- The audit log: every administrative action, who did it, when and from where. Never a password or a token.
CREATE TABLE audit (
    seq bigserial PRIMARY KEY,
    at text NOT NULL,
    actor text NOT NULL,
    device_id uuid,
    ip text,
    action text NOT NULL,
    target text NOT NULL,
    detail text NOT NULL
);
CREATE INDEX audit_by_actor ON audit (actor, seq);
CREATE INDEX audit_by_target ON audit (target, seq);

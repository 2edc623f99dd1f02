-- Blobs (attached files, stored apart: blobs/): who uploaded which, and its size. An uploader may read what they
-- uploaded; the sizes count against their quota.
CREATE TABLE blob_owners (
    sha256 TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (sha256, user_id)
) WITHOUT ROWID;
CREATE INDEX blob_owners_by_user ON blob_owners(user_id);

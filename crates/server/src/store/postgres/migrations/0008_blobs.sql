-- Blobs (attached files, stored apart: blobs/): who uploaded which, and its size. An uploader may read what they
-- uploaded; the sizes count against their quota.
CREATE TABLE blob_owners (
    sha256 text NOT NULL,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    size bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sha256, user_id)
);
CREATE INDEX blob_owners_by_user ON blob_owners (user_id);

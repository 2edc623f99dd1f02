-- Write without read (`grant --write-only --where …`): a rule's access may be 'write_only'. SQLite cannot change a
-- CHECK in place, so the table is rebuilt.
CREATE TABLE rules_next (
    subject TEXT NOT NULL,
    collection TEXT NOT NULL,
    value TEXT NOT NULL,
    access TEXT NOT NULL CHECK (access IN ('read', 'write', 'write_only')),
    PRIMARY KEY (subject, collection, value)
);
INSERT INTO rules_next (subject, collection, value, access) SELECT subject, collection, value, access FROM rules;
DROP TABLE rules;
ALTER TABLE rules_next RENAME TO rules;

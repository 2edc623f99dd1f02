-- Write without read (`grant --write-only --where …`): a rule's access may be 'write_only'.
ALTER TABLE rules DROP CONSTRAINT rules_access_check;
ALTER TABLE rules ADD CONSTRAINT rules_access_check CHECK (access IN ('read', 'write', 'write_only'));

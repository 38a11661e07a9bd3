-- 0005: grants know the SSO session they descend from, so that ending a
-- session (the security page, logout) revokes what it signed in to, and a
-- recovery or deletion revokes every grant of the account.
--
-- Grants written before this migration have no session ('') and are
-- reached only through their account.

ALTER TABLE grants ADD COLUMN session_id text NOT NULL DEFAULT '';

CREATE INDEX grants_session_id_idx ON grants (session_id) WHERE session_id <> '';
CREATE INDEX grants_subject_idx ON grants (subject) WHERE subject <> '';

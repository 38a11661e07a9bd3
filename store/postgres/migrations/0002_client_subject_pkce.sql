-- 0002: how a client sees a citizen's sub, and whether it may skip PKCE.
--
-- Clients registered before this migration keep the account id as their
-- sub (public): changing it under a relying party would orphan its users.
-- New registrations default to pairwise in the admin API. PKCE is required
-- of every client unless the operator sets pkce_optional explicitly.

ALTER TABLE clients
    ADD COLUMN subject_type  text    NOT NULL DEFAULT 'public',
    ADD COLUMN subject_salt  bytea,
    ADD COLUMN pkce_optional boolean NOT NULL DEFAULT false;

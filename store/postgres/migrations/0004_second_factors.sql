-- 0004: second factors and the clients that require one.
--
-- An account's second factors (the sealed TOTP secret, the hashes of its
-- unused backup codes, the code channel) and its policy are read and
-- written with the account as a whole: one jsonb value, NULL when none.

ALTER TABLE accounts ADD COLUMN factors jsonb;

ALTER TABLE clients ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;

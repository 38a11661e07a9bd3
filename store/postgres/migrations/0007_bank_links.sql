-- 0007: bank logins linked to accounts.
--
-- The links live in the account's factors (jsonb, key "banks": a list of
-- {connector, subject, linked_at}); a bank login looks its account up by
-- containment, which this index serves.

CREATE INDEX accounts_bank_links ON accounts USING gin ((factors->'banks') jsonb_path_ops);

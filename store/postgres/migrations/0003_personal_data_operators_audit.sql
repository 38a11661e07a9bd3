-- 0003: personal data and documents, identity checks, operators, and the
-- audit trail.
--
-- The INN and the Russian passport (series and number, 10 digits) are
-- identifiers like phone, e-mail and SNILS: unique, NULL when absent. The
-- documents, the latest registry check, the evidence and the live letter
-- code are read and written with the account as a whole, so each is one
-- jsonb value (NULL when absent) rather than tables of their own.

ALTER TABLE accounts
    ADD COLUMN birthplace           text  NOT NULL DEFAULT '',
    ADD COLUMN citizenship          text  NOT NULL DEFAULT '',
    ADD COLUMN inn                  text  CONSTRAINT accounts_inn_key UNIQUE,
    ADD COLUMN passport             text  CONSTRAINT accounts_passport_key UNIQUE,
    ADD COLUMN registration_address text  NOT NULL DEFAULT '',
    ADD COLUMN residence_address    text  NOT NULL DEFAULT '',
    ADD COLUMN documents            jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN confirmation_method  text  NOT NULL DEFAULT '',
    ADD COLUMN verification         jsonb,
    ADD COLUMN evidence             jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN letter               jsonb,
    ADD CONSTRAINT accounts_inn_not_empty CHECK (inn <> ''),
    ADD CONSTRAINT accounts_passport_not_empty CHECK (passport <> '');

CREATE TABLE operators (
    id            text        PRIMARY KEY,
    login         text        NOT NULL CONSTRAINT operators_login_key UNIQUE,
    name          text        NOT NULL DEFAULT '',
    password_hash text        NOT NULL DEFAULT '',
    roles         text[]      NOT NULL DEFAULT '{}',
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- 0001's audit_events was never written; its successor has text IDs that
-- sort by time (store.NewAuditID) and serve as the paging cursor.
DROP TABLE audit_events;

CREATE TABLE audit_events (
    id         text        COLLATE "C" PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    account_id text        NOT NULL DEFAULT '',
    details    jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_account_id_idx ON audit_events (account_id, id) WHERE account_id <> '';
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);

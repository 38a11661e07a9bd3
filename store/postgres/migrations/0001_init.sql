-- 0001: the data of record of the identity provider.
--
-- Conventions: identifiers that may be absent (phone, e-mail, SNILS) are NULL
-- rather than empty so that their UNIQUE constraints ignore absent values;
-- times are timestamptz written by the application's clock; expiry is
-- decided by that clock when a row is read, never by now() in SQL.

CREATE TABLE accounts (
    id             text        PRIMARY KEY,
    level          text        NOT NULL,
    last_name      text        NOT NULL DEFAULT '',
    first_name     text        NOT NULL DEFAULT '',
    middle_name    text        NOT NULL DEFAULT '',
    birthdate      date,
    gender         text        NOT NULL DEFAULT '',
    phone          text        CONSTRAINT accounts_phone_key UNIQUE,
    email          text        CONSTRAINT accounts_email_key UNIQUE,
    snils          text        CONSTRAINT accounts_snils_key UNIQUE,
    phone_verified boolean     NOT NULL DEFAULT false,
    email_verified boolean     NOT NULL DEFAULT false,
    password_hash  text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT accounts_phone_not_empty CHECK (phone <> ''),
    CONSTRAINT accounts_email_not_empty CHECK (email <> ''),
    CONSTRAINT accounts_snils_not_empty CHECK (snils <> '')
);

CREATE TABLE clients (
    id                           text        PRIMARY KEY,
    secret_hash                  bytea,
    name                         text        NOT NULL DEFAULT '',
    redirect_uris                text[]      NOT NULL DEFAULT '{}',
    post_logout_redirect_uris    text[]      NOT NULL DEFAULT '{}',
    grant_types                  text[]      NOT NULL DEFAULT '{}',
    response_types               text[]      NOT NULL DEFAULT '{}',
    scopes                       text[]      NOT NULL DEFAULT '{}',
    token_endpoint_auth_method   text        NOT NULL DEFAULT '',
    backchannel_logout_uri       text        NOT NULL DEFAULT '',
    min_level                    text        NOT NULL DEFAULT '',
    id_token_signed_response_alg text        NOT NULL DEFAULT '',
    created_at                   timestamptz NOT NULL,
    updated_at                   timestamptz NOT NULL
);

CREATE TABLE consents (
    account_id text        NOT NULL,
    client_id  text        NOT NULL,
    scopes     text[]      NOT NULL DEFAULT '{}',
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE INDEX consents_client_id_idx ON consents (client_id);

CREATE TABLE signing_keys (
    id         text        PRIMARY KEY,
    alg        text        NOT NULL,
    sealed     bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    active_at  timestamptz NOT NULL,
    retired_at timestamptz,
    expires_at timestamptz
);

CREATE TABLE grants (
    kind         text        NOT NULL,
    signature    text        NOT NULL,
    request_id   text        NOT NULL,
    client_id    text        NOT NULL,
    subject      text        NOT NULL DEFAULT '',
    active       boolean     NOT NULL,
    requested_at timestamptz NOT NULL,
    expires_at   timestamptz,
    data         bytea,
    PRIMARY KEY (kind, signature)
);

CREATE INDEX grants_kind_request_id_idx ON grants (kind, request_id);
CREATE INDEX grants_expires_at_idx ON grants (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE audit_events (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL,
    kind       text        NOT NULL,
    account_id text,
    client_id  text,
    data       jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_account_id_idx ON audit_events (account_id, at) WHERE account_id IS NOT NULL;
CREATE INDEX audit_events_client_id_idx ON audit_events (client_id, at) WHERE client_id IS NOT NULL;

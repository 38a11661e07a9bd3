-- The catalog portal's tables, in the schema the store was opened on
-- (catalog by default).
CREATE TABLE applications (
    number     bigserial   PRIMARY KEY,
    subject    text        NOT NULL,
    service_id text        NOT NULL,
    status     text        NOT NULL,
    fields     jsonb       NOT NULL,
    verified   jsonb       NOT NULL,
    history    jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX applications_subject ON applications (subject, number DESC);
CREATE INDEX applications_status ON applications (status, updated_at);

CREATE TABLE sessions (
    id            text        PRIMARY KEY,
    subject       text        NOT NULL,
    sid           text        NOT NULL,
    level         text        NOT NULL,
    acr           text        NOT NULL,
    name          text        NOT NULL,
    scopes        jsonb       NOT NULL,
    claims        bytea,
    access_token  text        NOT NULL,
    refresh_token text        NOT NULL,
    id_token      text        NOT NULL,
    token_expiry  timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sessions_subject ON sessions (subject, sid);
CREATE INDEX sessions_sid ON sessions (sid);

CREATE TABLE pending_logins (
    state      text        PRIMARY KEY,
    browser    text        NOT NULL,
    nonce      text        NOT NULL,
    verifier   text        NOT NULL,
    return_to  text        NOT NULL,
    acr        text        NOT NULL,
    scopes     jsonb       NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE logout_jtis (
    jti        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

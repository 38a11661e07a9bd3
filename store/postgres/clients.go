package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/store"
)

var _ store.Clients = (*Store)(nil)

// clientColumns is the select list scanned by scanClient.
const clientColumns = `id, secret_hash, name, redirect_uris, post_logout_redirect_uris,
	grant_types, response_types, scopes, token_endpoint_auth_method,
	backchannel_logout_uri, min_level, id_token_signed_response_alg, subject_type, subject_salt,
	pkce_optional, require_mfa, created_at, updated_at`

func scanClient(row pgx.Row) (*store.Client, error) {
	var c store.Client
	var minLevel, subjectType string
	if err := row.Scan(&c.ID, &c.SecretHash, &c.Name, &c.RedirectURIs, &c.PostLogoutRedirectURIs,
		&c.GrantTypes, &c.ResponseTypes, &c.Scopes, &c.TokenEndpointAuthMethod,
		&c.BackchannelLogoutURI, &minLevel, &c.IDTokenSignedResponseAlg, &subjectType, &c.SubjectSalt,
		&c.PKCEOptional, &c.RequireMFA, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.MinLevel = store.Level(minLevel)
	c.SubjectType = store.SubjectType(subjectType)
	c.RedirectURIs = fromTextArray(c.RedirectURIs)
	c.PostLogoutRedirectURIs = fromTextArray(c.PostLogoutRedirectURIs)
	c.GrantTypes = fromTextArray(c.GrantTypes)
	c.ResponseTypes = fromTextArray(c.ResponseTypes)
	c.Scopes = fromTextArray(c.Scopes)
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return &c, nil
}

// CreateClient stores a new client. A zero CreatedAt is set from the clock,
// a zero UpdatedAt from CreatedAt.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	created := dbTime(c.CreatedAt)
	if created.IsZero() {
		created = s.clock()
	}
	updated := dbTime(c.UpdatedAt)
	if updated.IsZero() {
		updated = created
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO clients (id, secret_hash, name, redirect_uris,
		post_logout_redirect_uris, grant_types, response_types, scopes, token_endpoint_auth_method,
		backchannel_logout_uri, min_level, id_token_signed_response_alg, subject_type, subject_salt,
		pkce_optional, require_mfa, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		c.ID, c.SecretHash, c.Name, textArray(c.RedirectURIs), textArray(c.PostLogoutRedirectURIs),
		textArray(c.GrantTypes), textArray(c.ResponseTypes), textArray(c.Scopes),
		c.TokenEndpointAuthMethod, c.BackchannelLogoutURI, string(c.MinLevel),
		c.IDTokenSignedResponseAlg, string(c.SubjectType), c.SubjectSalt, c.PKCEOptional, c.RequireMFA, created, updated)
	return mapErr("create client", err)
}

// GetClient returns the client with the ID, or store.ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	if !storable(id) {
		return nil, notFound("get client")
	}
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return nil, mapErr("get client", err)
	}
	return c, nil
}

// ListClients returns all clients ordered by ID.
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	const op = "list clients"
	rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Client, error) {
		return scanClient(row)
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	return cs, nil
}

// UpdateClient locks the client's row, applies update and writes the result
// in one transaction. The ID and CreatedAt are kept; UpdatedAt is
// written as the updater leaves it (callers set it).
func (s *Store) UpdateClient(ctx context.Context, id string, update func(*store.Client) error) (*store.Client, error) {
	const op = "update client"
	if !storable(id) {
		return nil, notFound(op)
	}
	var out *store.Client
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		c, err := scanClient(tx.QueryRow(ctx,
			`SELECT `+clientColumns+` FROM clients WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return mapErr(op, err)
		}
		created := c.CreatedAt
		if err := update(c); err != nil {
			return err
		}
		c.ID, c.CreatedAt, c.UpdatedAt = id, created, dbTime(c.UpdatedAt)
		if _, err := tx.Exec(ctx, `UPDATE clients SET secret_hash = $2, name = $3, redirect_uris = $4,
			post_logout_redirect_uris = $5, grant_types = $6, response_types = $7, scopes = $8,
			token_endpoint_auth_method = $9, backchannel_logout_uri = $10, min_level = $11,
			id_token_signed_response_alg = $12, subject_type = $13, subject_salt = $14,
			pkce_optional = $15, require_mfa = $16, updated_at = $17
			WHERE id = $1`,
			c.ID, c.SecretHash, c.Name, textArray(c.RedirectURIs), textArray(c.PostLogoutRedirectURIs),
			textArray(c.GrantTypes), textArray(c.ResponseTypes), textArray(c.Scopes),
			c.TokenEndpointAuthMethod, c.BackchannelLogoutURI, string(c.MinLevel),
			c.IDTokenSignedResponseAlg, string(c.SubjectType), c.SubjectSalt, c.PKCEOptional,
			c.RequireMFA, c.UpdatedAt); err != nil {
			return mapErr(op, err)
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteClient removes the client, or returns store.ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	const op = "delete client"
	if !storable(id) {
		return notFound(op)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op)
	}
	return nil
}

package postgres

import (
	"context"
	"time"

	"github.com/esia-oidc/idp/store"
)

var _ store.Grants = (*Store)(nil)

// CreateGrant stores a new grant: store.ErrConflict when (Kind, Signature)
// exists and has not expired. An expired grant that the sweep has not yet
// deleted counts as absent and is replaced, in the same single statement.
func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	const op = "create grant"
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO grants AS g
		(kind, signature, request_id, client_id, subject, active, requested_at, expires_at, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (kind, signature) DO UPDATE SET
			request_id = excluded.request_id, client_id = excluded.client_id,
			subject = excluded.subject, active = excluded.active,
			requested_at = excluded.requested_at, expires_at = excluded.expires_at,
			data = excluded.data
		WHERE g.expires_at <= $10`,
		string(g.Kind), g.Signature, g.RequestID, g.ClientID, g.Subject, g.Active,
		dbTime(g.RequestedAt), nullTime(g.ExpiresAt), g.Data, s.clock())
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return conflict(op, "grant exists")
	}
	return nil
}

// GetGrant returns the grant, active or not, or store.ErrNotFound when it is
// absent or has expired by the clock.
func (s *Store) GetGrant(ctx context.Context, kind store.GrantKind, signature string) (*store.Grant, error) {
	if !storable(string(kind), signature) {
		return nil, notFound("get grant")
	}
	g := store.Grant{Kind: kind, Signature: signature}
	var expires *time.Time
	err := s.db(ctx).QueryRow(ctx, `SELECT request_id, client_id, subject, active, requested_at, expires_at, data
		FROM grants
		WHERE kind = $1 AND signature = $2 AND (expires_at IS NULL OR expires_at > $3)`,
		string(kind), signature, s.clock()).
		Scan(&g.RequestID, &g.ClientID, &g.Subject, &g.Active, &g.RequestedAt, &expires, &g.Data)
	if err != nil {
		return nil, mapErr("get grant", err)
	}
	g.RequestedAt = g.RequestedAt.UTC()
	g.ExpiresAt = fromNullTime(expires)
	return &g, nil
}

// DeleteGrant removes the grant; store.ErrNotFound when it is absent or had
// expired (an expired grant is still deleted).
func (s *Store) DeleteGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	const op = "delete grant"
	if !storable(string(kind), signature) {
		return notFound(op)
	}
	var live bool
	err := s.db(ctx).QueryRow(ctx, `DELETE FROM grants WHERE kind = $1 AND signature = $2
		RETURNING (expires_at IS NULL OR expires_at > $3)`,
		string(kind), signature, s.clock()).Scan(&live)
	if err != nil {
		return mapErr(op, err)
	}
	if !live {
		return notFound(op)
	}
	return nil
}

// DeactivateGrant marks an active, unexpired grant inactive in one UPDATE, so
// that of many concurrent callers exactly one succeeds. When nothing was
// updated a second query tells store.ErrNotFound (absent or expired) from
// store.ErrConflict (already inactive); the success path is one round trip.
func (s *Store) DeactivateGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	const op = "deactivate grant"
	if !storable(string(kind), signature) {
		return notFound(op)
	}
	now := s.clock()
	tag, err := s.db(ctx).Exec(ctx, `UPDATE grants SET active = false
		WHERE kind = $1 AND signature = $2 AND active AND (expires_at IS NULL OR expires_at > $3)`,
		string(kind), signature, now)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM grants
		WHERE kind = $1 AND signature = $2 AND (expires_at IS NULL OR expires_at > $3))`,
		string(kind), signature, now).Scan(&exists); err != nil {
		return mapErr(op, err)
	}
	if !exists {
		return notFound(op)
	}
	return conflict(op, "grant is already inactive")
}

// DeactivateRequest marks inactive every grant of the kind that shares the
// request ID. No error when there are none.
func (s *Store) DeactivateRequest(ctx context.Context, kind store.GrantKind, requestID string) error {
	if !storable(string(kind), requestID) {
		return nil // no grant has such a request ID
	}
	_, err := s.db(ctx).Exec(ctx, `UPDATE grants SET active = false
		WHERE kind = $1 AND request_id = $2 AND active`, string(kind), requestID)
	return mapErr("deactivate request", err)
}

// Sweep deletes the grants that have expired by the clock and returns how
// many it deleted.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM grants WHERE expires_at <= $1`, s.clock())
	if err != nil {
		return 0, mapErr("sweep", err)
	}
	return tag.RowsAffected(), nil
}

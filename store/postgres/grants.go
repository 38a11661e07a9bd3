package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/esia-oidc/idp/store"
)

var _ store.Grants = (*Store)(nil)

// CreateGrant stores a new grant: store.ErrConflict when (Kind, Signature)
// exists and has not expired. An expired grant that the sweep has not yet
// deleted counts as absent and is replaced: it is deleted, and the grant
// inserted, in one round trip and one transaction, so that a live grant
// makes the INSERT fail, and with it a transaction the grant is part of.
// In a transaction the grant is held back (see hold), and its error comes
// from the next call or Commit.
func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	const op = "create grant"
	return s.hold(ctx,
		&stmt{op: op, sql: `DELETE FROM grants WHERE kind = $1 AND signature = $2 AND expires_at <= $3`,
			args: []any{string(g.Kind), g.Signature, s.clock()}},
		&stmt{op: op, sql: `INSERT INTO grants
			(kind, signature, request_id, client_id, subject, session_id, active, requested_at, expires_at, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			args: []any{string(g.Kind), g.Signature, g.RequestID, g.ClientID, g.Subject, g.SessionID, g.Active,
				dbTime(g.RequestedAt), nullTime(g.ExpiresAt), g.Data}},
	)
}

// GetGrant returns the grant, active or not, or store.ErrNotFound when it is
// absent or has expired by the clock.
func (s *Store) GetGrant(ctx context.Context, kind store.GrantKind, signature string) (*store.Grant, error) {
	if !storable(string(kind), signature) {
		return nil, notFound("get grant")
	}
	g := store.Grant{Kind: kind, Signature: signature}
	var expires *time.Time
	err := s.run(ctx, &stmt{op: "get grant",
		sql: `SELECT request_id, client_id, subject, session_id, active, requested_at, expires_at, data
			FROM grants
			WHERE kind = $1 AND signature = $2 AND (expires_at IS NULL OR expires_at > $3)`,
		args: []any{string(kind), signature, s.clock()},
		row: func(row pgx.Row) error {
			return mapErr("get grant", row.Scan(&g.RequestID, &g.ClientID, &g.Subject, &g.SessionID, &g.Active, &g.RequestedAt, &expires, &g.Data))
		},
	})
	if err != nil {
		return nil, err
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
	return s.run(ctx, &stmt{op: op,
		sql: `DELETE FROM grants WHERE kind = $1 AND signature = $2
			RETURNING (expires_at IS NULL OR expires_at > $3)`,
		args: []any{string(kind), signature, s.clock()},
		row: func(row pgx.Row) error {
			var live bool
			if err := row.Scan(&live); err != nil {
				return mapErr(op, err)
			}
			if !live {
				return notFound(op)
			}
			return nil
		},
	})
}

// DeactivateGrant marks an active, unexpired grant inactive in one
// statement, so that of many concurrent callers exactly one succeeds: the
// UPDATE takes the row's lock, and a caller that waited for it finds the
// grant inactive. The same statement tells store.ErrNotFound (absent or
// expired) from store.ErrConflict (already inactive) by its snapshot,
// taken before the UPDATE: no second query. Before it locks the row it
// takes its session's and subject's advisory locks, shared, until the
// transaction ends (see deactivateBy).
func (s *Store) DeactivateGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	const op = "deactivate grant"
	if !storable(string(kind), signature) {
		return notFound(op)
	}
	return s.run(ctx, &stmt{op: op,
		sql: `WITH d AS (
				UPDATE grants SET active = false
				WHERE kind = $1 AND signature = $2 AND active AND (expires_at IS NULL OR expires_at > $3)
					AND ` + ownerLocks + `
				RETURNING 1)
			SELECT EXISTS (SELECT 1 FROM d), EXISTS (SELECT 1 FROM grants
				WHERE kind = $1 AND signature = $2 AND (expires_at IS NULL OR expires_at > $3))`,
		args: []any{string(kind), signature, s.clock()},
		row: func(row pgx.Row) error {
			var deactivated, exists bool
			if err := row.Scan(&deactivated, &exists); err != nil {
				return mapErr(op, err)
			}
			switch {
			case deactivated:
				return nil
			case exists:
				return conflict(op, "grant is already inactive")
			}
			return notFound(op)
		},
	})
}

// DeactivateRequest marks inactive every grant of the kind that shares the
// request ID. No error when there are none. In a transaction it is held
// back (see hold).
func (s *Store) DeactivateRequest(ctx context.Context, kind store.GrantKind, requestID string) error {
	if !storable(string(kind), requestID) {
		return nil // no grant has such a request ID
	}
	return s.hold(ctx, &stmt{op: "deactivate request",
		sql:  `UPDATE grants SET active = false WHERE kind = $1 AND request_id = $2 AND active`,
		args: []any{string(kind), requestID}})
}

// DeactivateSession marks inactive every live grant of the SSO session (on
// grants_session_id_idx). No error when there are none. A refresh under
// way is reached (see deactivateBy).
func (s *Store) DeactivateSession(ctx context.Context, sessionID string) error {
	if sessionID == "" || !storable(sessionID) {
		return nil // no grant has such a session
	}
	return s.deactivateBy(ctx, "deactivate session", "session_id", "grant-session:", sessionID, "")
}

// DeactivateSubject marks inactive every live grant of the account (of
// the client, when clientID is set; on grants_subject_idx). No error when
// there are none. A refresh under way is reached (see deactivateBy).
func (s *Store) DeactivateSubject(ctx context.Context, subject, clientID string) error {
	if subject == "" || !storable(subject, clientID) {
		return nil // no grant has such a subject or client
	}
	return s.deactivateBy(ctx, "deactivate subject", "subject", "grant-subject:", subject, clientID)
}

// ownerLocks is a condition on a grant's row that is always true and takes,
// shared until the transaction ends, the advisory locks of the grant's
// session and subject (none for an empty one). A void result is not NULL.
const ownerLocks = `(session_id = '' OR (SELECT pg_advisory_xact_lock_shared(hashtextextended('grant-session:' || session_id, 0))) IS NOT NULL)
	AND (subject = '' OR (SELECT pg_advisory_xact_lock_shared(hashtextextended('grant-subject:' || subject, 0))) IS NOT NULL)`

// deactivateBy marks inactive the live grants whose column holds value
// (and, when clientID is set, whose client is clientID), after taking the advisory lock of that session or subject (lockPrefix +
// value, as ownerLocks names it) exclusively,
// in one round trip and one transaction. A refresh-token rotation takes
// the lock shared as it deactivates the old token (DeactivateGrant, in the
// transaction that then inserts the new token), so the two are ordered:
// a rotation under way commits before the lock is granted, and the
// UPDATE, whose snapshot is taken after that, reaches the new token; a
// rotation that comes later waits for this transaction and then finds its
// token inactive. So no refresh token of the session or account outlives
// the call. (Without the lock, an UPDATE that waited for a rotation's row
// would miss the token the rotation inserted.)
func (s *Store) deactivateBy(ctx context.Context, op, column, lockPrefix, value, clientID string) error {
	return s.run(ctx,
		&stmt{op: op, sql: `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
			args: []any{lockPrefix + value}},
		&stmt{op: op, sql: `UPDATE grants SET active = false
			WHERE ` + column + ` = $1 AND active AND (expires_at IS NULL OR expires_at > $2)
			AND ($3 = '' OR client_id = $3)`,
			args: []any{value, s.clock(), clientID}})
}

// Sweep deletes the grants that have expired by the clock and returns how
// many it deleted.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	var n int64
	err := s.run(ctx, &stmt{op: "sweep",
		sql:  `DELETE FROM grants WHERE expires_at <= $1`,
		args: []any{s.clock()},
		exec: func(tag pgconn.CommandTag) error {
			n = tag.RowsAffected()
			return nil
		}})
	return n, err
}

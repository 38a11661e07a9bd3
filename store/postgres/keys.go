package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/store"
)

var _ store.Keys = (*Store)(nil)

// keyColumns is the select list scanned by scanKey.
const keyColumns = `id, alg, sealed, created_at, active_at, retired_at, expires_at`

func scanKey(row pgx.Row) (*store.SigningKey, error) {
	var k store.SigningKey
	var retired, expires *time.Time
	if err := row.Scan(&k.ID, &k.Alg, &k.Sealed, &k.CreatedAt, &k.ActiveAt, &retired, &expires); err != nil {
		return nil, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ActiveAt = k.ActiveAt.UTC()
	k.RetiredAt = fromNullTime(retired)
	k.ExpiresAt = fromNullTime(expires)
	return &k, nil
}

// CreateKey stores a new key. A zero CreatedAt is set from the clock, a zero
// ActiveAt from CreatedAt.
func (s *Store) CreateKey(ctx context.Context, k *store.SigningKey) error {
	created := dbTime(k.CreatedAt)
	if created.IsZero() {
		created = s.clock()
	}
	active := dbTime(k.ActiveAt)
	if active.IsZero() {
		active = created
	}
	sealed := k.Sealed
	if sealed == nil {
		sealed = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO signing_keys
		(id, alg, sealed, created_at, active_at, retired_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Alg, sealed, created, active, nullTime(k.RetiredAt), nullTime(k.ExpiresAt))
	return mapErr("create key", err)
}

// ListKeys returns every stored key ordered by CreatedAt, then ID.
func (s *Store) ListKeys(ctx context.Context) ([]*store.SigningKey, error) {
	const op = "list keys"
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	ks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.SigningKey, error) {
		return scanKey(row)
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	return ks, nil
}

// UpdateKey locks the key's row, applies update and writes the result in one
// transaction. The ID and CreatedAt are kept.
func (s *Store) UpdateKey(ctx context.Context, id string, update func(*store.SigningKey) error) (*store.SigningKey, error) {
	const op = "update key"
	if !storable(id) {
		return nil, notFound(op)
	}
	var out *store.SigningKey
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		k, err := scanKey(tx.QueryRow(ctx,
			`SELECT `+keyColumns+` FROM signing_keys WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return mapErr(op, err)
		}
		created := k.CreatedAt
		if err := update(k); err != nil {
			return err
		}
		k.ID, k.CreatedAt = id, created
		k.ActiveAt = dbTime(k.ActiveAt)
		k.RetiredAt = dbTime(k.RetiredAt)
		k.ExpiresAt = dbTime(k.ExpiresAt)
		sealed := k.Sealed
		if sealed == nil {
			sealed = []byte{}
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET alg = $2, sealed = $3, active_at = $4,
			retired_at = $5, expires_at = $6 WHERE id = $1`,
			k.ID, k.Alg, sealed, k.ActiveAt, nullTime(k.RetiredAt), nullTime(k.ExpiresAt)); err != nil {
			return mapErr(op, err)
		}
		out = k
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKey removes the key, or returns store.ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	const op = "delete key"
	if !storable(id) {
		return notFound(op)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1`, id)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op)
	}
	return nil
}

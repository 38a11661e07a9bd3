package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/store"
)

var (
	_ store.Operators = (*Store)(nil)
	_ store.Audit     = (*Store)(nil)
)

const operatorColumns = `id, login, name, password_hash, roles, disabled, created_at, updated_at`

func scanOperator(row pgx.Row) (*store.Operator, error) {
	var o store.Operator
	if err := row.Scan(&o.ID, &o.Login, &o.Name, &o.PasswordHash, &o.Roles, &o.Disabled,
		&o.CreatedAt, &o.UpdatedAt); err != nil {
		return nil, err
	}
	o.Roles = fromTextArray(o.Roles)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return &o, nil
}

// CreateOperator stores a new operator. A zero CreatedAt is set from the
// clock, a zero UpdatedAt from CreatedAt. ErrConflict when the ID or the
// login is taken.
func (s *Store) CreateOperator(ctx context.Context, o *store.Operator) error {
	created := dbTime(o.CreatedAt)
	if created.IsZero() {
		created = s.clock()
	}
	updated := dbTime(o.UpdatedAt)
	if updated.IsZero() {
		updated = created
	}
	return s.exec(ctx, "create operator", `INSERT INTO operators (`+operatorColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		o.ID, o.Login, o.Name, o.PasswordHash, textArray(o.Roles), o.Disabled, created, updated)
}

// GetOperator returns the operator with the ID, or store.ErrNotFound.
func (s *Store) GetOperator(ctx context.Context, id string) (*store.Operator, error) {
	const op = "get operator"
	if !storable(id) {
		return nil, notFound(op)
	}
	o, err := scanOperator(s.db(ctx).QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = $1`, id))
	if err != nil {
		return nil, mapErr(op, err)
	}
	return o, nil
}

// FindOperator returns the operator with the login, or store.ErrNotFound.
func (s *Store) FindOperator(ctx context.Context, login string) (*store.Operator, error) {
	const op = "find operator"
	if !storable(login) {
		return nil, notFound(op)
	}
	o, err := scanOperator(s.db(ctx).QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE login = $1`, login))
	if err != nil {
		return nil, mapErr(op, err)
	}
	return o, nil
}

// ListOperators returns every operator ordered by login.
func (s *Store) ListOperators(ctx context.Context) ([]*store.Operator, error) {
	const op = "list operators"
	rows, err := s.db(ctx).Query(ctx, `SELECT `+operatorColumns+` FROM operators ORDER BY login COLLATE "C"`)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var list []*store.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return list, nil
}

// UpdateOperator locks the operator's row, applies update and writes the
// result in one transaction. The ID and CreatedAt are kept.
func (s *Store) UpdateOperator(ctx context.Context, id string, update func(*store.Operator) error) (*store.Operator, error) {
	const op = "update operator"
	if !storable(id) {
		return nil, notFound(op)
	}
	var out *store.Operator
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		o, err := scanOperator(tx.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return mapErr(op, err)
		}
		created := o.CreatedAt
		if err := update(o); err != nil {
			return err
		}
		o.ID, o.CreatedAt, o.UpdatedAt = id, created, dbTime(o.UpdatedAt)
		if _, err := tx.Exec(ctx, `UPDATE operators SET login = $2, name = $3, password_hash = $4,
			roles = $5, disabled = $6, updated_at = $7 WHERE id = $1`,
			o.ID, o.Login, o.Name, o.PasswordHash, textArray(o.Roles), o.Disabled, o.UpdatedAt); err != nil {
			return mapErr(op, err)
		}
		out = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AppendAudit stores e, setting a zero At from the clock and an empty ID
// from At first.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if e.At.IsZero() {
		e.At = s.clock()
	}
	if e.ID == "" {
		e.ID = store.NewAuditID(e.At)
	}
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	data, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("postgres: encode audit details: %w", err)
	}
	return s.exec(ctx, "append audit event", `INSERT INTO audit_events (id, at, actor, action, account_id, details)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.ID, dbTime(e.At), e.Actor, e.Action, e.AccountID, data)
}

// ListAudit returns the selected events, newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]*store.AuditEvent, error) {
	const op = "list audit events"
	if !storable(q.AccountID, q.Actor, q.Before) {
		return nil, nil
	}
	var where []string
	var args []any
	add := func(cond, v string) {
		if v != "" {
			args = append(args, v)
			where = append(where, fmt.Sprintf(cond, len(args)))
		}
	}
	add("account_id = $%d", q.AccountID)
	add("actor = $%d", q.Actor)
	add("id < $%d", q.Before)
	sql := `SELECT id, at, actor, action, account_id, details FROM audit_events`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.PageSize())
	sql += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := s.db(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var list []*store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		var data []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.AccountID, &data); err != nil {
			return nil, mapErr(op, err)
		}
		e.At = e.At.UTC()
		if err := json.Unmarshal(data, &e.Details); err != nil {
			return nil, fmt.Errorf("postgres: %s: decode details: %w: %w", op, store.ErrUnavailable, err)
		}
		if len(e.Details) == 0 {
			e.Details = nil
		}
		list = append(list, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return list, nil
}

package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/esia-oidc/idp/store"
)

var (
	_ store.Operators = (*Store)(nil)
	_ store.Audit     = (*Store)(nil)
)

func copyOperator(o *store.Operator) *store.Operator {
	n := *o
	n.Roles = slices.Clone(o.Roles)
	return &n
}

// CreateOperator stores a copy of o; ErrConflict when the ID or the login is taken.
func (s *Store) CreateOperator(ctx context.Context, o *store.Operator) error {
	defer s.lock(ctx)()
	if _, ok := s.operators[o.ID]; ok {
		return fmt.Errorf("memory: operator %q: %w", o.ID, store.ErrConflict)
	}
	if _, ok := s.logins[o.Login]; ok {
		return fmt.Errorf("memory: operator login taken: %w", store.ErrConflict)
	}
	s.operators[o.ID] = copyOperator(o)
	s.logins[o.Login] = o.ID
	return nil
}

// GetOperator returns a copy of the operator, or ErrNotFound.
func (s *Store) GetOperator(ctx context.Context, id string) (*store.Operator, error) {
	defer s.rlock(ctx)()
	o, ok := s.operators[id]
	if !ok {
		return nil, fmt.Errorf("memory: operator %q: %w", id, store.ErrNotFound)
	}
	return copyOperator(o), nil
}

// FindOperator returns a copy of the operator with the login, or ErrNotFound.
func (s *Store) FindOperator(ctx context.Context, login string) (*store.Operator, error) {
	defer s.rlock(ctx)()
	id, ok := s.logins[login]
	if !ok {
		return nil, fmt.Errorf("memory: operator by login: %w", store.ErrNotFound)
	}
	return copyOperator(s.operators[id]), nil
}

// ListOperators returns copies of every operator ordered by login.
func (s *Store) ListOperators(ctx context.Context) ([]*store.Operator, error) {
	defer s.rlock(ctx)()
	list := make([]*store.Operator, 0, len(s.operators))
	for _, o := range s.operators {
		list = append(list, copyOperator(o))
	}
	slices.SortFunc(list, func(a, b *store.Operator) int { return cmp.Compare(a.Login, b.Login) })
	return list, nil
}

// UpdateOperator applies update to a copy and stores it unless update fails
// or the new login is taken. ID and CreatedAt are kept.
func (s *Store) UpdateOperator(ctx context.Context, id string, update func(*store.Operator) error) (*store.Operator, error) {
	defer s.lock(ctx)()
	old, ok := s.operators[id]
	if !ok {
		return nil, fmt.Errorf("memory: operator %q: %w", id, store.ErrNotFound)
	}
	next := copyOperator(old)
	if err := update(next); err != nil {
		return nil, err
	}
	next.ID, next.CreatedAt = old.ID, old.CreatedAt
	if holder, ok := s.logins[next.Login]; ok && holder != id {
		return nil, fmt.Errorf("memory: operator login taken: %w", store.ErrConflict)
	}
	delete(s.logins, old.Login)
	s.logins[next.Login] = id
	s.operators[id] = copyOperator(next)
	return next, nil
}

func copyAudit(e *store.AuditEvent) *store.AuditEvent {
	n := *e
	n.Details = maps.Clone(e.Details)
	return &n
}

// AppendAudit stores a copy of e, setting a zero At and an empty ID first.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	defer s.lock(ctx)()
	if e.At.IsZero() {
		e.At = s.now()
	}
	if e.ID == "" {
		e.ID = store.NewAuditID(e.At)
	}
	i, found := slices.BinarySearchFunc(s.audit, e.ID, func(x *store.AuditEvent, id string) int { return cmp.Compare(x.ID, id) })
	if found {
		return fmt.Errorf("memory: audit event %q: %w", e.ID, store.ErrConflict)
	}
	s.audit = slices.Insert(s.audit, i, copyAudit(e))
	return nil
}

// ListAudit returns copies of the selected events, newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]*store.AuditEvent, error) {
	limit := q.PageSize()
	defer s.rlock(ctx)()
	var list []*store.AuditEvent
	for i := len(s.audit) - 1; i >= 0 && len(list) < limit; i-- {
		e := s.audit[i]
		if (q.Before != "" && e.ID >= q.Before) ||
			(q.AccountID != "" && e.AccountID != q.AccountID) ||
			(q.Actor != "" && e.Actor != q.Actor) {
			continue
		}
		list = append(list, copyAudit(e))
	}
	return list, nil
}

// Package memory is the in-memory catalog store, the default: everything is
// lost when the process exits.
package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/esia-oidc/idp/catalog/store"
)

// Store is a store.Store in memory. It is safe for concurrent use.
type Store struct {
	now store.Clock

	mu       sync.Mutex
	next     int64
	apps     map[int64]*store.Application
	sessions map[string]*store.Session
	pending  map[string]*store.PendingLogin
	jtis     map[string]time.Time
}

var _ store.Store = (*Store)(nil)

// New returns an empty store; a nil clock means time.Now.
func New(now store.Clock) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, apps: map[int64]*store.Application{}, sessions: map[string]*store.Session{},
		pending: map[string]*store.PendingLogin{}, jtis: map[string]time.Time{}}
}

func copyApp(a *store.Application) *store.Application {
	c := *a
	c.Fields = maps.Clone(a.Fields)
	c.Verified = slices.Clone(a.Verified)
	c.History = slices.Clone(a.History)
	return &c
}

func copySession(s *store.Session) *store.Session {
	c := *s
	c.Scopes = slices.Clone(s.Scopes)
	c.Claims = slices.Clone(s.Claims)
	return &c
}

// CreateApplication implements store.Store.
func (s *Store) CreateApplication(_ context.Context, a *store.Application) error {
	if len(a.History) == 0 {
		return fmt.Errorf("memory: application without history")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	a.Number = s.next
	s.apps[a.Number] = copyApp(a)
	return nil
}

// GetApplication implements store.Store.
func (s *Store) GetApplication(_ context.Context, number int64) (*store.Application, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[number]
	if !ok {
		return nil, fmt.Errorf("application %d: %w", number, store.ErrNotFound)
	}
	return copyApp(a), nil
}

// ListApplications implements store.Store.
func (s *Store) ListApplications(_ context.Context, f store.ApplicationFilter) ([]store.Application, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Application
	for _, a := range s.apps {
		if (f.Subject != "" && a.Subject != f.Subject) || (f.ServiceID != "" && a.ServiceID != f.ServiceID) ||
			(f.Status != "" && a.Status != f.Status) || (!f.UpdatedBefore.IsZero() && !a.Updated.Before(f.UpdatedBefore)) {
			continue
		}
		out = append(out, *copyApp(a))
	}
	slices.SortFunc(out, func(a, b store.Application) int { return int(b.Number - a.Number) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// UpdateApplication implements store.Store.
func (s *Store) UpdateApplication(_ context.Context, number int64, fn func(*store.Application) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[number]
	if !ok {
		return fmt.Errorf("application %d: %w", number, store.ErrNotFound)
	}
	c := copyApp(a)
	if err := fn(c); err != nil {
		return err
	}
	c.Number = number
	s.apps[number] = copyApp(c)
	return nil
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(_ context.Context, sess *store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[sess.ID]; ok {
		return fmt.Errorf("session: %w", store.ErrConflict)
	}
	s.sessions[sess.ID] = copySession(sess)
	return nil
}

// live returns the session if it exists and has not expired; s.mu is held.
func (s *Store) live(id string) (*store.Session, error) {
	sess, ok := s.sessions[id]
	if !ok || !s.now().Before(sess.Expires) {
		return nil, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	return sess, nil
}

// GetSession implements store.Store.
func (s *Store) GetSession(_ context.Context, id string) (*store.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.live(id)
	if err != nil {
		return nil, err
	}
	return copySession(sess), nil
}

// UpdateSession implements store.Store.
func (s *Store) UpdateSession(_ context.Context, id string, fn func(*store.Session) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, err := s.live(id)
	if err != nil {
		return err
	}
	c := copySession(sess)
	if err := fn(c); err != nil {
		return err
	}
	c.ID = id
	s.sessions[id] = c
	return nil
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, id)
	return nil
}

// DeleteSessions implements store.Store.
func (s *Store) DeleteSessions(_ context.Context, subject, sid string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, sess := range s.sessions {
		if (subject == "" || sess.Subject == subject) && (sid == "" || sess.SID == sid) && (subject != "" || sid != "") {
			delete(s.sessions, id)
			n++
		}
	}
	return n, nil
}

// PutPendingLogin implements store.Store.
func (s *Store) PutPendingLogin(_ context.Context, p *store.PendingLogin) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for st, q := range s.pending { // collect the expired
		if !s.now().Before(q.Expires) {
			delete(s.pending, st)
		}
	}
	if _, ok := s.pending[p.State]; ok {
		return fmt.Errorf("pending login: %w", store.ErrConflict)
	}
	c := *p
	c.Scopes = slices.Clone(p.Scopes)
	s.pending[p.State] = &c
	return nil
}

// TakePendingLogin implements store.Store.
func (s *Store) TakePendingLogin(_ context.Context, state string) (*store.PendingLogin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[state]
	delete(s.pending, state)
	if !ok || !s.now().Before(p.Expires) {
		return nil, fmt.Errorf("pending login: %w", store.ErrNotFound)
	}
	return p, nil
}

// UseLogoutJTI implements store.Store.
func (s *Store) UseLogoutJTI(_ context.Context, jti string, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for j, until := range s.jtis {
		if !now.Before(until) {
			delete(s.jtis, j)
		}
	}
	if _, ok := s.jtis[jti]; ok {
		return fmt.Errorf("logout token jti: %w", store.ErrConflict)
	}
	s.jtis[jti] = expires
	return nil
}

// Ping implements store.Store.
func (s *Store) Ping(context.Context) error { return nil }

// Close implements store.Store.
func (s *Store) Close() {}

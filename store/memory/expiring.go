package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/esia-oidc/idp/store"
)

// ---- grants ----

func copyGrant(g *store.Grant) *store.Grant {
	n := *g
	n.Data = bytes.Clone(g.Data)
	return &n
}

// liveGrant returns the stored grant unless it is absent or expired at now.
// The caller holds the lock.
func (s *Store) liveGrant(k grantKey, now time.Time) (*store.Grant, bool) {
	g, ok := s.grants[k]
	if !ok || expired(g.ExpiresAt, now) {
		return nil, false
	}
	return g, true
}

// removeGrant deletes the grant and its place in the request index. The
// caller holds the lock.
func (s *Store) removeGrant(k grantKey, g *store.Grant) {
	delete(s.grants, k)
	rk := requestKey{g.Kind, g.RequestID}
	if sigs, ok := s.requests[rk]; ok {
		delete(sigs, g.Signature)
		if len(sigs) == 0 {
			delete(s.requests, rk)
		}
	}
}

// CreateGrant stores a copy of g; ErrConflict when (Kind, Signature) holds
// a grant that has not expired.
func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	defer s.lock(ctx)()
	now := s.now()
	k := grantKey{g.Kind, g.Signature}
	if old, ok := s.grants[k]; ok {
		if !expired(old.ExpiresAt, now) {
			return fmt.Errorf("memory: %s grant: %w", g.Kind, store.ErrConflict)
		}
		s.removeGrant(k, old)
	}
	s.grants[k] = copyGrant(g)
	rk := requestKey{g.Kind, g.RequestID}
	sigs, ok := s.requests[rk]
	if !ok {
		sigs = map[string]struct{}{}
		s.requests[rk] = sigs
	}
	sigs[g.Signature] = struct{}{}
	s.wrote(now)
	return nil
}

// GetGrant returns a copy of the grant, active or not; ErrNotFound when
// absent or expired.
func (s *Store) GetGrant(ctx context.Context, kind store.GrantKind, signature string) (*store.Grant, error) {
	defer s.rlock(ctx)()
	g, ok := s.liveGrant(grantKey{kind, signature}, s.now())
	if !ok {
		return nil, fmt.Errorf("memory: %s grant: %w", kind, store.ErrNotFound)
	}
	return copyGrant(g), nil
}

// DeleteGrant removes the grant; ErrNotFound when absent or expired.
func (s *Store) DeleteGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	defer s.lock(ctx)()
	k := grantKey{kind, signature}
	g, ok := s.grants[k]
	if !ok {
		return fmt.Errorf("memory: %s grant: %w", kind, store.ErrNotFound)
	}
	s.removeGrant(k, g)
	s.announce(kind, store.GrantChange{Signature: signature})
	if expired(g.ExpiresAt, s.now()) {
		return fmt.Errorf("memory: %s grant: %w", kind, store.ErrNotFound)
	}
	return nil
}

// DeactivateGrant marks an active grant inactive; ErrConflict when it is
// already inactive, ErrNotFound when absent or expired.
func (s *Store) DeactivateGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	defer s.lock(ctx)()
	g, ok := s.liveGrant(grantKey{kind, signature}, s.now())
	if !ok {
		return fmt.Errorf("memory: %s grant: %w", kind, store.ErrNotFound)
	}
	if !g.Active {
		return fmt.Errorf("memory: %s grant already inactive: %w", kind, store.ErrConflict)
	}
	g.Active = false
	s.announce(kind, store.GrantChange{Signature: signature})
	return nil
}

// DeactivateRequest marks inactive every grant of the kind with the request ID.
func (s *Store) DeactivateRequest(ctx context.Context, kind store.GrantKind, requestID string) error {
	defer s.lock(ctx)()
	key := requestKey{kind, requestID}
	for sig := range s.requests[key] {
		if g, ok := s.grants[grantKey{kind, sig}]; ok {
			g.Active = false
		}
	}
	// Deactivated grants leave the index: a family revoked at every refresh
	// then costs only its newest members.
	delete(s.requests, key)
	s.announce(kind, store.GrantChange{RequestID: requestID})
	return nil
}

// DeactivateSession marks inactive every live grant of the SSO session.
// The store holds few enough grants to look at each.
func (s *Store) DeactivateSession(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	defer s.lock(ctx)()
	s.deactivateWhere(func(g *store.Grant) bool { return g.SessionID == sessionID })
	s.announce(store.GrantAccessToken, store.GrantChange{SessionID: sessionID})
	return nil
}

// DeactivateSubject marks inactive every live grant of the account (of
// the client, when clientID is set).
func (s *Store) DeactivateSubject(ctx context.Context, subject, clientID string) error {
	if subject == "" {
		return nil
	}
	defer s.lock(ctx)()
	s.deactivateWhere(func(g *store.Grant) bool {
		return g.Subject == subject && (clientID == "" || g.ClientID == clientID)
	})
	s.announce(store.GrantAccessToken, store.GrantChange{Subject: subject, ClientID: clientID})
	return nil
}

// deactivateWhere marks inactive every live grant that match accepts; the
// caller holds the lock.
func (s *Store) deactivateWhere(match func(*store.Grant) bool) {
	now := s.now()
	for _, g := range s.grants {
		if !expired(g.ExpiresAt, now) && match(g) {
			g.Active = false
		}
	}
}

// WatchGrants implements store.GrantWatcher: watchers hear of every change
// while the change's lock is held, so the feed is whole and in order.
func (s *Store) WatchGrants(ctx context.Context, w store.GrantWatch) error {
	s.mu.Lock()
	s.watchers = append(s.watchers, w)
	w.Ready()
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.watchers = slices.DeleteFunc(s.watchers, func(x store.GrantWatch) bool { return x == w })
	s.mu.Unlock()
	w.Lost()
	return nil
}

// announce tells the watchers of a change to access-token grants; s.mu is
// held.
func (s *Store) announce(kind store.GrantKind, c store.GrantChange) {
	if kind != store.GrantAccessToken {
		return
	}
	for _, w := range s.watchers {
		w.Changed(c)
	}
}

// ---- entries ----

// PutEntry creates or replaces the value, expiring after ttl.
func (s *Store) PutEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	defer s.lock(ctx)()
	now := s.now()
	s.entries[key] = entry{value: bytes.Clone(value), expiresAt: now.Add(ttl)}
	s.wrote(now)
	return nil
}

// CreateEntry stores the value only if the key is absent or expired;
// otherwise ErrConflict.
func (s *Store) CreateEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	defer s.lock(ctx)()
	now := s.now()
	if e, ok := s.entries[key]; ok && !expired(e.expiresAt, now) {
		return fmt.Errorf("memory: entry: %w", store.ErrConflict)
	}
	s.entries[key] = entry{value: bytes.Clone(value), expiresAt: now.Add(ttl)}
	s.wrote(now)
	return nil
}

// ReplaceEntry replaces the value and its expiry only if a live entry is
// there; otherwise ErrNotFound.
func (s *Store) ReplaceEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	defer s.lock(ctx)()
	now := s.now()
	if e, ok := s.entries[key]; !ok || expired(e.expiresAt, now) {
		return fmt.Errorf("memory: entry: %w", store.ErrNotFound)
	}
	s.entries[key] = entry{value: bytes.Clone(value), expiresAt: now.Add(ttl)}
	s.wrote(now)
	return nil
}

// GetEntry returns a copy of the value, or ErrNotFound when absent or expired.
func (s *Store) GetEntry(ctx context.Context, key string) ([]byte, error) {
	defer s.rlock(ctx)()
	e, ok := s.entries[key]
	if !ok || expired(e.expiresAt, s.now()) {
		return nil, fmt.Errorf("memory: entry: %w", store.ErrNotFound)
	}
	return bytes.Clone(e.value), nil
}

// TakeEntry returns the value and deletes it; ErrNotFound when absent or expired.
func (s *Store) TakeEntry(ctx context.Context, key string) ([]byte, error) {
	defer s.lock(ctx)()
	e, ok := s.entries[key]
	if !ok {
		return nil, fmt.Errorf("memory: entry: %w", store.ErrNotFound)
	}
	delete(s.entries, key)
	if expired(e.expiresAt, s.now()) {
		return nil, fmt.Errorf("memory: entry: %w", store.ErrNotFound)
	}
	return e.value, nil // the stored slice is no longer reachable from the store
}

// DeleteEntry removes the value; no error when absent.
func (s *Store) DeleteEntry(ctx context.Context, key string) error {
	defer s.lock(ctx)()
	delete(s.entries, key)
	return nil
}

// CompareAndSwapEntry replaces the value and its expiry only if the live
// entry holds exactly old.
func (s *Store) CompareAndSwapEntry(ctx context.Context, key string, old, value []byte, ttl time.Duration) error {
	defer s.lock(ctx)()
	now := s.now()
	if err := s.holds(key, old, now); err != nil {
		return err
	}
	s.entries[key] = entry{value: bytes.Clone(value), expiresAt: now.Add(ttl)}
	s.wrote(now)
	return nil
}

// CompareAndDeleteEntry removes the value only if the live entry holds
// exactly old.
func (s *Store) CompareAndDeleteEntry(ctx context.Context, key string, old []byte) error {
	defer s.lock(ctx)()
	if err := s.holds(key, old, s.now()); err != nil {
		return err
	}
	delete(s.entries, key)
	return nil
}

// holds tells whether the live entry under key holds exactly old: nil,
// ErrNotFound or ErrConflict. The caller holds the lock.
func (s *Store) holds(key string, old []byte, now time.Time) error {
	e, ok := s.entries[key]
	if !ok || expired(e.expiresAt, now) {
		return fmt.Errorf("memory: entry: %w", store.ErrNotFound)
	}
	if !bytes.Equal(e.value, old) {
		return fmt.Errorf("memory: entry: %w", store.ErrConflict)
	}
	return nil
}

// ---- counters ----

// Incr adds one and sets the expiry to now+ttl; a lapsed counter starts from zero.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (store.Counter, error) {
	defer s.lock(ctx)()
	now := s.now()
	c, ok := s.counters[key]
	if !ok || expired(c.ExpiresAt, now) {
		c = store.Counter{}
	}
	c.N++
	c.ExpiresAt = now.Add(ttl)
	s.counters[key] = c
	s.wrote(now)
	return c, nil
}

// Decr takes one back from a live counter, never below zero, keeping its
// expiry.
func (s *Store) Decr(ctx context.Context, key string) (store.Counter, error) {
	defer s.lock(ctx)()
	c, ok := s.counters[key]
	if !ok || expired(c.ExpiresAt, s.now()) {
		return store.Counter{}, nil
	}
	if c.N > 0 {
		c.N--
	}
	s.counters[key] = c
	return c, nil
}

// GetCounter returns the counter; a missing or lapsed one is {0, zero time}.
func (s *Store) GetCounter(ctx context.Context, key string) (store.Counter, error) {
	defer s.rlock(ctx)()
	c, ok := s.counters[key]
	if !ok || expired(c.ExpiresAt, s.now()) {
		return store.Counter{}, nil
	}
	return c, nil
}

// ResetCounter removes the counter; no error when absent.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	defer s.lock(ctx)()
	delete(s.counters, key)
	return nil
}

// ---- sets ----

// AddToSet adds member with its expiry, or moves the expiry of one there.
func (s *Store) AddToSet(ctx context.Context, key, member string, expiresAt time.Time) error {
	defer s.lock(ctx)()
	members := s.sets[key]
	if members == nil {
		members = map[string]time.Time{}
		s.sets[key] = members
	}
	members[member] = expiresAt
	s.wrote(s.now())
	return nil
}

// RemoveFromSet removes member; no error when absent.
func (s *Store) RemoveFromSet(ctx context.Context, key, member string) error {
	defer s.lock(ctx)()
	delete(s.sets[key], member)
	if len(s.sets[key]) == 0 {
		delete(s.sets, key)
	}
	return nil
}

// SetMembers returns the live members, sorted.
func (s *Store) SetMembers(ctx context.Context, key string) ([]string, error) {
	defer s.rlock(ctx)()
	now := s.now()
	var out []string
	for m, exp := range s.sets[key] {
		if !expired(exp, now) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ---- sweeping ----

// wrote counts a write of an expiring value and sweeps when enough writes
// have happened since the last sweep: at least minSweep and at least as many
// as there were items left after it, so the cost of sweeping is amortized to
// a constant per write. The caller holds the lock.
func (s *Store) wrote(now time.Time) {
	s.writes++
	if s.writes < s.nextSweep {
		return
	}
	s.sweep(now)
	s.writes = 0
	s.nextSweep = max(minSweep, len(s.grants)+len(s.entries)+len(s.counters)+len(s.sets))
}

// sweep drops every expired grant, entry and counter. The caller holds the lock.
func (s *Store) sweep(now time.Time) {
	for k, g := range s.grants {
		if expired(g.ExpiresAt, now) {
			s.removeGrant(k, g)
		}
	}
	for k, e := range s.entries {
		if expired(e.expiresAt, now) {
			delete(s.entries, k)
		}
	}
	for k, c := range s.counters {
		if expired(c.ExpiresAt, now) {
			delete(s.counters, k)
		}
	}
	for k, members := range s.sets {
		for m, exp := range members {
			if expired(exp, now) {
				delete(members, m)
			}
		}
		if len(members) == 0 {
			delete(s.sets, k)
		}
	}
}

// size returns how many grants, entries and counters are held, expired or not.
func (s *Store) size() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.grants) + len(s.entries) + len(s.counters)
}

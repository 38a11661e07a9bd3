// Package memory is the in-memory backend of the storage contract: one Store
// that is both a store.Durable and a store.Ephemeral. It is the embedded
// default (`make run`) and the store of handler tests; its data is lost when
// the process exits.
//
// Values are deep-copied on the way in and out, so callers may keep and
// mutate what they pass or receive. Expired grants, entries and counters are
// treated as absent when read and swept from time to time on writes, with a
// cost amortized over the writes, so a long-running development server does
// not grow without bound.
//
// One mutex guards everything. The updaters of UpdateAccount, UpdateClient
// and UpdateKey run while it is held: they must not call the store. A
// transaction of Atomically holds it throughout, and the methods called with
// its context do not take it again.
//
// Jobs (EnqueueJob, NewJobRunner) run in goroutines of this process with
// the same retry rules as on PostgreSQL, but they are not durable: what is
// queued or running is lost when the process exits.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/esia-oidc/idp/store"
)

var (
	_ store.Durable      = (*Store)(nil)
	_ store.GrantWatcher = (*Store)(nil)
	_ store.Ephemeral    = (*Store)(nil)
)

// minSweep is the least number of writes between two sweeps.
const minSweep = 256

type identKey struct {
	kind  store.IdentifierKind
	value string
}

type consentKey struct{ account, client string }

type grantKey struct {
	kind      store.GrantKind
	signature string
}

type requestKey struct {
	kind      store.GrantKind
	requestID string
}

type entry struct {
	value     []byte
	expiresAt time.Time
}

// Store keeps everything in maps behind one mutex. The zero value is not
// usable; call New.
type Store struct {
	now store.Clock

	mu          sync.RWMutex
	accounts    map[string]*store.Account
	identifiers map[identKey]string // normalized identifier -> account ID
	clients     map[string]*store.Client
	consents    map[consentKey]*store.Consent
	keys        map[string]*store.SigningKey
	grants      map[grantKey]*store.Grant
	requests    map[requestKey]map[string]struct{} // (kind, request ID) -> signatures
	entries     map[string]entry
	counters    map[string]store.Counter
	sets        map[string]map[string]time.Time // key -> member -> expiry
	operators   map[string]*store.Operator
	logins      map[string]string // operator login -> ID
	audit       []*store.AuditEvent
	jobs        *jobQueue

	watchers []store.GrantWatch // see WatchGrants

	writes    int // expiring writes since the last sweep
	nextSweep int // sweep when writes reaches it
}

// New returns an empty store that reads the time from now; a nil now means
// time.Now.
func New(now store.Clock) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:         now,
		accounts:    map[string]*store.Account{},
		identifiers: map[identKey]string{},
		clients:     map[string]*store.Client{},
		consents:    map[consentKey]*store.Consent{},
		keys:        map[string]*store.SigningKey{},
		grants:      map[grantKey]*store.Grant{},
		requests:    map[requestKey]map[string]struct{}{},
		entries:     map[string]entry{},
		counters:    map[string]store.Counter{},
		sets:        map[string]map[string]time.Time{},
		operators:   map[string]*store.Operator{},
		logins:      map[string]string{},
		jobs:        newJobQueue(),
		nextSweep:   minSweep,
	}
}

// Ping reports whether the store is usable; a memory store always is.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close releases nothing; the data stays readable until the Store is dropped.
func (s *Store) Close() {}

// expired reports whether a deadline has passed at now; a zero deadline never does.
func expired(deadline, now time.Time) bool {
	return !deadline.IsZero() && !now.Before(deadline)
}

// ---- accounts ----

// takenBy returns the ID of an account other than id that holds one of a's
// identifiers, and which kind.
func (s *Store) takenBy(a *store.Account, id string) (store.IdentifierKind, bool) {
	for _, kind := range store.IdentifierKinds {
		v := a.Identifier(kind)
		if v == "" {
			continue
		}
		if holder, ok := s.identifiers[identKey{kind, v}]; ok && holder != id {
			return kind, true
		}
	}
	return "", false
}

func (s *Store) indexAccount(a *store.Account) {
	for _, kind := range store.IdentifierKinds {
		if v := a.Identifier(kind); v != "" {
			s.identifiers[identKey{kind, v}] = a.ID
		}
	}
}

func (s *Store) unindexAccount(a *store.Account) {
	for _, kind := range store.IdentifierKinds {
		if v := a.Identifier(kind); v != "" {
			delete(s.identifiers, identKey{kind, v})
		}
	}
}

// CreateAccount stores a copy of a; ErrConflict when its ID or an identifier is taken.
func (s *Store) CreateAccount(ctx context.Context, a *store.Account) error {
	defer s.lock(ctx)()
	if _, ok := s.accounts[a.ID]; ok {
		return fmt.Errorf("memory: account %q: %w", a.ID, store.ErrConflict)
	}
	if kind, taken := s.takenBy(a, a.ID); taken {
		return fmt.Errorf("memory: account %s identifier taken: %w", kind, store.ErrConflict)
	}
	c := a.Clone()
	s.accounts[a.ID] = c
	s.indexAccount(c)
	return nil
}

// GetAccount returns a copy of the account, or ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, id string) (*store.Account, error) {
	defer s.rlock(ctx)()
	a, ok := s.accounts[id]
	if !ok {
		return nil, fmt.Errorf("memory: account %q: %w", id, store.ErrNotFound)
	}
	return a.Clone(), nil
}

// FindAccount returns a copy of the account holding the identifier, or ErrNotFound.
func (s *Store) FindAccount(ctx context.Context, kind store.IdentifierKind, value string) (*store.Account, error) {
	defer s.rlock(ctx)()
	id, ok := s.identifiers[identKey{kind, value}]
	if !ok || value == "" {
		return nil, fmt.Errorf("memory: account by %s: %w", kind, store.ErrNotFound)
	}
	return s.accounts[id].Clone(), nil
}

// FindAccountByBank returns a copy of the account that linked the
// connector's subject (the earliest made, should two have), or ErrNotFound.
func (s *Store) FindAccountByBank(ctx context.Context, connector, subject string) (*store.Account, error) {
	defer s.rlock(ctx)()
	var found *store.Account
	for _, a := range s.accounts {
		if l := a.Factors.Bank(connector); l == nil || l.Subject != subject || subject == "" {
			continue
		}
		if found == nil || a.CreatedAt.Before(found.CreatedAt) || (a.CreatedAt.Equal(found.CreatedAt) && a.ID < found.ID) {
			found = a
		}
	}
	if found == nil {
		return nil, fmt.Errorf("memory: account by bank: %w", store.ErrNotFound)
	}
	return found.Clone(), nil
}

// UpdateAccount applies update to a copy and stores it unless update fails
// or the result takes another account's identifier. ID and CreatedAt are kept.
func (s *Store) UpdateAccount(ctx context.Context, id string, update func(*store.Account) error) (*store.Account, error) {
	defer s.lock(ctx)()
	old, ok := s.accounts[id]
	if !ok {
		return nil, fmt.Errorf("memory: account %q: %w", id, store.ErrNotFound)
	}
	next := old.Clone()
	if err := update(next); err != nil {
		return nil, err
	}
	next.ID, next.CreatedAt = old.ID, old.CreatedAt
	if kind, taken := s.takenBy(next, id); taken {
		return nil, fmt.Errorf("memory: account %s identifier taken: %w", kind, store.ErrConflict)
	}
	s.applyAccount(old, next.Clone())
	return next, nil
}

// applyAccount replaces old (nil for none) with next (nil to delete) and
// keeps the identifier index in step.
func (s *Store) applyAccount(old, next *store.Account) {
	if old != nil {
		s.unindexAccount(old)
		delete(s.accounts, old.ID)
	}
	if next != nil {
		s.accounts[next.ID] = next
		s.indexAccount(next)
	}
}

// DeleteAccount removes the account and its consents and frees its
// identifiers; ErrNotFound when absent. Grants, entries and sets that name
// the account stay (see store.Accounts).
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	defer s.lock(ctx)()
	a, ok := s.accounts[id]
	if !ok {
		return fmt.Errorf("memory: account %q: %w", id, store.ErrNotFound)
	}
	s.applyAccount(a, nil)
	for k := range s.consents {
		if k.account == id {
			delete(s.consents, k)
		}
	}
	return nil
}

// ---- clients ----

func copyClient(c *store.Client) *store.Client {
	n := *c
	n.SecretHash = bytes.Clone(c.SecretHash)
	n.SubjectSalt = bytes.Clone(c.SubjectSalt)
	n.RedirectURIs = slices.Clone(c.RedirectURIs)
	n.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	n.GrantTypes = slices.Clone(c.GrantTypes)
	n.ResponseTypes = slices.Clone(c.ResponseTypes)
	n.Scopes = slices.Clone(c.Scopes)
	return &n
}

// CreateClient stores a copy of c; ErrConflict when the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	defer s.lock(ctx)()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("memory: client %q: %w", c.ID, store.ErrConflict)
	}
	s.clients[c.ID] = copyClient(c)
	return nil
}

// GetClient returns a copy of the client, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	defer s.rlock(ctx)()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("memory: client %q: %w", id, store.ErrNotFound)
	}
	return copyClient(c), nil
}

// ListClients returns copies of all clients ordered by ID.
func (s *Store) ListClients(ctx context.Context) ([]*store.Client, error) {
	defer s.rlock(ctx)()
	list := make([]*store.Client, 0, len(s.clients))
	for _, c := range s.clients {
		list = append(list, copyClient(c))
	}
	slices.SortFunc(list, func(a, b *store.Client) int { return cmp.Compare(a.ID, b.ID) })
	return list, nil
}

// UpdateClient applies update to a copy and stores it unless update fails.
// ID and CreatedAt are kept.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(*store.Client) error) (*store.Client, error) {
	defer s.lock(ctx)()
	old, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("memory: client %q: %w", id, store.ErrNotFound)
	}
	next := copyClient(old)
	if err := update(next); err != nil {
		return nil, err
	}
	next.ID, next.CreatedAt = old.ID, old.CreatedAt
	s.clients[id] = copyClient(next)
	return next, nil
}

// DeleteClient removes the client, or returns ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	defer s.lock(ctx)()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("memory: client %q: %w", id, store.ErrNotFound)
	}
	delete(s.clients, id)
	return nil
}

// ---- consents ----

func copyConsent(c *store.Consent) *store.Consent {
	n := *c
	n.Scopes = slices.Clone(c.Scopes)
	return &n
}

// GetConsent returns a copy of the consent, or ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, accountID, clientID string) (*store.Consent, error) {
	defer s.rlock(ctx)()
	c, ok := s.consents[consentKey{accountID, clientID}]
	if !ok {
		return nil, fmt.Errorf("memory: consent: %w", store.ErrNotFound)
	}
	return copyConsent(c), nil
}

// PutConsent creates or replaces the consent of (AccountID, ClientID).
func (s *Store) PutConsent(ctx context.Context, c *store.Consent) error {
	defer s.lock(ctx)()
	s.consents[consentKey{c.AccountID, c.ClientID}] = copyConsent(c)
	return nil
}

// DeleteConsent removes the consent, or returns ErrNotFound.
func (s *Store) DeleteConsent(ctx context.Context, accountID, clientID string) error {
	defer s.lock(ctx)()
	k := consentKey{accountID, clientID}
	if _, ok := s.consents[k]; !ok {
		return fmt.Errorf("memory: consent: %w", store.ErrNotFound)
	}
	delete(s.consents, k)
	return nil
}

// ListConsents returns copies of the account's consents, newest first.
func (s *Store) ListConsents(ctx context.Context, accountID string) ([]*store.Consent, error) {
	defer s.rlock(ctx)()
	var out []*store.Consent
	for k, c := range s.consents {
		if k.account == accountID {
			out = append(out, copyConsent(c))
		}
	}
	slices.SortFunc(out, func(a, b *store.Consent) int {
		if c := b.GrantedAt.Compare(a.GrantedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	return out, nil
}

// ---- signing keys ----

func copyKey(k *store.SigningKey) *store.SigningKey {
	n := *k
	n.Sealed = bytes.Clone(k.Sealed)
	return &n
}

// CreateKey stores a copy of k; ErrConflict when the ID is taken.
func (s *Store) CreateKey(ctx context.Context, k *store.SigningKey) error {
	defer s.lock(ctx)()
	if _, ok := s.keys[k.ID]; ok {
		return fmt.Errorf("memory: key %q: %w", k.ID, store.ErrConflict)
	}
	s.keys[k.ID] = copyKey(k)
	return nil
}

// ListKeys returns copies of every key ordered by CreatedAt, then ID.
func (s *Store) ListKeys(ctx context.Context) ([]*store.SigningKey, error) {
	defer s.rlock(ctx)()
	list := make([]*store.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		list = append(list, copyKey(k))
	}
	slices.SortFunc(list, func(a, b *store.SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return list, nil
}

// UpdateKey applies update to a copy and stores it unless update fails.
// ID and CreatedAt are kept.
func (s *Store) UpdateKey(ctx context.Context, id string, update func(*store.SigningKey) error) (*store.SigningKey, error) {
	defer s.lock(ctx)()
	old, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("memory: key %q: %w", id, store.ErrNotFound)
	}
	next := copyKey(old)
	if err := update(next); err != nil {
		return nil, err
	}
	next.ID, next.CreatedAt = old.ID, old.CreatedAt
	s.keys[id] = copyKey(next)
	return next, nil
}

// DeleteKey removes the key, or returns ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	defer s.lock(ctx)()
	if _, ok := s.keys[id]; !ok {
		return fmt.Errorf("memory: key %q: %w", id, store.ErrNotFound)
	}
	delete(s.keys, id)
	return nil
}

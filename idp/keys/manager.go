// Package keys holds the token-signing keys of the provider: it creates and
// rotates them in the store (private parts sealed), keeps an immutable
// in-memory snapshot that every replica refreshes, publishes the JWK Set,
// verifies compact JWS (id_token_hint), and gives fosite a jwt.Signer that
// signs with the current key of an algorithm.
//
// A key's life: created and published at CreatedAt, signs from ActiveAt,
// stops signing at RetiredAt and stops being published at ExpiresAt, which is
// RetiredAt plus the longest lifetime of a token it signed, so that every
// token it signed keeps verifying until the token itself expires.
package keys

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/esia-oidc/idp/store"
)

// Supported signing algorithms.
const (
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256 over an RSA 2048 key
	ES256 = "ES256" // ECDSA with SHA-256 over a P-256 key
)

// SealPurpose is the purpose under which private keys are sealed; the key ID
// is the associated data.
const SealPurpose = "signing-key"

// DefaultRefreshInterval is what Run uses when given no interval: a rotation
// done on one replica reaches every other within this time.
const DefaultRefreshInterval = 10 * time.Second

// Errors of the package, tested with errors.Is.
var (
	// ErrUnsupportedAlg: the algorithm is not RS256 or ES256.
	ErrUnsupportedAlg = errors.New("keys: unsupported signing algorithm")
	// ErrNoSigningKey: no key of the algorithm may sign now.
	ErrNoSigningKey = errors.New("keys: no current signing key")
	// ErrUnknownKey: the token names a key that is not published, or no
	// published key verifies it.
	ErrUnknownKey = errors.New("keys: no published key verifies the token")
)

// Sealer encrypts and decrypts secrets at rest (implemented by idp/seal).
type Sealer interface {
	Seal(purpose string, plaintext, ad []byte) ([]byte, error)
	Open(purpose string, sealed, ad []byte) ([]byte, error)
}

// Manager holds the signing keys of one replica. Its methods are safe for
// concurrent use; the signing and verifying paths read an immutable snapshot
// without locks.
type Manager struct {
	st     store.Keys
	sealer Sealer
	now    store.Clock
	log    *slog.Logger

	mu    sync.Mutex           // serializes Refresh; guards cache and unopened
	cache map[string]*material // opened keys by kid
	// unopened holds, by kid, why a stored key could not be opened at the
	// last Refresh: logged once when it starts failing, not at every
	// refresh.
	unopened map[string]error
	// unreadable is len(unopened), for metrics.
	unreadable atomic.Int64

	snap atomic.Pointer[snapshot]
}

// New returns a Manager over the store. It holds no keys until Ensure or
// Refresh has loaded them. A nil clock means time.Now, a nil logger discards.
func New(st store.Keys, sealer Sealer, now store.Clock, logger *slog.Logger) *Manager {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{st: st, sealer: sealer, now: now, log: logger, cache: map[string]*material{}, unopened: map[string]error{}}
	empty, err := buildSnapshot(nil, now())
	if err != nil {
		// Marshaling an empty key set cannot fail; keep a usable zero value anyway.
		empty = &snapshot{jwks: []byte(`{"keys":[]}`), byKID: map[string]*key{}}
	}
	m.snap.Store(empty)
	return m
}

// material is an opened key: what does not change when the key's times do.
type material struct {
	alg    string
	sealed []byte
	priv   crypto.Signer
	pub    jose.JSONWebKey // public key with kid, alg and use
	// signers caches a jose.Signer per typ header value (string -> jose.Signer).
	signers sync.Map
}

// key is a loaded key: its times from the store and its opened material.
type key struct {
	id        string
	createdAt time.Time
	activeAt  time.Time
	retiredAt time.Time
	expiresAt time.Time
	*material
}

func (k *key) publishedAt(now time.Time) bool {
	return k.expiresAt.IsZero() || k.expiresAt.After(now)
}

func (k *key) signsAt(now time.Time) bool {
	return !k.activeAt.After(now) &&
		(k.retiredAt.IsZero() || k.retiredAt.After(now)) &&
		k.publishedAt(now)
}

// snapshot is an immutable view of the published keys.
type snapshot struct {
	keys    []*key            // published at build time, in store order
	byKID   map[string]*key   // the same keys by kid
	signing map[string][]*key // per alg, keys that may ever sign, newest ActiveAt first, ties by kid
	set     jose.JSONWebKeySet
	jwks    []byte
	// staleAt is the earliest future ExpiresAt of a published key: from then
	// on the published set differs. Zero when no published key expires.
	staleAt time.Time
}

// buildSnapshot returns the snapshot of the keys published at now.
func buildSnapshot(all []*key, now time.Time) (*snapshot, error) {
	s := &snapshot{
		byKID:   make(map[string]*key, len(all)),
		signing: map[string][]*key{},
		set:     jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(all))},
	}
	for _, k := range all {
		if !k.publishedAt(now) {
			continue
		}
		s.keys = append(s.keys, k)
		s.byKID[k.id] = k
		s.set.Keys = append(s.set.Keys, k.pub)
		if !k.expiresAt.IsZero() && (s.staleAt.IsZero() || k.expiresAt.Before(s.staleAt)) {
			s.staleAt = k.expiresAt
		}
		if k.retiredAt.IsZero() || k.retiredAt.After(k.activeAt) {
			s.signing[k.alg] = append(s.signing[k.alg], k)
		}
	}
	for _, c := range s.signing {
		slices.SortFunc(c, func(a, b *key) int {
			if d := b.activeAt.Compare(a.activeAt); d != 0 {
				return d
			}
			return strings.Compare(b.id, a.id)
		})
	}
	b, err := json.Marshal(s.set)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal JWK set: %w", err)
	}
	s.jwks = b
	return s, nil
}

// current returns the key of alg that signs at now, or nil.
func (s *snapshot) current(alg string, now time.Time) *key {
	for _, k := range s.signing[alg] {
		if k.signsAt(now) {
			return k
		}
	}
	return nil
}

// snapshotAt returns the snapshot, rebuilt from the loaded keys when a
// published key has expired since it was built (no store access).
func (m *Manager) snapshotAt(now time.Time) *snapshot {
	for {
		s := m.snap.Load()
		if s.staleAt.IsZero() || now.Before(s.staleAt) {
			return s
		}
		fresh, err := buildSnapshot(s.keys, now)
		if err != nil {
			m.log.Error("rebuild signing key snapshot", "err", err)
			return s
		}
		if m.snap.CompareAndSwap(s, fresh) {
			return fresh
		}
		// Another goroutine swapped in a newer snapshot; look at that one.
	}
}

// Refresh reloads every key from the store, opens the private keys it has not
// opened before (or whose sealed bytes changed) and swaps in a new snapshot.
// Keys already expired are neither opened nor published. On error the last
// good snapshot stays in use.
//
// A key that cannot be opened (sealed under another secret key, or a
// corrupt row) does not stop the others: the replica keeps the copy it
// opened before, if it has one, and otherwise leaves the key out of the
// snapshot. Each such key is logged at ERROR once, when it starts failing,
// and counted by Unreadable. Refresh fails only when the store cannot be
// read; Ensure refuses a start at which an algorithm has no key that signs.
func (m *Manager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	stored, err := m.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list signing keys: %w", err)
	}
	now := m.now()
	cache := make(map[string]*material, len(stored))
	unopened := map[string]error{}
	loaded := make([]*key, 0, len(stored))
	for _, sk := range stored {
		if !supported(sk.Alg) {
			m.log.Warn("ignoring signing key of unsupported algorithm", "kid", sk.ID, "alg", sk.Alg)
			continue
		}
		if !sk.ExpiresAt.IsZero() && !sk.ExpiresAt.After(now) {
			continue
		}
		mat := m.cache[sk.ID]
		if mat == nil || mat.alg != sk.Alg || !bytes.Equal(mat.sealed, sk.Sealed) {
			opened, err := m.open(sk)
			if err != nil {
				unopened[sk.ID] = err
				kept := mat != nil && mat.alg == sk.Alg
				if _, said := m.unopened[sk.ID]; !said {
					// kept: this replica opened the key before and keeps
					// that copy; otherwise the key is left out.
					m.log.Error("cannot open a signing key (sealed under another secret key, or a corrupt row); the other keys are served",
						"kid", sk.ID, "alg", sk.Alg, "kept_earlier_copy", kept, "err", err)
				}
				if !kept {
					continue
				}
			} else {
				mat = opened
			}
		}
		cache[sk.ID] = mat
		loaded = append(loaded, &key{
			id:        sk.ID,
			createdAt: sk.CreatedAt,
			activeAt:  sk.ActiveAt,
			retiredAt: sk.RetiredAt,
			expiresAt: sk.ExpiresAt,
			material:  mat,
		})
	}
	s, err := buildSnapshot(loaded, now)
	if err != nil {
		return err
	}
	for kid := range m.unopened {
		if _, still := unopened[kid]; !still {
			m.log.Info("signing key opens again, or is gone", "kid", kid)
		}
	}
	m.cache = cache
	m.unopened = unopened
	m.unreadable.Store(int64(len(unopened)))
	m.snap.Store(s)
	return nil
}

// Unreadable is the number of stored, unexpired keys that the last Refresh
// could not open (idp_signing_keys_unreadable).
func (m *Manager) Unreadable() int { return int(m.unreadable.Load()) }

// Run refreshes the keys every interval (DefaultRefreshInterval when zero or
// negative) until ctx is done. Failures are logged and the last good snapshot
// stays in use.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultRefreshInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("refresh signing keys", "err", err)
			}
		}
	}
}

// Ensure makes sure that each algorithm (RS256 and ES256 when none is given)
// has a key that signs now, creating one active at once where it has none,
// and then loads the keys. It is what a replica calls at start.
func (m *Manager) Ensure(ctx context.Context, algs ...string) error {
	if len(algs) == 0 {
		algs = []string{RS256, ES256}
	}
	for _, alg := range algs {
		if !supported(alg) {
			return fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
		}
	}
	stored, err := m.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list signing keys: %w", err)
	}
	now := m.now()
	for _, alg := range algs {
		usable := slices.ContainsFunc(stored, func(sk *store.SigningKey) bool {
			return sk.Alg == alg && signsAt(sk, now)
		})
		if usable {
			continue
		}
		sk, err := m.create(ctx, alg, now, now)
		if err != nil {
			return err
		}
		stored = append(stored, sk)
		m.log.Info("created signing key", "kid", sk.ID, "alg", alg)
	}
	if err := m.Refresh(ctx); err != nil {
		return err
	}
	// A key that cannot be opened is skipped; refuse only when an algorithm
	// is left with no key that signs (a wholly wrong secret key, or the
	// current key's row corrupt), naming the keys that failed.
	now = m.now()
	snap := m.snapshotAt(now)
	for _, alg := range algs {
		if snap.current(alg, now) != nil {
			continue
		}
		m.mu.Lock()
		var why []error
		for _, sk := range stored {
			if err := m.unopened[sk.ID]; err != nil && sk.Alg == alg {
				why = append(why, err)
			}
		}
		m.mu.Unlock()
		if len(why) == 0 {
			return fmt.Errorf("%w for %s", ErrNoSigningKey, alg)
		}
		return fmt.Errorf("%w: no %s key that signs can be opened: %w", ErrNoSigningKey, alg, errors.Join(why...))
	}
	return nil
}

// signsAt reports whether a stored key may sign at now.
func signsAt(sk *store.SigningKey, now time.Time) bool {
	return !sk.ActiveAt.After(now) &&
		(sk.RetiredAt.IsZero() || sk.RetiredAt.After(now)) &&
		(sk.ExpiresAt.IsZero() || sk.ExpiresAt.After(now))
}

// JWKS returns the public JWK Set of the published keys as JSON. The bytes
// are shared: callers must not modify them.
func (m *Manager) JWKS() []byte {
	return m.snapshotAt(m.now()).jwks
}

// PublicKeys returns the published public keys (a copy of the set).
func (m *Manager) PublicKeys() jose.JSONWebKeySet {
	s := m.snapshotAt(m.now())
	return jose.JSONWebKeySet{Keys: slices.Clone(s.set.Keys)}
}

// CurrentKeyID returns the kid of the key of alg that signs now.
func (m *Manager) CurrentKeyID(alg string) (string, error) {
	now := m.now()
	k := m.snapshotAt(now).current(alg, now)
	if k == nil {
		return "", fmt.Errorf("%w for %s", ErrNoSigningKey, alg)
	}
	return k.id, nil
}

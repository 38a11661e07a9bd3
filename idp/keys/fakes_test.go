package keys

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store/storetest"

	"github.com/esia-oidc/idp/store"
)

// memKeys is a small in-test store.Keys that copies values in and out, as a
// real backend does.
type memKeys struct {
	mu   sync.Mutex
	keys map[string]*store.SigningKey
}

var _ store.Keys = (*memKeys)(nil)

func newMemKeys() *memKeys { return &memKeys{keys: map[string]*store.SigningKey{}} }

func cloneKey(k *store.SigningKey) *store.SigningKey {
	c := *k
	c.Sealed = bytes.Clone(k.Sealed)
	return &c
}

func (s *memKeys) CreateKey(_ context.Context, k *store.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.ID]; ok {
		return store.ErrConflict
	}
	s.keys[k.ID] = cloneKey(k)
	return nil
}

func (s *memKeys) ListKeys(context.Context) ([]*store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*store.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, cloneKey(k))
	}
	slices.SortFunc(out, func(a, b *store.SigningKey) int {
		if d := a.CreatedAt.Compare(b.CreatedAt); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *memKeys) UpdateKey(_ context.Context, id string, update func(*store.SigningKey) error) (*store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := cloneKey(k)
	if err := update(c); err != nil {
		return nil, err
	}
	c.ID, c.CreatedAt = k.ID, k.CreatedAt
	s.keys[id] = c
	return cloneKey(c), nil
}

func (s *memKeys) DeleteKey(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; !ok {
		return store.ErrNotFound
	}
	delete(s.keys, id)
	return nil
}

func (s *memKeys) get(t *testing.T, id string) *store.SigningKey {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		t.Fatalf("key %s not in the store", id)
	}
	return cloneKey(k)
}

func (s *memKeys) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// errOpen is what the fake sealer returns for a sealed value it cannot open.
var errOpen = errors.New("fake sealer: message authentication failed")

// gcmSealer is a fake Sealer: AES-GCM under a random key, the purpose and
// the associated data both authenticated.
type gcmSealer struct{ aead cipher.AEAD }

func newSealer(t testing.TB) *gcmSealer {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &gcmSealer{aead: aead}
}

func (g *gcmSealer) ad(purpose string, ad []byte) []byte {
	return append([]byte(purpose+"\x00"), ad...)
}

func (g *gcmSealer) Seal(purpose string, plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, g.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.aead.Seal(nonce, nonce, plaintext, g.ad(purpose, ad)), nil
}

func (g *gcmSealer) Open(purpose string, sealed, ad []byte) ([]byte, error) {
	n := g.aead.NonceSize()
	if len(sealed) < n {
		return nil, errOpen
	}
	out, err := g.aead.Open(nil, sealed[:n], sealed[n:], g.ad(purpose, ad))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errOpen, err)
	}
	return out, nil
}

// newClock starts at the real time (fosite checks exp and iat against it).
func newClock() *storetest.Clock { return storetest.NewClockAt(time.Now().Truncate(time.Second)) }

// fixture is a manager over a fresh store.
type fixture struct {
	st     *memKeys
	sealer *gcmSealer
	clock  *storetest.Clock
	m      *Manager
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{st: newMemKeys(), sealer: newSealer(t), clock: newClock()}
	f.m = f.manager()
	return f
}

// manager returns another replica over the same store, sealer and clock.
func (f *fixture) manager() *Manager {
	return New(f.st, f.sealer, f.clock.Now, nil)
}

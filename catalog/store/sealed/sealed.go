// Package sealed wraps a catalog store so that the secrets it keeps are
// sealed at rest (idp/seal: AES-256-GCM under a key derived from the
// portal's secret key): a session's access, refresh and ID tokens, bound to
// the session's id, and a pending login's PKCE verifier and nonce, bound to
// its state. A copied row opens under no other id, and a leaked table holds
// no usable token.
package sealed

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/esia-oidc/idp/catalog/store"
	"github.com/esia-oidc/idp/idp/seal"
)

// Purposes of the sealed values (separate keys).
const (
	purposeTokens  = "catalog session tokens"
	purposePending = "catalog pending login"
)

// prefix marks a sealed value.
const prefix = "sealed1:"

// ErrOpen: a stored secret does not open (tampered, moved to another row,
// or sealed under another key, such as the random key of an earlier
// development run). It comes wrapped with store.ErrNotFound: a session or
// pending login that cannot be opened is as good as absent.
var ErrOpen = errors.New("catalog sealed store: a stored secret does not open")

func notFound(err error) error { return fmt.Errorf("%w: %w", store.ErrNotFound, err) }

// Store is a store.Store whose secrets are sealed in the inner store.
type Store struct {
	store.Store
	sealer *seal.Sealer
}

var _ store.Store = (*Store)(nil)

// New wraps inner.
func New(inner store.Store, sealer *seal.Sealer) *Store { return &Store{Store: inner, sealer: sealer} }

func (s *Store) seal(purpose, bindTo string, vs ...*string) error {
	for _, v := range vs {
		if *v == "" {
			continue
		}
		b, err := s.sealer.Seal(purpose, []byte(*v), []byte(bindTo))
		if err != nil {
			return err
		}
		*v = prefix + base64.RawURLEncoding.EncodeToString(b)
	}
	return nil
}

func (s *Store) open(purpose, bindTo string, vs ...*string) error {
	for _, v := range vs {
		if *v == "" {
			continue
		}
		raw, ok := strings.CutPrefix(*v, prefix)
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if !ok || err != nil {
			return ErrOpen
		}
		p, err := s.sealer.Open(purpose, b, []byte(bindTo))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrOpen, err)
		}
		*v = string(p)
	}
	return nil
}

func (s *Store) sealSession(x *store.Session) error {
	return s.seal(purposeTokens, x.ID, &x.AccessToken, &x.RefreshToken, &x.IDToken)
}

func (s *Store) openSession(x *store.Session) error {
	return s.open(purposeTokens, x.ID, &x.AccessToken, &x.RefreshToken, &x.IDToken)
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, x *store.Session) error {
	c := *x
	if err := s.sealSession(&c); err != nil {
		return err
	}
	return s.Store.CreateSession(ctx, &c)
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, id string) (*store.Session, error) {
	x, err := s.Store.GetSession(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.openSession(x); err != nil {
		return nil, notFound(err)
	}
	return x, nil
}

// UpdateSession implements store.Store.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*store.Session) error) error {
	return s.Store.UpdateSession(ctx, id, func(x *store.Session) error {
		if err := s.openSession(x); err != nil {
			return notFound(err)
		}
		if err := fn(x); err != nil {
			return err
		}
		x.ID = id
		return s.sealSession(x)
	})
}

// PutPendingLogin implements store.Store.
func (s *Store) PutPendingLogin(ctx context.Context, p *store.PendingLogin) error {
	c := *p
	if err := s.seal(purposePending, c.State, &c.Verifier, &c.Nonce); err != nil {
		return err
	}
	return s.Store.PutPendingLogin(ctx, &c)
}

// TakePendingLogin implements store.Store.
func (s *Store) TakePendingLogin(ctx context.Context, state string) (*store.PendingLogin, error) {
	p, err := s.Store.TakePendingLogin(ctx, state)
	if err != nil {
		return nil, err
	}
	if err := s.open(purposePending, p.State, &p.Verifier, &p.Nonce); err != nil {
		return nil, notFound(err)
	}
	return p, nil
}

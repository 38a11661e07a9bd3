package sealed_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/catalog/store"
	"github.com/esia-oidc/idp/catalog/store/memory"
	"github.com/esia-oidc/idp/catalog/store/sealed"
	"github.com/esia-oidc/idp/catalog/store/storetest"
	"github.com/esia-oidc/idp/idp/seal"
)

func newSealer(t *testing.T, key string) *seal.Sealer {
	t.Helper()
	s, err := seal.New([]byte(strings.Repeat(key, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now store.Clock) store.Store {
		return sealed.New(memory.New(now), newSealer(t, "k"))
	})
}

func TestSecretsAreSealedAndBound(t *testing.T) {
	inner := memory.New(nil)
	s := sealed.New(inner, newSealer(t, "k"))
	ctx := t.Context()
	now := time.Now()
	sess := &store.Session{ID: "h1", Subject: "sub", AccessToken: "access-secret", RefreshToken: "refresh-secret", IDToken: "id-secret",
		TokenExpiry: now.Add(time.Minute), Created: now, Expires: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	raw, err := inner.GetSession(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{raw.AccessToken, raw.RefreshToken, raw.IDToken} {
		if strings.Contains(v, "secret") || !strings.HasPrefix(v, "sealed1:") {
			t.Errorf("stored in the clear: %q", v)
		}
	}
	got, err := s.GetSession(ctx, "h1")
	if err != nil || got.AccessToken != "access-secret" || got.RefreshToken != "refresh-secret" || got.IDToken != "id-secret" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	// A row copied under another id does not open.
	raw.ID = "h2"
	if err := inner.CreateSession(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "h2"); !errors.Is(err, sealed.ErrOpen) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a moved session: %v, want ErrOpen and ErrNotFound", err)
	}
	// Another key opens nothing.
	other := sealed.New(inner, newSealer(t, "o"))
	if _, err := other.GetSession(ctx, "h1"); !errors.Is(err, sealed.ErrOpen) {
		t.Errorf("under another key: %v, want ErrOpen", err)
	}

	if err := s.PutPendingLogin(ctx, &store.PendingLogin{State: "st", Nonce: "nonce-secret", Verifier: "verifier-secret", Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	p, err := s.TakePendingLogin(ctx, "st")
	if err != nil || p.Verifier != "verifier-secret" || p.Nonce != "nonce-secret" {
		t.Fatalf("pending login %+v, %v", p, err)
	}
}

package postgres_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
)

// The hot paths of the token endpoint: client lookup and refresh-token
// rotation. Run with: go test -run '^$' -bench . ./store/postgres/

func BenchmarkGetClient(b *testing.B) {
	s := postgrestest.NewStore(b, nil)
	c := &store.Client{ID: "rp", Name: "RP", RedirectURIs: []string{"https://rp.example/cb"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "fullname", "snils"}, TokenEndpointAuthMethod: "client_secret_basic",
		SecretHash: []byte("0123456789abcdef0123456789abcdef")}
	if err := s.CreateClient(b.Context(), c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetClient(b.Context(), "rp"); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGrant(sig string) *store.Grant {
	now := time.Now()
	return &store.Grant{Kind: store.GrantRefreshToken, Signature: sig, RequestID: "req", ClientID: "rp",
		Subject: "acc", Active: true, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Data: make([]byte, 512)}
}

func BenchmarkCreateGrant(b *testing.B) {
	s := postgrestest.NewStore(b, nil)
	i := 0
	for b.Loop() {
		i++
		if err := s.CreateGrant(b.Context(), benchGrant("sig-"+strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetGrant(b *testing.B) {
	s := postgrestest.NewStore(b, nil)
	if err := s.CreateGrant(b.Context(), benchGrant("sig")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetGrant(b.Context(), store.GrantRefreshToken, "sig"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeactivateGrant(b *testing.B) {
	s := postgrestest.NewStore(b, nil)
	const n = 1000
	for i := range n {
		if err := s.CreateGrant(b.Context(), benchGrant("sig-"+strconv.Itoa(i))); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		// The first pass over the grants wins, later passes measure reuse
		// detection (ErrConflict).
		err := s.DeactivateGrant(b.Context(), store.GrantRefreshToken, "sig-"+strconv.Itoa(i%n))
		if err != nil && (i < n || !errors.Is(err, store.ErrConflict)) {
			b.Fatal(err)
		}
		i++
	}
}

package redis_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/redis"
	"github.com/esia-oidc/idp/store/redis/redistest"
	"github.com/esia-oidc/idp/store/storetest"
)

// The hot paths of the token endpoint: create an access token, read it back.
func BenchmarkGrant(b *testing.B) {
	url, prefix := redistest.NewPrefix(b)
	clk := storetest.NewClock()
	s, err := redis.Open(b.Context(), url, prefix, clk.Now)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	data := make([]byte, 1024)
	g := &store.Grant{Kind: store.GrantAccessToken, RequestID: "req", ClientID: "rp", Subject: "acc",
		Active: true, RequestedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour), Data: data}

	b.Run("CreateGrant", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			g := *g
			g.Signature = "c" + strconv.Itoa(i)
			g.RequestID = g.Signature
			if err := s.CreateGrant(b.Context(), &g); err != nil {
				b.Fatal(err)
			}
		}
	})
	g.Signature = "get"
	if err := s.CreateGrant(b.Context(), g); err != nil {
		b.Fatal(err)
	}
	b.Run("GetGrant", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.GetGrant(b.Context(), store.GrantAccessToken, "get"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetGrantParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetGrant(b.Context(), store.GrantAccessToken, "get"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Incr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Incr(b.Context(), "n", time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package oidc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
)

func TestClientCache(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memory.New(clock)
	if err := st.CreateClient(ctx, &store.Client{ID: "c1", Name: "one", TokenEndpointAuthMethod: "none"}); err != nil {
		t.Fatal(err)
	}
	p := &Provider{storage: &storage{clients: newClientCache(st, 2*time.Second, clock)}}
	cc := p.storage.clients
	if c, err := cc.get(ctx, "c1"); err != nil || c.rec.Name != "one" {
		t.Fatalf("get: %v %v", c, err)
	}
	// A change behind the cache's back shows after the TTL.
	st.UpdateClient(ctx, "c1", func(c *store.Client) error { c.Name = "two"; return nil })
	if c, _ := cc.get(ctx, "c1"); c.rec.Name != "one" {
		t.Errorf("cached name = %q before the TTL", c.rec.Name)
	}
	now = now.Add(3 * time.Second)
	if c, _ := cc.get(ctx, "c1"); c.rec.Name != "two" {
		t.Errorf("name = %q after the TTL", c.rec.Name)
	}
	// Changes through the admin wrapper show at once, deletion too.
	admin := p.InvalidatingClients(st)
	admin.UpdateClient(ctx, "c1", func(c *store.Client) error { c.Name = "three"; return nil })
	if c, _ := cc.get(ctx, "c1"); c.rec.Name != "three" {
		t.Errorf("name = %q after an admin update", c.rec.Name)
	}
	if err := admin.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.get(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted client: %v", err)
	}
	// Unknown clients are not cached.
	cc.get(ctx, "nobody")
	if _, ok := cc.entries["nobody"]; ok {
		t.Error("an unknown client was cached")
	}
}

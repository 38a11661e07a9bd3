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

// blockingClients counts reads and holds each until released.
type blockingClients struct {
	store.Clients
	reads   chan string   // told of each read as it starts
	release chan struct{} // each read waits for a value
}

func (b *blockingClients) GetClient(ctx context.Context, id string) (*store.Client, error) {
	b.reads <- id
	<-b.release
	return b.Clients.GetClient(ctx, id)
}

// A request that gives up while the client is read leaves the read to
// finish for the others and fill the cache; an invalidation during a read
// keeps its result out of the cache.
func TestClientCacheSharedRead(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memory.New(clock)
	if err := st.CreateClient(ctx, &store.Client{ID: "c1", Name: "one", TokenEndpointAuthMethod: "none"}); err != nil {
		t.Fatal(err)
	}
	bc := &blockingClients{Clients: st, reads: make(chan string, 10), release: make(chan struct{})}
	cc := newClientCache(bc, 2*time.Second, clock)

	gone, leave := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := cc.get(gone, "c1"); done <- err }()
	<-bc.reads // the read has started
	leave()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a request that gave up: %v, want context.Canceled", err)
	}
	bc.release <- struct{}{} // the read finishes without it
	// The shared read filled the cache: no second read (a read would
	// block here on release, and reads would hold a second id).
	c, err := cc.get(ctx, "c1")
	if err != nil || c.rec.Name != "one" {
		t.Fatalf("get after the shared read: %v, %v", c, err)
	}
	if len(bc.reads) != 0 {
		t.Fatalf("%d more reads, want the cache's answer", len(bc.reads))
	}

	// An invalidation while a read is under way.
	now = now.Add(3 * time.Second)
	go func() { _, err := cc.get(ctx, "c1"); done <- err }()
	<-bc.reads
	cc.invalidate("c1")
	bc.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	go func() { _, err := cc.get(ctx, "c1"); done <- err }()
	<-bc.reads // read again: the earlier result was not kept
	bc.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

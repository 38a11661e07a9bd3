package oidc

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/esia-oidc/idp/store"
)

// clientCache keeps recently used clients for a short time: every token,
// introspection and refresh request needs its client, and a database round
// trip for each would dominate their cost. Changes made through this
// process's admin API take effect at once (Invalidate); other replicas see
// them within the cache's TTL.
type clientCache struct {
	clients store.Clients
	ttl     time.Duration
	now     store.Clock

	mu      sync.RWMutex
	entries map[string]cachedClient
	// gen counts invalidations: a read begun before one does not fill
	// the cache.
	gen uint64
	// reads shares one store read among the requests that miss the same
	// client at once: when an entry expires under load, every request in
	// flight misses it together.
	reads singleflight.Group
}

// clientReadTimeout bounds a shared read, which no single request's
// context may cancel for the others.
const clientReadTimeout = 10 * time.Second

type cachedClient struct {
	c       *client
	expires time.Time
}

// maxCachedClients bounds the cache; past it the cache starts over.
const maxCachedClients = 10000

func newClientCache(clients store.Clients, ttl time.Duration, now store.Clock) *clientCache {
	return &clientCache{clients: clients, ttl: ttl, now: now, entries: map[string]cachedClient{}}
}

// get returns the client, from the cache when fresh. Unknown clients are not
// cached, so made-up client ids cannot fill it.
func (cc *clientCache) get(ctx context.Context, id string) (*client, error) {
	cc.mu.RLock()
	e, ok := cc.entries[id]
	cc.mu.RUnlock()
	if ok && cc.now().Before(e.expires) {
		return e.c, nil
	}
	ch := cc.reads.DoChan(id, func() (any, error) {
		cc.mu.RLock()
		gen := cc.gen
		cc.mu.RUnlock()
		now := cc.now()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), clientReadTimeout)
		defer cancel()
		rec, err := cc.clients.GetClient(ctx, id)
		if err != nil {
			return nil, err
		}
		c := newClient(rec)
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if cc.gen == gen {
			if len(cc.entries) >= maxCachedClients {
				cc.entries = map[string]cachedClient{}
			}
			cc.entries[id] = cachedClient{c: c, expires: now.Add(cc.ttl)}
		}
		return c, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*client), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// invalidate forgets a client.
func (cc *clientCache) invalidate(id string) {
	cc.mu.Lock()
	delete(cc.entries, id)
	cc.gen++
	cc.mu.Unlock()
	cc.reads.Forget(id) // later requests read it afresh
}

// InvalidatingClients wraps the client store given to the admin API so that
// its changes reach this process's cache at once.
func (p *Provider) InvalidatingClients(c store.Clients) store.Clients {
	return invalidatingClients{Clients: c, invalidate: p.storage.clients.invalidate}
}

type invalidatingClients struct {
	store.Clients
	invalidate func(id string)
}

func (c invalidatingClients) UpdateClient(ctx context.Context, id string, update func(*store.Client) error) (*store.Client, error) {
	defer c.invalidate(id)
	return c.Clients.UpdateClient(ctx, id, update)
}

func (c invalidatingClients) DeleteClient(ctx context.Context, id string) error {
	defer c.invalidate(id)
	return c.Clients.DeleteClient(ctx, id)
}

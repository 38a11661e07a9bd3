package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/redis"
	"github.com/esia-oidc/idp/store/redis/redistest"
	"github.com/esia-oidc/idp/store/storetest"
)

// haTopologies are the topologies beside standalone Redis, which the other
// tests use: a three-master Cluster and a Sentinel-managed primary and
// replica, as scripts/redis-ha.sh starts them.
var haTopologies = []redistest.Topology{redistest.Cluster, redistest.Sentinel}

// openOn connects to the topology's test Redis under a fresh key prefix
// through Open, as the server does with IDP_REDIS_URL.
func openOn(t *testing.T, tp redistest.Topology, now store.Clock) *redis.Store {
	t.Helper()
	url, prefix := redistest.NewPrefixOn(t, tp)
	s, err := redis.Open(t.Context(), url, prefix, now)
	if err != nil {
		t.Fatalf("Open (%s): %v", tp.Name, err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestEphemeralTopologies runs the contract of store.Ephemeral on a Redis
// Cluster and under Sentinel (TestEphemeral runs it on standalone Redis).
// On Cluster every script and pipeline meets real slots: a command that
// named keys of two slots would fail with CROSSSLOT.
func TestEphemeralTopologies(t *testing.T) {
	for _, tp := range haTopologies {
		t.Run(tp.Name, func(t *testing.T) {
			storetest.RunEphemeral(t, func(t *testing.T, now store.Clock) store.Ephemeral { return openOn(t, tp, now) })
		})
	}
}

// On a Cluster the store's keys spread over every master (the prefix is no
// hash tag, and no key has one), and a request family whose grants live on
// different masters than its index is still revoked whole.
func TestClusterSpreadsKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, prefix := redistest.NewPrefixOn(t, redistest.Cluster)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewClusterClient(opts.Cluster())
	t.Cleanup(func() { raw.Close() })
	clk := storetest.NewClock()
	s, err := redis.Open(ctx, url, prefix, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)

	const n = 30
	for i := range n {
		if err := s.CreateGrant(ctx, &store.Grant{Kind: store.GrantAccessToken, Signature: fmt.Sprintf("sig-%d", i),
			RequestID: "req", ClientID: "rp", Active: true, RequestedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
			t.Fatalf("CreateGrant %d: %v", i, err)
		}
	}
	var mu sync.Mutex
	perMaster := map[string]int{}
	err = raw.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		keys, err := node.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		defer mu.Unlock()
		perMaster[node.Options().Addr] = len(keys)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for addr, k := range perMaster {
		if k == 0 {
			t.Errorf("master %s holds none of the store's keys: %v", addr, perMaster)
		}
		total += k
	}
	if len(perMaster) != 3 || total != n+1 {
		t.Fatalf("keys per master %v, want %d keys (the grants and their family) over 3 masters", perMaster, n+1)
	}

	if err := s.DeactivateRequest(ctx, store.GrantAccessToken, "req"); err != nil {
		t.Fatalf("DeactivateRequest: %v", err)
	}
	for i := range n {
		g, err := s.GetGrant(ctx, store.GrantAccessToken, fmt.Sprintf("sig-%d", i))
		if err != nil || g.Active {
			t.Fatalf("GetGrant sig-%d after DeactivateRequest: %+v, %v; want inactive", i, g, err)
		}
	}
}

// Open refuses, on a Cluster, a prefix that holds a hash tag: every key
// would land in one slot. Elsewhere, and for braces that make no tag, it
// opens.
func TestOpenRefusesHashTagPrefixOnCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cluster := redistest.Cluster.URL()
	for _, prefix := range []string{"{idp}:", "idp:{x}:", "a{b}c{d}:"} {
		if s, err := redis.Open(ctx, cluster, prefix, nil); err == nil {
			s.Close()
			t.Errorf("Open on a Cluster with prefix %q: no error", prefix)
		} else if !strings.Contains(err.Error(), "hash tag") {
			t.Errorf("Open on a Cluster with prefix %q: %v, want an error about the hash tag", prefix, err)
		}
	}
	for _, c := range []struct{ url, prefix string }{
		{cluster, "idp:"},
		{cluster, "idp:{}:"}, // an empty tag is no tag
		{cluster, "idp:}{"},
		{redistest.URL(), "{idp}:"},
		{redistest.Sentinel.URL(), "{idp}:"},
	} {
		s, err := redis.Open(ctx, c.url, c.prefix, nil)
		if err != nil {
			t.Errorf("Open(%s) with prefix %q: %v", c.url, c.prefix, err)
			continue
		}
		s.Close()
	}
}

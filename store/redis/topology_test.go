package redis_test

import (
	"testing"

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

package redis_test

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/redis"
	"github.com/esia-oidc/idp/store/redis/redistest"
	"github.com/esia-oidc/idp/store/storetest"
)

// open connects to the test server under a fresh key prefix; the prefix's
// keys are deleted and the client closed when the test ends.
func open(t *testing.T, now store.Clock) *redis.Store {
	t.Helper()
	url, prefix := redistest.NewPrefix(t)
	s, err := redis.Open(t.Context(), url, prefix, now)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestEphemeral(t *testing.T) {
	storetest.RunEphemeral(t, func(t *testing.T, now store.Clock) store.Ephemeral { return open(t, now) })
}

// TestEphemeralSpread runs the contract on a client that spreads keys over
// nodes (a Ring of one shard), as a Cluster client does: the store takes
// the paths it takes on Cluster (DeactivateRequest reads the family, then
// revokes each member with a script of its own key).
func TestEphemeralSpread(t *testing.T) {
	storetest.RunEphemeral(t, func(t *testing.T, now store.Clock) store.Ephemeral { return openRing(t, now) })
}

func openRing(t *testing.T, now store.Clock) *redis.Store {
	t.Helper()
	ring, _, prefix := newRing(t)
	s := redis.New(ring, prefix, now)
	t.Cleanup(s.Close)
	return s
}

// newRing returns a Ring of one shard on the test server, the server's
// options, and a fresh key prefix.
func newRing(t *testing.T) (*goredis.Ring, *goredis.UniversalOptions, string) {
	t.Helper()
	url, prefix := redistest.NewPrefix(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"only": opts.Addrs[0]},
		DB: opts.DB, Username: opts.Username, Password: opts.Password})
	return ring, opts, prefix
}

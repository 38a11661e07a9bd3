package redis_test

import (
	"testing"

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

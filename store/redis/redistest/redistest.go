// Package redistest gives tests an isolated corner of a test Redis server:
// its URL and a fresh key prefix whose keys are deleted when the test ends.
// Beside the standalone server (IDP_TEST_REDIS_URL) there are a Redis
// Cluster (IDP_TEST_REDIS_CLUSTER_URL) and a Sentinel-managed primary and
// replica (IDP_TEST_REDIS_SENTINEL_URL); scripts/redis-ha.sh starts both on
// the default URLs' ports, and `make test` runs it. A test on a topology
// that does not answer fails: it never skips.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	idpredis "github.com/esia-oidc/idp/store/redis"
)

// The URLs used when the environment names none.
const (
	// DefaultURL is the standalone server's.
	DefaultURL = "redis://127.0.0.1:6379/0"
	// DefaultClusterURL is the three-master Cluster of scripts/redis-ha.sh.
	DefaultClusterURL = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"
	// DefaultSentinelURL is the Sentinel setup of scripts/redis-ha.sh:
	// three Sentinels watching master "idpmaster" (a primary and a replica).
	DefaultSentinelURL = "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/idpmaster/0"
)

// A Topology is one way of running the test Redis.
type Topology struct {
	Name       string // "standalone", "cluster" or "sentinel": a subtest's name
	Env        string // the variable that names its URL
	DefaultURL string // the URL when Env is unset
}

// The topologies the tests run on.
var (
	Standalone = Topology{Name: "standalone", Env: "IDP_TEST_REDIS_URL", DefaultURL: DefaultURL}
	Cluster    = Topology{Name: "cluster", Env: "IDP_TEST_REDIS_CLUSTER_URL", DefaultURL: DefaultClusterURL}
	Sentinel   = Topology{Name: "sentinel", Env: "IDP_TEST_REDIS_SENTINEL_URL", DefaultURL: DefaultSentinelURL}
)

// Topologies returns Standalone, Cluster and Sentinel.
func Topologies() []Topology { return []Topology{Standalone, Cluster, Sentinel} }

// URL returns the topology's URL: its variable's value, or its default.
func (tp Topology) URL() string {
	if u := os.Getenv(tp.Env); u != "" {
		return u
	}
	return tp.DefaultURL
}

// URL returns the standalone test server's URL: IDP_TEST_REDIS_URL, or
// DefaultURL.
func URL() string { return Standalone.URL() }

// NewPrefix is NewPrefixOn the standalone server.
func NewPrefix(t testing.TB) (url, prefix string) {
	t.Helper()
	return NewPrefixOn(t, Standalone)
}

// NewPrefixOn returns the URL of the topology's test Redis and a fresh key
// prefix ("idptest:<random>:", no braces: it is no hash tag, so the keys
// spread over a Cluster's masters). It fails the test when Redis cannot be
// reached, and deletes every key under the prefix, on every master, when
// the test ends.
func NewPrefixOn(t testing.TB, tp Topology) (url, prefix string) {
	t.Helper()
	url = tp.URL()
	opts, err := idpredis.ParseURL(url)
	if err != nil {
		t.Fatalf("redistest: %s: %v", tp.Env, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix = "idptest:" + hex.EncodeToString(b[:]) + ":"

	c := goredis.NewUniversalClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("redistest: Redis (%s) at %s is not reachable (scripts/services.sh starts it): %v", tp.Name, tp.Env, err)
	}
	t.Cleanup(func() {
		defer c.Close()
		// The test's context is already done when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DeletePrefix(ctx, c, prefix); err != nil {
			t.Errorf("redistest: deleting keys under %q: %v", prefix, err)
		}
	})
	return url, prefix
}

// DeletePrefix deletes every key that begins with prefix (SCAN + UNLINK), on
// every master of a Cluster. prefix must not hold glob characters (*?[\).
func DeletePrefix(ctx context.Context, c goredis.UniversalClient, prefix string) error {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return deleteOn(ctx, node, prefix)
		})
	}
	return deleteOn(ctx, c, prefix)
}

func deleteOn(ctx context.Context, c goredis.Cmdable, prefix string) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			// One UNLINK per key, pipelined: on a Cluster the keys of one
			// batch may live in different slots.
			_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for _, k := range keys {
					p.Unlink(ctx, k)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("unlink: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

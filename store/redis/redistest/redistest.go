// Package redistest gives tests an isolated corner of the test Redis server:
// its URL and a fresh key prefix whose keys are deleted when the test ends.
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

// DefaultURL is used when IDP_TEST_REDIS_URL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns the test server's URL: IDP_TEST_REDIS_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("IDP_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewPrefix returns the test server's URL and a fresh key prefix
// ("idptest:<random>:"). It fails the test when the server cannot be
// reached, and deletes every key under the prefix when the test ends.
func NewPrefix(t testing.TB) (url, prefix string) {
	t.Helper()
	url = URL()
	opts, err := idpredis.ParseURL(url)
	if err != nil {
		t.Fatalf("redistest: IDP_TEST_REDIS_URL: %v", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix = "idptest:" + hex.EncodeToString(b[:]) + ":"

	c := goredis.NewUniversalClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("redistest: Redis at IDP_TEST_REDIS_URL is not reachable: %v", err)
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

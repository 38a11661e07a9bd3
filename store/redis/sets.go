package redis

import (
	"context"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
)

var _ store.Sets = (*Store)(nil)

// A set is a sorted set at setKey(key) whose scores are the members'
// expiries in Unix microseconds. One key per set, so every operation is
// Cluster-safe.

// addToSetScript adds a member with its expiry, drops the expired ones, and
// gives the key a native TTL that outlives its latest member (garbage
// collection only: expiry is decided by the clock when the set is read).
// KEYS[1] set; ARGV member, expiry, now. Returns nothing.
var addToSetScript = goredis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then
  local ms = math.floor((tonumber(top[2]) - tonumber(ARGV[3])) / 1000) + tonumber(ARGV[4])
  if ms < 1 then ms = 1 end
  redis.call('PEXPIRE', KEYS[1], ms)
end
return 0
`)

func (s *Store) setKey(key string) string { return s.prefix + "set:" + key }

// AddToSet adds member with its expiry, or moves the expiry of one there.
func (s *Store) AddToSet(ctx context.Context, key, member string, expiresAt time.Time) error {
	err := addToSetScript.Run(ctx, s.c, []string{s.setKey(key)}, member, micros(expiresAt), micros(s.now()), gcMargin.Milliseconds()).Err()
	if err != nil && err != goredis.Nil {
		return wrapErr("add to set", err)
	}
	return nil
}

// RemoveFromSet removes member; no error when absent.
func (s *Store) RemoveFromSet(ctx context.Context, key, member string) error {
	if err := s.c.ZRem(ctx, s.setKey(key), member).Err(); err != nil {
		return wrapErr("remove from set", err)
	}
	return nil
}

// SetMembers returns the live members, sorted.
func (s *Store) SetMembers(ctx context.Context, key string) ([]string, error) {
	out, err := s.c.ZRangeByScore(ctx, s.setKey(key), &goredis.ZRangeBy{
		Min: "(" + strconv.FormatInt(micros(s.now()), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, wrapErr("set members", err)
	}
	slices.Sort(out)
	return out, nil
}

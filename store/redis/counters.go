package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
)

// A counter is a hash at counterKey(key) with the fields n (the count) and
// exp (its expiry in Unix microseconds).

// incrScript adds one to a counter, restarting from zero when it has lapsed,
// and slides its expiry. KEYS[1] counter; ARGV now, new expiry, native TTL in
// ms. Returns the new count.
var incrScript = goredis.NewScript(`
local exp = redis.call('HGET', KEYS[1], 'exp')
if exp and tonumber(exp) <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'exp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return n
`)

// decrScript takes one back from a live counter, never below zero, and
// keeps its expiry. KEYS[1] counter; ARGV now. Returns {n, exp}, or {0, 0}
// when the counter is missing or has lapsed.
var decrScript = goredis.NewScript(`
local exp = redis.call('HGET', KEYS[1], 'exp')
if not exp or tonumber(exp) <= tonumber(ARGV[1]) then return {0, 0} end
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if n > 0 then n = redis.call('HINCRBY', KEYS[1], 'n', -1) end
return {n, tonumber(exp)}
`)

func (s *Store) counterKey(key string) string { return s.prefix + "count:" + key }

// Incr adds one and sets the expiry to now+ttl, atomically in one script. A
// counter that has lapsed starts again from zero.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (store.Counter, error) {
	t := s.now()
	now, exp := micros(t), micros(t.Add(ttl))
	n, err := incrScript.Run(ctx, s.c, []string{s.counterKey(key)}, now, exp, gcTTL(exp, now)).Int64()
	if err != nil {
		return store.Counter{}, wrapErr("incr", err)
	}
	return store.Counter{N: n, ExpiresAt: fromMicros(exp)}, nil
}

// Decr takes one back from a live counter, never below zero, keeping its
// expiry, atomically in one script.
func (s *Store) Decr(ctx context.Context, key string) (store.Counter, error) {
	v, err := decrScript.Run(ctx, s.c, []string{s.counterKey(key)}, micros(s.now())).Int64Slice()
	if err != nil {
		return store.Counter{}, wrapErr("decr", err)
	}
	if len(v) != 2 || v[1] == 0 {
		return store.Counter{}, nil
	}
	return store.Counter{N: v[0], ExpiresAt: fromMicros(v[1])}, nil
}

// GetCounter returns the counter; a missing or lapsed one is {0, zero time}.
func (s *Store) GetCounter(ctx context.Context, key string) (store.Counter, error) {
	v, err := s.c.HMGet(ctx, s.counterKey(key), "n", "exp").Result()
	if err != nil {
		return store.Counter{}, wrapErr("get counter", err)
	}
	nS, ok1 := v[0].(string)
	expS, ok2 := v[1].(string)
	if !ok1 || !ok2 {
		return store.Counter{}, nil
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil {
		return store.Counter{}, wrapErr("get counter: exp", err)
	}
	if micros(s.now()) >= exp {
		return store.Counter{}, nil
	}
	n, err := strconv.ParseInt(nS, 10, 64)
	if err != nil {
		return store.Counter{}, wrapErr("get counter: n", err)
	}
	return store.Counter{N: n, ExpiresAt: fromMicros(exp)}, nil
}

// ResetCounter removes the counter; no error when absent.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.counterKey(key)).Err(); err != nil {
		return wrapErr("reset counter", err)
	}
	return nil
}

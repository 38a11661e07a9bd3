package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
)

// A grant is a hash at grantKey(kind, signature) with the fields
//
//	data    the serialized request
//	active  "1" or "0"
//	exp     expiry in Unix microseconds; "" when it never expires
//	rid     request ID
//	cid     client ID
//	sub     subject
//	rat     RequestedAt in Unix microseconds; "" for the zero time
//
// and its signature is a member of the sorted set familyKey(kind, requestID),
// scored by its expiry (+inf when it never expires).

// getGrantCmd is the HMGET of GetGrant, with the command name and the fields
// boxed once: args[1] is the key. The reply lists the fields in this order.
var getGrantCmd = []any{"hmget", nil, "data", "active", "exp", "rid", "cid", "sub", "rat"}

// createGrantScript stores a grant unless one is there and not yet expired.
// KEYS[1] grant; ARGV now, exp, native TTL in ms (0: none), data, active,
// rid, cid, sub, rat. Returns 1 when stored, 0 on conflict.
var createGrantScript = goredis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'exp')
if x then
  if x == '' or tonumber(x) > tonumber(ARGV[1]) then return 0 end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'data', ARGV[4], 'active', ARGV[5], 'exp', ARGV[2],
  'rid', ARGV[6], 'cid', ARGV[7], 'sub', ARGV[8], 'rat', ARGV[9])
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`)

// indexGrantScript adds a signature to its request family, drops members
// that have expired, and keeps the family alive as long as its longest-lived
// member (plus the margin). KEYS[1] family; ARGV signature, exp ("" : never),
// now, margin in ms.
var indexGrantScript = goredis.NewScript(`
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local score = ARGV[2]
if score == '' then score = '+inf' end
redis.call('ZADD', KEYS[1], score, ARGV[1])
if redis.call('ZCOUNT', KEYS[1], '+inf', '+inf') > 0 then
  redis.call('PERSIST', KEYS[1])
  return 1
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(top[2]) - now) / 1000) + tonumber(ARGV[4]))
return 1
`)

// deleteGrantScript removes a grant. KEYS[1] grant; ARGV now. Returns 1 when
// a live grant was removed, 0 when it was absent or expired.
var deleteGrantScript = goredis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'exp')
if not x then return 0 end
redis.call('DEL', KEYS[1])
if x ~= '' and tonumber(x) <= tonumber(ARGV[1]) then return 0 end
return 1
`)

// deactivateGrantScript marks an active grant inactive. KEYS[1] grant; ARGV
// now. Returns 1 when it did, 0 when the grant was already inactive, -1 when
// it is absent or expired.
var deactivateGrantScript = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'active', 'exp')
if not v[1] then return -1 end
if v[2] ~= '' and tonumber(v[2]) <= tonumber(ARGV[1]) then return -1 end
if v[1] ~= '1' then return 0 end
redis.call('HSET', KEYS[1], 'active', '0')
return 1
`)

// deactivateMemberScript marks a grant inactive if it belongs to the request.
// KEYS[1] grant; ARGV rid.
var deactivateMemberScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'rid') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'active', '0')
  return 1
end
return 0
`)

func (s *Store) grantKey(kind store.GrantKind, signature string) string {
	return s.prefix + "grant:" + string(kind) + ":" + signature
}

func (s *Store) familyKey(kind store.GrantKind, requestID string) string {
	return s.prefix + "req:" + string(kind) + ":" + requestID
}

// CreateGrant stores a new grant; ErrConflict when (Kind, Signature) exists.
// The grant and its place in the request family are written in one round
// trip (a pipeline of two scripts).
func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	now := micros(s.now())
	var exp string
	var ttl int64
	if !g.ExpiresAt.IsZero() {
		e := micros(g.ExpiresAt)
		exp = strconv.FormatInt(e, 10)
		ttl = gcTTL(e, now)
	}
	active := "0"
	if g.Active {
		active = "1"
	}
	var rat string
	if !g.RequestedAt.IsZero() {
		rat = strconv.FormatInt(micros(g.RequestedAt), 10)
	}
	keys := []string{s.grantKey(g.Kind, g.Signature)}
	args := []any{now, exp, ttl, g.Data, active, g.RequestID, g.ClientID, g.Subject, rat}

	var create *goredis.Cmd
	if g.RequestID == "" {
		create = createGrantScript.Run(ctx, s.c, keys, args...)
	} else {
		famKeys := []string{s.familyKey(g.Kind, g.RequestID)}
		famArgs := []any{g.Signature, exp, now, gcMargin.Milliseconds()}
		pipe := s.c.Pipeline()
		create = createGrantScript.EvalSha(ctx, pipe, keys, args...)
		index := indexGrantScript.EvalSha(ctx, pipe, famKeys, famArgs...)
		_, _ = pipe.Exec(ctx) // each command keeps its own error
		if isNoScript(create.Err()) {
			create = createGrantScript.Run(ctx, s.c, keys, args...)
		}
		if isNoScript(index.Err()) {
			index = indexGrantScript.Run(ctx, s.c, famKeys, famArgs...)
		}
		if err := index.Err(); err != nil {
			return wrapErr("create grant", err)
		}
	}
	n, err := create.Int()
	if err != nil {
		return wrapErr("create grant", err)
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

// GetGrant returns the grant, active or not; ErrNotFound when absent or
// expired. One HMGET.
func (s *Store) GetGrant(ctx context.Context, kind store.GrantKind, signature string) (*store.Grant, error) {
	args := make([]any, len(getGrantCmd))
	copy(args, getGrantCmd)
	args[1] = s.grantKey(kind, signature)
	cmd := goredis.NewSliceCmd(ctx, args...)
	_ = s.c.Process(ctx, cmd) // the error is the command's
	v, err := cmd.Result()
	if err != nil {
		return nil, wrapErr("get grant", err)
	}
	if len(v) != len(getGrantCmd)-2 {
		return nil, fmt.Errorf("redis: get grant: %d fields in the reply", len(v))
	}
	expS, ok := v[2].(string)
	if !ok {
		return nil, store.ErrNotFound
	}
	g := &store.Grant{Kind: kind, Signature: signature}
	if expS != "" {
		exp, err := strconv.ParseInt(expS, 10, 64)
		if err != nil {
			return nil, wrapErr("get grant: exp", err)
		}
		if micros(s.now()) >= exp {
			return nil, store.ErrNotFound
		}
		g.ExpiresAt = fromMicros(exp)
	}
	if data, _ := v[0].(string); data != "" {
		g.Data = []byte(data)
	}
	g.Active = v[1] == "1"
	g.RequestID, _ = v[3].(string)
	g.ClientID, _ = v[4].(string)
	g.Subject, _ = v[5].(string)
	if rat, _ := v[6].(string); rat != "" {
		us, err := strconv.ParseInt(rat, 10, 64)
		if err != nil {
			return nil, wrapErr("get grant: rat", err)
		}
		g.RequestedAt = fromMicros(us)
	}
	return g, nil
}

// DeleteGrant removes the grant; ErrNotFound when absent or expired.
func (s *Store) DeleteGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	n, err := deleteGrantScript.Run(ctx, s.c, []string{s.grantKey(kind, signature)}, micros(s.now())).Int()
	if err != nil {
		return wrapErr("delete grant", err)
	}
	if err := s.announce(ctx, kind, store.GrantChange{Signature: signature}); err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeactivateGrant atomically marks an active grant inactive: of many
// concurrent callers exactly one succeeds, the others get ErrConflict.
// ErrNotFound when absent or expired.
func (s *Store) DeactivateGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	n, err := deactivateGrantScript.Run(ctx, s.c, []string{s.grantKey(kind, signature)}, micros(s.now())).Int()
	if err != nil {
		return wrapErr("deactivate grant", err)
	}
	switch n {
	case 1:
		return s.announce(ctx, kind, store.GrantChange{Signature: signature})
	case 0:
		return store.ErrConflict
	}
	return store.ErrNotFound
}

// deactivateFamilyScript marks inactive every live member of a request
// family that belongs to the request, takes them out of the family's index
// and announces the change, in one round trip and one atomic step. It
// reaches the members' keys by name, undeclared, so it runs only where
// every key is on one server (standalone, Sentinel). KEYS[1] family; ARGV
// now, the members' key prefix (grantKey without the signature), request
// ID, channel ("" : no announcement), message. Returns the number of
// members.
var deactivateFamilyScript = goredis.NewScript(`
local sigs = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
for i = 1, #sigs do
  local k = ARGV[2] .. sigs[i]
  if redis.call('HGET', k, 'rid') == ARGV[3] then
    redis.call('HSET', k, 'active', '0')
  end
end
for i = 1, #sigs, 1000 do
  redis.call('ZREM', KEYS[1], unpack(sigs, i, math.min(i + 999, #sigs)))
end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return #sigs
`)

// DeactivateRequest marks inactive every live grant of the kind that shares
// the request ID, takes them out of the family's index and announces the
// change. On one server (a plain client: standalone, Sentinel) that is one
// script; on Cluster, where the grants live in other slots than their
// family, it is one read of the family, then one pipeline of per-grant
// scripts, then the announcement.
func (s *Store) DeactivateRequest(ctx context.Context, kind store.GrantKind, requestID string) error {
	change := store.GrantChange{RequestID: requestID}
	if _, plain := s.c.(*goredis.Client); plain {
		var channel, message string
		if kind == store.GrantAccessToken {
			channel, message = s.changesChannel(), changeMessage(change)
		}
		err := deactivateFamilyScript.Run(ctx, s.c, []string{s.familyKey(kind, requestID)},
			micros(s.now()), s.grantKey(kind, ""), requestID, channel, message).Err()
		if err == nil {
			return nil
		}
		// The script may have stopped halfway: announce what it may have
		// done.
		return errors.Join(wrapErr("deactivate request", err), s.announce(ctx, kind, change))
	}
	err := s.deactivateMembers(ctx, kind, requestID)
	// Announced even when nothing was found or a write failed: a retry
	// after a partial failure finds the index already emptied.
	if aerr := s.announce(ctx, kind, change); err == nil {
		err = aerr
	}
	return err
}

// deactivateMembers is DeactivateRequest without the announcement, for
// clients that spread keys over nodes.
func (s *Store) deactivateMembers(ctx context.Context, kind store.GrantKind, requestID string) error {
	sigs, err := s.c.ZRangeByScore(ctx, s.familyKey(kind, requestID), &goredis.ZRangeBy{
		Min: "(" + strconv.FormatInt(micros(s.now()), 10),
		Max: "+inf",
	}).Result()
	if err != nil {
		return wrapErr("deactivate request", err)
	}
	if len(sigs) == 0 {
		return nil
	}
	cmds := make([]*goredis.Cmd, len(sigs))
	pipe := s.c.Pipeline()
	for i, sig := range sigs {
		cmds[i] = deactivateMemberScript.EvalSha(ctx, pipe, []string{s.grantKey(kind, sig)}, requestID)
	}
	// Deactivated members leave the index: a family that is revoked again
	// and again (every refresh revokes the previous access tokens) then
	// costs only its newest members, not its whole history.
	members := make([]any, len(sigs))
	for i, sig := range sigs {
		members[i] = sig
	}
	pipe.ZRem(ctx, s.familyKey(kind, requestID), members...)
	_, _ = pipe.Exec(ctx) // each command keeps its own error
	for i, cmd := range cmds {
		err := cmd.Err()
		if isNoScript(err) {
			err = deactivateMemberScript.Run(ctx, s.c, []string{s.grantKey(kind, sigs[i])}, requestID).Err()
		}
		if err != nil {
			return wrapErr("deactivate request", err)
		}
	}
	return nil
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
//	sid     SSO session ID (absent in grants written before it was kept)
//	rat     RequestedAt in Unix microseconds; "" for the zero time
//
// and its signature is a member of the sorted set familyKey(kind, requestID),
// scored by its expiry (+inf when it never expires). A grant with a session
// ID is also a member "<kind>:<signature>" of sessionKey(sessionID), and one
// with a subject a member of subjectKey(subject), scored the same way.

// getGrantCmd is the HMGET of GetGrant, with the command name and the fields
// boxed once: args[1] is the key. The reply lists the fields in this order.
var getGrantCmd = []any{"hmget", nil, "data", "active", "exp", "rid", "cid", "sub", "rat", "sid"}

// createGrantScript stores a grant unless one is there and not yet expired.
// KEYS[1] grant; ARGV now, exp, native TTL in ms (0: none), data, active,
// rid, cid, sub, rat, sid. Returns 1 when stored, 0 on conflict.
var createGrantScript = goredis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'exp')
if x then
  if x == '' or tonumber(x) > tonumber(ARGV[1]) then return 0 end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'data', ARGV[4], 'active', ARGV[5], 'exp', ARGV[2],
  'rid', ARGV[6], 'cid', ARGV[7], 'sub', ARGV[8], 'rat', ARGV[9], 'sid', ARGV[10])
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`)

// indexGrantScript adds a member to an index of grants (a request family,
// a session's or a subject's grants), drops members that have expired, and
// keeps the index alive as long as its longest-lived member (plus the
// margin). KEYS[1] index; ARGV member, exp ("" : never), now, margin in ms.
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

// deactivateMemberScript marks a grant inactive if it belongs to the request,
// the session or the subject an index stands for: if each field holds its
// value. KEYS[1] grant; ARGV pairs of field (rid, sid, sub or cid) and
// value. It returns 1 when it matched.
var deactivateMemberScript = goredis.NewScript(`
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then return 0 end
end
redis.call('HSET', KEYS[1], 'active', '0')
return 1
`)

func (s *Store) grantKey(kind store.GrantKind, signature string) string {
	return s.prefix + "grant:" + string(kind) + ":" + signature
}

func (s *Store) familyKey(kind store.GrantKind, requestID string) string {
	return s.prefix + "req:" + string(kind) + ":" + requestID
}

func (s *Store) sessionKey(sessionID string) string {
	return s.prefix + "session-grants:" + sessionID
}

func (s *Store) subjectKey(subject string) string {
	return s.prefix + "subject-grants:" + subject
}

// indexMember is a grant's member in the session and subject indexes, which
// hold every kind.
func indexMember(kind store.GrantKind, signature string) string {
	return string(kind) + ":" + signature
}

// CreateGrant stores a new grant; ErrConflict when (Kind, Signature) exists.
// The grant and its places in the request family and the session's and
// subject's indexes are written in one round trip (a pipeline of scripts,
// each on one key).
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
	args := []any{now, exp, ttl, g.Data, active, g.RequestID, g.ClientID, g.Subject, rat, g.SessionID}

	type index struct {
		key, member string
		cmd         *goredis.Cmd
	}
	var indexes []index
	if g.RequestID != "" {
		indexes = append(indexes, index{key: s.familyKey(g.Kind, g.RequestID), member: g.Signature})
	}
	if g.SessionID != "" {
		indexes = append(indexes, index{key: s.sessionKey(g.SessionID), member: indexMember(g.Kind, g.Signature)})
	}
	if g.Subject != "" {
		indexes = append(indexes, index{key: s.subjectKey(g.Subject), member: indexMember(g.Kind, g.Signature)})
	}

	var create *goredis.Cmd
	if len(indexes) == 0 {
		create = createGrantScript.Run(ctx, s.c, keys, args...)
	} else {
		pipe := s.c.Pipeline()
		create = createGrantScript.EvalSha(ctx, pipe, keys, args...)
		for i := range indexes {
			x := &indexes[i]
			x.cmd = indexGrantScript.EvalSha(ctx, pipe, []string{x.key}, x.member, exp, now, gcMargin.Milliseconds())
		}
		_, _ = pipe.Exec(ctx) // each command keeps its own error
		if isNoScript(create.Err()) {
			create = createGrantScript.Run(ctx, s.c, keys, args...)
		}
		for _, x := range indexes {
			err := x.cmd.Err()
			if isNoScript(err) {
				err = indexGrantScript.Run(ctx, s.c, []string{x.key}, x.member, exp, now, gcMargin.Milliseconds()).Err()
			}
			if err != nil {
				return wrapErr("create grant", err)
			}
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
	g.SessionID, _ = v[7].(string)
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
		cmds[i] = deactivateMemberScript.EvalSha(ctx, pipe, []string{s.grantKey(kind, sig)}, "rid", requestID)
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
			err = deactivateMemberScript.Run(ctx, s.c, []string{s.grantKey(kind, sigs[i])}, "rid", requestID).Err()
		}
		if err != nil {
			return wrapErr("deactivate request", err)
		}
	}
	return nil
}

// DeactivateSession marks inactive every live grant of the SSO session and
// announces the change (see deactivateIndexed).
func (s *Store) DeactivateSession(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	return s.deactivateIndexed(ctx, "deactivate session", s.sessionKey(sessionID),
		store.GrantChange{SessionID: sessionID}, "sid", sessionID)
}

// DeactivateSubject marks inactive every live grant of the account (of
// the client, when clientID is set) and announces the change (see
// deactivateIndexed).
func (s *Store) DeactivateSubject(ctx context.Context, subject, clientID string) error {
	if subject == "" {
		return nil
	}
	change := store.GrantChange{Subject: subject, ClientID: clientID}
	if clientID != "" {
		return s.deactivateIndexed(ctx, "deactivate subject", s.subjectKey(subject), change, "sub", subject, "cid", clientID)
	}
	return s.deactivateIndexed(ctx, "deactivate subject", s.subjectKey(subject), change, "sub", subject)
}

// deactivateIndexed marks inactive the live members of a session's or a
// subject's index whose fields still hold their values (match: pairs of
// field and value, the index's own field first), takes them out of the
// index, and announces the change. The grants live in other slots than the
// index on a Cluster, so this is one read of the index, then one pipeline
// of single-key scripts (each checks the grant's own field, so a stale or
// foreign member is never touched) and the index's trimming, then the
// announcement, on every topology: sessions end and accounts are
// recovered far less often than tokens are refreshed, so the round trips
// that DeactivateRequest saves on one server are not worth a second path.
func (s *Store) deactivateIndexed(ctx context.Context, op, indexKey string, change store.GrantChange, match ...any) error {
	err := s.deactivateMembersOf(ctx, op, indexKey, match)
	// Announced even when a write failed: some grants may have changed.
	return errors.Join(err, s.announce(ctx, store.GrantAccessToken, change))
}

func (s *Store) deactivateMembersOf(ctx context.Context, op, indexKey string, match []any) error {
	members, err := s.c.ZRangeByScore(ctx, indexKey, &goredis.ZRangeBy{
		Min: "(" + strconv.FormatInt(micros(s.now()), 10),
		Max: "+inf",
	}).Result()
	if err != nil {
		return wrapErr(op, err)
	}
	if len(members) == 0 {
		return nil
	}
	keys := make([]string, len(members))
	for i, m := range members {
		kind, sig, _ := strings.Cut(m, ":")
		keys[i] = s.grantKey(store.GrantKind(kind), sig)
	}
	// Matched on the index's own field alone, every member leaves the
	// index (a member that no longer matches is stale); matched on more
	// (a subject's grants of one client), only the members deactivated.
	whole := len(match) == 2
	cmds := make([]*goredis.Cmd, len(keys))
	pipe := s.c.Pipeline()
	for i, k := range keys {
		cmds[i] = deactivateMemberScript.EvalSha(ctx, pipe, []string{k}, match...)
	}
	if whole {
		zremChunks(ctx, pipe, indexKey, members)
	}
	_, _ = pipe.Exec(ctx) // each command keeps its own error
	var hit []string
	for i, cmd := range cmds {
		err := cmd.Err()
		if isNoScript(err) {
			cmd = deactivateMemberScript.Run(ctx, s.c, []string{keys[i]}, match...)
			err = cmd.Err()
		}
		if err != nil {
			return wrapErr(op, err)
		}
		if n, _ := cmd.Int(); n == 1 {
			hit = append(hit, members[i])
		}
	}
	if !whole && len(hit) > 0 {
		pipe := s.c.Pipeline()
		zremChunks(ctx, pipe, indexKey, hit)
		if _, err := pipe.Exec(ctx); err != nil {
			return wrapErr(op, err)
		}
	}
	return nil
}

// zremChunks queues the removal of members from the index, a thousand per
// command.
func zremChunks(ctx context.Context, pipe goredis.Pipeliner, indexKey string, members []string) {
	for i := 0; i < len(members); i += 1000 {
		chunk := members[i:min(i+1000, len(members))]
		rm := make([]any, len(chunk))
		for j, m := range chunk {
			rm[j] = m
		}
		pipe.ZRem(ctx, indexKey, rm...)
	}
}

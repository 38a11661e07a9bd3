// Package redis is the Redis backend of store.Ephemeral: short-lived grants
// (authorization codes, access tokens, PKCE and OIDC sessions), entries
// (login flows, SSO sessions, challenges, replay marks) and counters
// (lockout, rate and attempt limits), shared by every replica of the server.
//
// # Connecting
//
// Open takes a URL in one of three forms and builds a redis.UniversalClient:
//
//	redis://[[user]:password@]host[:6379][/db][?option=value...]
//	rediss://...                                  the same over TLS
//
//	redis+sentinel://[[user]:password@]host1[:26379][,host2[:26379]...]/master[/db][?option=value...]
//	rediss+sentinel://...                         the same over TLS
//
//	redis+cluster://[[user]:password@]host1[:6379][,host2[:6379]...][?option=value...]
//	rediss+cluster://...                          the same over TLS
//
// The plain form is parsed by go-redis's redis.ParseURL. In the Sentinel form
// the hosts are Sentinels, the first path segment names the monitored master
// and the optional second one selects the database; the user and password
// authenticate to the master and its replicas, while the query parameters
// sentinel_username and sentinel_password (percent-encoded) authenticate to
// the Sentinels themselves. In the Cluster form the hosts are seed nodes; one
// is enough. The remaining query parameters are go-redis's own (dial_timeout,
// read_timeout, pool_size, ..., read_only and route_by_latency for Cluster;
// skip_verify for TLS); an unknown one is an error. With TLS and several
// hosts, each host's certificate is checked against that host's own name.
// ParseURL exposes the parsing so that configuration can be checked without
// connecting.
//
// # Keys
//
// Every key begins with the prefix given to Open or New (for example
// "idp:"), followed by:
//
//	grant:<kind>:<signature>   hash: data, active, exp, rid, cid, sub, sid, rat
//	req:<kind>:<request id>    sorted set of the signatures of a request
//	                           family, scored by their expiry
//	session-grants:<sid>       sorted set of "<kind>:<signature>" of the grants
//	                           of an SSO session, scored by their expiry
//	subject-grants:<subject>   the same for the grants of an account
//	entry:<key>                string: 8-byte big-endian expiry, then the value
//	count:<key>                hash: n, exp
//
// Every command and script touches a single key, so the store works
// unchanged on Redis Cluster, and grants spread over all shards by their
// signature. The operations that span keys, DeactivateRequest,
// DeactivateSession and DeactivateSubject, read the index's sorted set and
// then deactivate each member with a script that first checks the member's
// request ID, session ID or subject, so a stale or foreign member is never
// touched. On a single server (standalone or Sentinel, where every key is at
// hand) DeactivateRequest, which every refresh calls, does the same in one
// script, in one round trip, reaching the members' keys by name. (Putting a
// grant and its indexes in one slot would need a hash tag known both from
// the signature alone, for GetGrant, and from the request ID, session ID or
// subject alone: only a constant would do, which would pile every grant of
// a kind onto one shard.) No key needs a hash tag, then, and
// none has one. A prefix with a hash tag in it ("{...}") would become the
// hash tag of every key and pin the whole store to one slot: Open refuses
// it on a Cluster. The conformance suite runs on a three-master Cluster and
// under Sentinel (scripts/redis-ha.sh), where a command naming keys of two
// slots would fail with CROSSSLOT.
//
// # Expiry
//
// Expiry is decided by the injected clock when a value is read: every value
// carries its expiry (Unix microseconds, the precision PostgreSQL keeps) and
// is absent once now >= expiry. A native Redis TTL of (expiry − now) plus a
// margin only collects garbage. Grants with a zero ExpiresAt never expire and
// get no TTL. Counters slide: Incr passes now and now+ttl to a script, and a
// counter whose expiry has passed starts again from zero.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
)

// gcMargin is added to every native TTL, so that Redis never drops a value
// that the clock of some replica still considers alive.
const gcMargin = time.Minute

// Store is a store.Ephemeral on Redis (standalone, Sentinel or Cluster).
type Store struct {
	c      goredis.UniversalClient
	prefix string
	now    store.Clock
	// replicaReads: the URL lets reads go to replicas, which may lag
	// behind an announcement (see WatchGrants).
	replicaReads bool
}

var _ store.Ephemeral = (*Store)(nil)

// Open connects to the Redis server named by redisURL (see the package doc
// for its forms), checks the connection and returns a store whose keys all
// begin with prefix. now is the clock that decides expiry; nil means
// time.Now.
func Open(ctx context.Context, redisURL, prefix string, now store.Clock) (*Store, error) {
	opts, err := ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	if opts.IsClusterMode && hasHashTag(prefix) {
		return nil, fmt.Errorf("redis: the key prefix %q holds a hash tag ({...}): on a Cluster it would put every key in one slot", prefix)
	}
	c := goredis.NewUniversalClient(opts)
	// Commands sent within a recording span get spans of their own.
	c.AddHook(traceHook{})
	s := New(c, prefix, now)
	s.replicaReads = opts.ReadOnly || opts.RouteByLatency || opts.RouteRandomly
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// New returns a store over client, which it owns from then on: Close closes
// it. Every key begins with prefix. now is the clock that decides expiry;
// nil means time.Now.
func New(client goredis.UniversalClient, prefix string, now store.Clock) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{c: client, prefix: prefix, now: now}
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Close closes the client.
func (s *Store) Close() {
	_ = s.c.Close()
}

// hasHashTag reports whether a key that begins with prefix has its hash
// slot decided by the prefix alone: Redis Cluster hashes only what lies
// between the first "{" and the next "}" when that is not empty.
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	return strings.IndexByte(prefix[i+1:], '}') > 0
}

// micros returns t in Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// gcTTL returns the native TTL in milliseconds of a value that expires at exp
// (Unix microseconds) when the time is now: the time left, rounded up, plus
// gcMargin, and never less than one millisecond.
func gcTTL(exp, now int64) int64 {
	ms := (exp-now+999)/1000 + gcMargin.Milliseconds()
	if ms < 1 {
		return 1
	}
	return ms
}

// wrapErr maps redis.Nil to store.ErrNotFound and wraps other errors.
func wrapErr(op string, err error) error {
	if errors.Is(err, goredis.Nil) {
		return store.ErrNotFound
	}
	return fmt.Errorf("redis: %s: %w: %w", op, store.ErrUnavailable, err)
}

// isNoScript reports whether err says that the server does not hold a
// script's digest (its script cache was flushed or it has just started).
func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, goredis.ErrNoScript) || goredis.HasErrorPrefix(err, "NOSCRIPT"))
}

// SetLogger sends go-redis's own messages (reconnects, pool trouble) to
// logger, as warnings, instead of the standard log package. go-redis keeps
// one logger for the process, so main sets it once.
func SetLogger(logger *slog.Logger) {
	goredis.SetLogger(slogPrintf{logger})
}

type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	p.l.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/redis"
	"github.com/esia-oidc/idp/store/redis/redistest"
	"github.com/esia-oidc/idp/store/storetest"
)

// The margin that native TTLs may add on top of a value's life, at most.
const maxMargin = 2 * time.Minute

// fixture is a store on a fresh prefix, a raw client on the same server to
// look behind its back, and the fake clock that drives it.
type fixture struct {
	s      *redis.Store
	raw    goredis.UniversalClient
	prefix string
	clk    *storetest.Clock
}

// newFixture opens a store through New on a client with the given hooks.
func newFixture(t *testing.T, hooks ...goredis.Hook) *fixture {
	t.Helper()
	return newFixtureOn(t, redistest.Standalone, hooks...)
}

// newFixtureOn is newFixture on the topology's test Redis.
func newFixtureOn(t *testing.T, tp redistest.Topology, hooks ...goredis.Hook) *fixture {
	t.Helper()
	url, prefix := redistest.NewPrefixOn(t, tp)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewUniversalClient(opts)
	for _, h := range hooks {
		c.AddHook(h)
	}
	clk := storetest.NewClock()
	s := redis.New(c, prefix, clk.Now)
	t.Cleanup(s.Close)
	raw := goredis.NewUniversalClient(opts)
	t.Cleanup(func() { raw.Close() })
	return &fixture{s: s, raw: raw, prefix: prefix, clk: clk}
}

// newRingFixture is newFixture on a client that spreads keys over nodes,
// as a Cluster client does (see TestEphemeralSpread).
func newRingFixture(t *testing.T) *fixture {
	t.Helper()
	ring, opts, prefix := newRing(t)
	clk := storetest.NewClock()
	s := redis.New(ring, prefix, clk.Now)
	t.Cleanup(s.Close)
	raw := goredis.NewUniversalClient(opts)
	t.Cleanup(func() { raw.Close() })
	return &fixture{s: s, raw: raw, prefix: prefix, clk: clk}
}

// bothPaths runs a test on a plain client and on one that spreads keys
// over nodes, which take different paths in DeactivateRequest.
func bothPaths(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Run("plain", func(t *testing.T) { test(t, newFixture(t)) })
	t.Run("spread", func(t *testing.T) { test(t, newRingFixture(t)) })
}

func (f *fixture) grant(sig, rid string, life time.Duration) *store.Grant {
	g := &store.Grant{Kind: store.GrantAccessToken, Signature: sig, RequestID: rid, ClientID: "rp",
		Subject: "acc", SessionID: "sso", Active: true, RequestedAt: f.clk.Now(), Data: []byte("data-" + sig)}
	if life != 0 {
		g.ExpiresAt = f.clk.Now().Add(life)
	}
	return g
}

func (f *fixture) mustCreate(t *testing.T, g *store.Grant) {
	t.Helper()
	if err := f.s.CreateGrant(t.Context(), g); err != nil {
		t.Fatalf("CreateGrant(%s): %v", g.Signature, err)
	}
}

// pttl returns the native TTL of the key under the prefix: -1 for none, -2
// for a missing key.
func (f *fixture) pttl(t *testing.T, key string) time.Duration {
	t.Helper()
	d, err := f.raw.PTTL(t.Context(), f.prefix+key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}

// wantTTL checks that a key's native TTL outlives the value's life by at
// most maxMargin.
func (f *fixture) wantTTL(t *testing.T, key string, life time.Duration) {
	t.Helper()
	if d := f.pttl(t, key); d <= life || d > life+maxMargin {
		t.Errorf("PTTL %s = %v, want in (%v, %v]", key, d, life, life+maxMargin)
	}
}

// keyRecorder is a go-redis hook that records the keys of every command.
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *keyRecorder) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *keyRecorder) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		r.record(cmd)
		return next(ctx, cmd)
	}
}

func (r *keyRecorder) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			r.record(cmd)
		}
		return next(ctx, cmds)
	}
}

func (r *keyRecorder) record(cmd goredis.Cmder) {
	args := cmd.Args()
	var keys []any
	switch strings.ToLower(cmd.Name()) {
	case "ping", "hello", "client", "auth", "select", "script":
	case "eval", "evalsha":
		var n int
		fmt.Sscan(fmt.Sprint(args[2]), &n)
		keys = args[3 : 3+n]
	default:
		keys = args[1:2]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		r.keys = append(r.keys, fmt.Sprint(k))
	}
}

// Every command the store sends names only keys under its prefix, laid out
// as the package doc says.
func TestKeysBeginWithPrefix(t *testing.T) {
	rec := &keyRecorder{}
	f := newFixture(t, rec)
	ctx := t.Context()
	f.mustCreate(t, f.grant("sig-1", "req-1", time.Hour))
	f.mustCreate(t, f.grant("sig-2", "", 0))
	steps := []error{
		f.s.CreateGrant(ctx, f.grant("sig-1", "req-1", time.Hour)), // conflict
		func() error { _, err := f.s.GetGrant(ctx, store.GrantAccessToken, "sig-1"); return err }(),
		f.s.DeactivateGrant(ctx, store.GrantAccessToken, "sig-2"),
		f.s.DeactivateRequest(ctx, store.GrantAccessToken, "req-1"),
		f.s.DeactivateSession(ctx, "sso"),
		f.s.DeactivateSubject(ctx, "acc", ""),
		f.s.PutEntry(ctx, "flow:1", []byte("v"), time.Minute),
		f.s.CreateEntry(ctx, "flow:2", []byte("v"), time.Minute),
		func() error { _, err := f.s.GetEntry(ctx, "flow:1"); return err }(),
		func() error { _, err := f.s.TakeEntry(ctx, "flow:1"); return err }(),
		f.s.DeleteEntry(ctx, "flow:1"),
		func() error { _, err := f.s.Incr(ctx, "fail:acc", time.Minute); return err }(),
		func() error { _, err := f.s.GetCounter(ctx, "fail:acc"); return err }(),
		f.s.Ping(ctx),
	}
	for i, err := range steps {
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := f.s.DeleteGrant(ctx, store.GrantAccessToken, "sig-2"); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	if err := f.s.ResetCounter(ctx, "fail:acc"); err != nil {
		t.Fatalf("ResetCounter: %v", err)
	}

	rec.mu.Lock()
	keys := slices.Clone(rec.keys)
	rec.mu.Unlock()
	if len(keys) < 15 {
		t.Fatalf("recorded only %d keys: %q", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, f.prefix) {
			t.Errorf("key %q does not begin with the prefix %q", k, f.prefix)
		}
	}
	stored, err := f.raw.Keys(ctx, f.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(stored)
	// The family index of req-1 and the session's and subject's indexes
	// are gone: DeactivateRequest, DeactivateSession and DeactivateSubject
	// took their members out, and Redis drops an empty sorted set.
	want := []string{
		f.prefix + "entry:flow:2",
		f.prefix + "grant:access:sig-1",
	}
	if !slices.Equal(stored, want) {
		t.Errorf("keys under the prefix: got %q, want %q", stored, want)
	}
}

// Native TTLs outlive the values a little, and only the values that expire
// have one.
func TestNativeTTL(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	f.mustCreate(t, f.grant("long", "req-1", time.Hour))
	f.mustCreate(t, f.grant("short", "req-1", 10*time.Minute))
	f.wantTTL(t, "grant:access:long", time.Hour)
	f.wantTTL(t, "grant:access:short", 10*time.Minute)
	// The family lives as long as its longest-lived member.
	f.wantTTL(t, "req:access:req-1", time.Hour)

	f.mustCreate(t, f.grant("forever", "req-2", 0))
	f.mustCreate(t, f.grant("brief", "req-2", time.Minute))
	if d := f.pttl(t, "grant:access:forever"); d != -1 {
		t.Errorf("PTTL of a grant that never expires = %v, want none (-1)", d)
	}
	if d := f.pttl(t, "req:access:req-2"); d != -1 {
		t.Errorf("PTTL of a family with a member that never expires = %v, want none (-1)", d)
	}

	if err := f.s.PutEntry(ctx, "put", []byte("v"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	f.wantTTL(t, "entry:put", 30*time.Second)
	if err := f.s.CreateEntry(ctx, "created", []byte("v"), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	f.wantTTL(t, "entry:created", 90*time.Second)
	if _, err := f.s.Incr(ctx, "n", 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	f.wantTTL(t, "count:n", 5*time.Minute)
	// Sliding: a later increment with a shorter ttl shortens the native TTL too.
	if _, err := f.s.Incr(ctx, "n", time.Second); err != nil {
		t.Fatal(err)
	}
	f.wantTTL(t, "count:n", time.Second)
}

// Expiry is the clock's decision: a value past its expiry by the clock is
// absent although Redis still holds it, and its key is free again.
func TestClockDecidesExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.mustCreate(t, f.grant("sig", "req", time.Second))
	if err := f.s.PutEntry(ctx, "e", []byte("old"), time.Second); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)

	n, err := f.raw.Exists(ctx, f.prefix+"grant:access:sig", f.prefix+"entry:e").Result()
	if err != nil || n != 2 {
		t.Fatalf("EXISTS: %d, %v; want both keys still in Redis", n, err)
	}
	if _, err := f.s.GetGrant(ctx, store.GrantAccessToken, "sig"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetGrant(expired): %v, want ErrNotFound", err)
	}
	if _, err := f.s.GetEntry(ctx, "e"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEntry(expired): %v, want ErrNotFound", err)
	}
	g := f.grant("sig", "req-new", time.Hour)
	f.mustCreate(t, g)
	got, err := f.s.GetGrant(ctx, store.GrantAccessToken, "sig")
	if err != nil || got.RequestID != "req-new" || string(got.Data) != "data-sig" {
		t.Fatalf("GetGrant after re-create: %+v, %v", got, err)
	}
	if err := f.s.CreateEntry(ctx, "e", []byte("new"), time.Minute); err != nil {
		t.Fatalf("CreateEntry over an expired entry: %v", err)
	}
	if v, err := f.s.GetEntry(ctx, "e"); err != nil || string(v) != "new" {
		t.Fatalf("GetEntry: %q, %v", v, err)
	}
}

// A CreateGrant that loses to an existing signature leaves the signature in
// the loser's family index; DeactivateRequest of that family must not touch
// the grant, which belongs to another request.
func TestDeactivateRequestChecksRequestID(t *testing.T) {
	bothPaths(t, testDeactivateRequestChecksRequestID)
}

func testDeactivateRequestChecksRequestID(t *testing.T, f *fixture) {
	ctx := t.Context()
	f.mustCreate(t, f.grant("sig", "req-a", time.Hour))
	if err := f.s.CreateGrant(ctx, f.grant("sig", "req-b", time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateGrant(duplicate): %v, want ErrConflict", err)
	}
	if err := f.s.DeactivateRequest(ctx, store.GrantAccessToken, "req-b"); err != nil {
		t.Fatal(err)
	}
	g, err := f.s.GetGrant(ctx, store.GrantAccessToken, "sig")
	if err != nil || !g.Active || g.RequestID != "req-a" {
		t.Fatalf("GetGrant: %+v, %v; want the active grant of req-a", g, err)
	}
	if err := f.s.DeactivateRequest(ctx, store.GrantAccessToken, "req-a"); err != nil {
		t.Fatal(err)
	}
	if g, err := f.s.GetGrant(ctx, store.GrantAccessToken, "sig"); err != nil || g.Active {
		t.Fatalf("GetGrant after DeactivateRequest(req-a): %+v, %v; want inactive", g, err)
	}
}

// A family's index drops members that have expired when another is added,
// so a long refresh-token family does not grow without bound.
func TestFamilyIndexIsPruned(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for i := range 5 {
		f.mustCreate(t, f.grant(fmt.Sprintf("old-%d", i), "req", time.Minute))
	}
	f.clk.Advance(time.Minute)
	f.mustCreate(t, f.grant("new", "req", time.Minute))
	members, err := f.raw.ZRange(ctx, f.prefix+"req:access:req", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(members, []string{"new"}) {
		t.Fatalf("family index: %q, want only the live member", members)
	}
}

// After the server forgets its scripts (restart, failover, SCRIPT FLUSH),
// every operation still works: EVALSHA falls back to EVAL, in pipelines too,
// on every topology (on a Cluster, SCRIPT FLUSH reaches every master and a
// pipeline's commands go to several).
func TestScriptCacheFlushed(t *testing.T) {
	for _, tp := range redistest.Topologies() {
		t.Run(tp.Name, func(t *testing.T) { testScriptCacheFlushed(t, tp) })
	}
}

func testScriptCacheFlushed(t *testing.T, tp redistest.Topology) {
	evals := &evalCounter{}
	f := newFixtureOn(t, tp, evals)
	ctx := t.Context()
	flush := func() {
		t.Helper()
		if err := f.raw.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
	}
	flush()
	f.mustCreate(t, f.grant("sig-1", "req", time.Hour))
	flush()
	f.mustCreate(t, f.grant("sig-2", "req", time.Hour))
	// The family's revocation announces itself once, from the script
	// that makes it, whether that ran from the cache or was sent again.
	w := make(watchRecorder, 16)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.s.WatchGrants(wctx, w) }()
	defer func() { stop(); <-done }()
	if ev := w.next(t); ev != "ready" {
		t.Fatalf("first report %q, want ready", ev)
	}
	flush()
	before := evals.n.Load()
	if err := f.s.DeactivateRequest(ctx, store.GrantAccessToken, "req"); err != nil {
		t.Fatalf("DeactivateRequest: %v", err)
	}
	for _, sig := range []string{"sig-1", "sig-2"} {
		if g, err := f.s.GetGrant(ctx, store.GrantAccessToken, sig); err != nil || g.Active {
			t.Fatalf("GetGrant(%s): %+v, %v; want inactive", sig, g, err)
		}
	}
	if ev := w.next(t); ev != "changed req" {
		t.Fatalf("announcement %q, want changed req", ev)
	}
	if evals.n.Load() == before {
		// Another process sharing this Redis loaded the script again
		// between the flush and the call.
		t.Log("the script was loaded again before it ran: no fallback to check")
	}
	flush()
	f.mustCreate(t, f.grant("sig-3", "", time.Hour))
	flush()
	if err := f.s.DeactivateGrant(ctx, store.GrantAccessToken, "sig-3"); err != nil {
		t.Fatalf("DeactivateGrant: %v", err)
	}
	flush()
	if err := f.s.DeleteGrant(ctx, store.GrantAccessToken, "sig-3"); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	flush()
	if err := f.s.CreateEntry(ctx, "e", []byte("v"), time.Minute); err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	flush()
	if c, err := f.s.Incr(ctx, "n", time.Minute); err != nil || c.N != 1 {
		t.Fatalf("Incr: %+v, %v", c, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, u := range []string{
		"redis://:s3cret@127.0.0.1:1/0?dial_timeout=1s&max_retries=-1", // nothing listens there
		"redis://:s3cret@127.0.0.1:port",
		"memcached://127.0.0.1",
	} {
		s, err := redis.Open(ctx, u, "p:", time.Now)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%q): no error", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Open: the error %q shows the password", err)
		}
	}
}

// TestDeactivateRequestForgetsDeactivatedMembers: a family revoked at every
// refresh costs only its new members, not its whole history.
func TestDeactivateRequestForgetsDeactivatedMembers(t *testing.T) {
	bothPaths(t, testDeactivateRequestForgetsDeactivatedMembers)
}

func testDeactivateRequestForgetsDeactivatedMembers(t *testing.T, f *fixture) {
	ctx := t.Context()
	for i := range 3 {
		g := f.grant(fmt.Sprintf("s%d", i), "fam", time.Hour)
		f.mustCreate(t, g)
		if err := f.s.DeactivateRequest(ctx, store.GrantAccessToken, "fam"); err != nil {
			t.Fatal(err)
		}
		if n := f.raw.ZCard(ctx, f.prefix+"req:access:fam").Val(); n != 0 {
			t.Fatalf("family index holds %d members after revocation", n)
		}
		g2, err := f.s.GetGrant(ctx, store.GrantAccessToken, g.Signature)
		if err != nil || g2.Active {
			t.Fatalf("grant after revocation: %+v %v", g2, err)
		}
	}
}

// evalCounter is a go-redis hook that counts EVAL commands (the fallback
// of a script that the server forgot).
type evalCounter struct{ n atomic.Int64 }

func (c *evalCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *evalCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "eval") {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *evalCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// watchRecorder passes what WatchGrants reports to a channel.
type watchRecorder chan string

func (w watchRecorder) Ready()                      { w <- "ready" }
func (w watchRecorder) Lost()                       { w <- "lost" }
func (w watchRecorder) Changed(c store.GrantChange) { w <- "changed " + c.Signature + c.RequestID }

func (w watchRecorder) next(t *testing.T) string {
	t.Helper()
	select {
	case ev := <-w:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no report from WatchGrants within 5s")
		return ""
	}
}

// A subscription whose connection drops reports Lost, then Ready once
// go-redis has subscribed again, and announcements reach it again.
func TestWatchGrantsSurvivesADroppedConnection(t *testing.T) {
	ctx := t.Context()
	url, prefix := redistest.NewPrefix(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	name := "watch-test-" + strings.TrimSuffix(prefix, ":")
	opts.ClientName = name
	clk := storetest.NewClock()
	s := redis.New(goredis.NewUniversalClient(opts), prefix, clk.Now)
	t.Cleanup(s.Close)
	raw := goredis.NewClient(&goredis.Options{Addr: opts.Addrs[0], Username: opts.Username, Password: opts.Password, DB: opts.DB})
	t.Cleanup(func() { raw.Close() })

	if err := s.CreateGrant(ctx, &store.Grant{Kind: store.GrantAccessToken, Signature: "sig-1", RequestID: "req-1",
		ClientID: "rp", Active: true, RequestedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	w := make(watchRecorder, 16)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.WatchGrants(wctx, w) }()
	t.Cleanup(func() { stop(); <-done })
	if ev := w.next(t); ev != "ready" {
		t.Fatalf("first report %q, want ready", ev)
	}

	list, err := raw.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") || !strings.Contains(line, " sub=1 ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := raw.Do(ctx, "client", "kill", "id", id).Err(); err != nil {
					t.Fatal(err)
				}
				killed++
			}
		}
	}
	if killed != 1 {
		t.Fatalf("found %d subscriber connections named %s, want 1", killed, name)
	}
	if ev := w.next(t); ev != "lost" {
		t.Fatalf("after the connection dropped: %q, want lost", ev)
	}
	if ev := w.next(t); ev != "ready" {
		t.Fatalf("after lost: %q, want ready", ev)
	}
	if err := s.DeactivateGrant(ctx, store.GrantAccessToken, "sig-1"); err != nil {
		t.Fatal(err)
	}
	if ev := w.next(t); ev != "changed sig-1" {
		t.Fatalf("after a change: %q, want changed sig-1", ev)
	}
}

// TestFailuresAreUnavailable: a failure of the server (here: a closed
// client) is store.ErrUnavailable, so that callers answer 503, not 500.
func TestFailuresAreUnavailable(t *testing.T) {
	t.Parallel()
	url, prefix := redistest.NewPrefix(t)
	s, err := redis.Open(t.Context(), url, prefix, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ctx := t.Context()
	if _, err := s.GetEntry(ctx, "k"); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetEntry on a closed client: %v, want ErrUnavailable", err)
	}
	if _, err := s.Incr(ctx, "c", time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Incr on a closed client: %v, want ErrUnavailable", err)
	}
	if _, err := s.GetGrant(ctx, store.GrantAccessToken, "sig"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetGrant on a closed client: %v, want ErrUnavailable", err)
	}
}

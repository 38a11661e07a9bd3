package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/esia-oidc/idp/internal/testserver"
)

// The faults, in the order they run.
const (
	FaultKill     = "kill"     // SIGKILL one replica; restart it after Config.Outage
	FaultRolling  = "rolling"  // restart every replica, one after the other (SIGTERM, start, ready)
	FaultRedis    = "redis"    // restart the Redis primary (down Config.Outage, at most 1 s: Sentinel fails over after 5 s)
	FaultPostgres = "postgres" // restart PostgreSQL (fast shutdown, down Config.Outage)
	FaultFailover = "failover" // SIGKILL the Redis primary: Sentinel promotes the replica; the old primary returns as a replica
)

// AllFaults in the order they run.
var AllFaults = []string{FaultKill, FaultRolling, FaultRedis, FaultPostgres, FaultFailover}

// Config is a run of the faults under load.
type Config struct {
	Replicas int           // idp serve processes behind the proxy (2 or 3)
	Workers  int           // goroutines of load
	Accounts int           // accounts the workers log in as
	Steady   time.Duration // load with no fault before the first and after each
	// Outage is how long a killed replica, Redis or PostgreSQL stays down.
	// Redis's is at most 1 s: a restart must end well before Sentinel's
	// 5 s, or it becomes a failover.
	Outage         time.Duration
	RequestTimeout time.Duration // bound of every request (a hang past it is a failure)
	RecoveryBound  time.Duration // every operation succeeds again within this of the repair
	LockAttempts   int           // IDP_LOGIN_LOCKOUT_ATTEMPTS
	Faults         []string
	Logf           func(format string, args ...any) // progress; nil: none
}

// DefaultConfig is the CI's run: a few seconds per fault.
func DefaultConfig() Config {
	return Config{
		Replicas: 3, Workers: 4, Accounts: 8,
		Steady: 2 * time.Second, Outage: 1500 * time.Millisecond,
		RequestTimeout: 10 * time.Second, RecoveryBound: 20 * time.Second,
		LockAttempts: 4, Faults: AllFaults,
	}
}

// Phase is one fault as it happened.
type Phase struct {
	Fault string
	// Start: the fault began. Repaired: what failed is back (the process
	// answers, or Sentinel named the new primary). Recovered: every
	// operation of the load had succeeded since Repaired (polled).
	Start, Repaired, Recovered time.Time
	End                        time.Time // the next phase may start
	Requests                   map[Class]int
	Failed                     map[string]int // failed operations by operation, shed or broken
	LastFailure                time.Time      // end of the last failed operation in the phase
}

// Outage is from the fault's start to the last failed operation (zero if
// none failed).
func (p *Phase) Outage() time.Duration {
	if p.LastFailure.IsZero() {
		return 0
	}
	return p.LastFailure.Sub(p.Start)
}

// Recovery is from the repair to the last failed operation: from then on
// nothing failed (zero if nothing failed after the repair).
func (p *Phase) Recovery() time.Duration { return max(0, p.LastFailure.Sub(p.Repaired)) }

// Report is what a run measured and found wrong.
type Report struct {
	Config     Config
	Phases     []*Phase
	Requests   map[Class]int      // every request of the load
	Ops        map[string]OpCount // every operation
	Duration   time.Duration
	Proxy      struct{ Retried, Broken, NoBackends int64 }
	Checked    map[string]int // what the checks after the faults covered
	SpentCodes int            // codes spent by an exchange answered 503 (the client logs in again)
	Violations []string
}

// Run starts PostgreSQL, a Redis Sentinel group, the proxy and the
// replicas (their own, in a temporary directory), runs the load, the
// faults and the checks, stops everything and reports. An error means the
// run could not be made; what it found wrong is in Report.Violations.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	began := time.Now()
	rep = &Report{Config: cfg, Checked: map[string]int{}}
	var violations []string
	fail := func(format string, args ...any) {
		violations = append(violations, fmt.Sprintf(format, args...))
	}

	base, err := os.MkdirTemp("", "idp-chaos-")
	if err != nil {
		return nil, err
	}
	var cleanups []func()
	defer func() {
		for _, c := range slices.Backward(cleanups) {
			c()
		}
		os.RemoveAll(base)
	}()

	pg, err := StartPostgres(ctx, base)
	if pg != nil {
		cleanups = append(cleanups, pg.Close)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: %w\n%s", err, logsOf(pg))
	}
	sentinel, err := StartSentinel(ctx, base)
	cleanups = append(cleanups, sentinel.Close)
	if err != nil {
		return nil, fmt.Errorf("sentinel: %w", err)
	}
	proxy, err := Listen(200 * time.Millisecond)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() { _ = proxy.Close() })
	logf("chaos: PostgreSQL %s, Redis Sentinel %s, proxy %s", pg.URL, sentinel.URL(), proxy.URL)

	sh := &testserver.Shared{
		DatabaseURL: pg.URL, RedisURL: sentinel.URL(), RedisPrefix: "chaos:",
		SecretKey: randomHex(32), AdminToken: randomHex(32),
	}
	env := []string{
		"IDP_LOGIN_LOCKOUT_ATTEMPTS=" + itoa(cfg.LockAttempts),
		"IDP_IP_FAILURE_LIMIT=1000000", // every request comes from 127.0.0.1
		"IDP_KEY_REFRESH=1s", "IDP_KEY_PUBLISH_DELAY=1s",
		"IDP_SHUTDOWN_TIMEOUT=10s",
	}
	var replicas []*Replica
	for i := range cfg.Replicas {
		r, err := NewReplica(fmt.Sprintf("replica-%d", i+1), sh, proxy.URL, env...)
		if err != nil {
			return nil, err
		}
		replicas = append(replicas, r)
	}
	cleanups = append(cleanups, func() {
		for _, r := range replicas {
			r.Stop()
		}
	})
	// The first applies the migrations; the others start together.
	if err := replicas[0].Start(ctx); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, replicas[0].Logs)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(replicas))
	for i, r := range replicas[1:] {
		wg.Go(func() { errs[i+1] = r.Start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	addrs := make([]string, len(replicas))
	for i, r := range replicas {
		addrs[i] = r.Addr
	}
	proxy.SetBackends(addrs...)

	load := NewLoad(proxy.URL, sh.AdminToken, cfg.RequestTimeout)
	if err := load.Setup(ctx, cfg.Accounts); err != nil {
		return nil, err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() {
		load.Run(loadCtx, cfg.Workers)
		close(loadDone)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopLoad()
			<-loadDone
			stopped = true
		}
	}
	defer stop()

	// Warm: every operation has succeeded once.
	warm := time.Now()
	if _, err := awaitOps(ctx, load, warm, time.Minute); err != nil {
		return nil, fmt.Errorf("the load never got going: %w", err)
	}
	sleep(ctx, cfg.Steady)
	logf("chaos: load running (%d workers), %s", cfg.Workers, time.Since(warm).Round(time.Millisecond))

	kidsBefore, err := load.JWKS(ctx)
	if err != nil {
		return nil, err
	}

	for _, fault := range cfg.Faults {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// What the fault must not lose: a key (PostgreSQL), lockout
		// counts (Redis), and the load's writes.
		if fault == FaultPostgres {
			k, err := load.Admin.RotateKey(WithOp(ctx, OpCheck), "RS256")
			if err != nil {
				return nil, fmt.Errorf("rotate a key: %w", err)
			}
			rep.Checked["keys rotated before a fault"]++
			awaitKID(ctx, load, k.KID)
		}
		if kids, err := load.JWKS(ctx); err == nil {
			kidsBefore = union(kidsBefore, kids)
		}
		locked, control, err := prepareLockout(ctx, load, cfg.LockAttempts)
		if err != nil {
			return nil, fmt.Errorf("before %s: %w", fault, err)
		}
		if fault == FaultFailover || fault == FaultRedis {
			if err := sentinel.WaitSynced(ctx, 30*time.Second); err != nil {
				return nil, err
			}
		}

		ph := &Phase{Fault: fault, Start: time.Now()}
		logf("chaos: %s", fault)
		switch fault {
		case FaultKill:
			replicas[0].Kill()
			sleep(ctx, cfg.Outage)
			if err := replicas[0].Start(ctx); err != nil {
				return nil, err
			}
		case FaultRolling:
			for _, r := range replicas {
				r.Stop()
				if err := r.Start(ctx); err != nil {
					return nil, err
				}
			}
		case FaultRedis:
			primary, err := sentinel.Primary(ctx)
			if err != nil {
				return nil, err
			}
			primary.Stop()
			sleep(ctx, min(cfg.Outage, time.Second))
			if err := primary.Start(ctx, ""); err != nil {
				return nil, err
			}
		case FaultPostgres:
			pg.Stop()
			sleep(ctx, cfg.Outage)
			if err := pg.Start(ctx); err != nil {
				return nil, fmt.Errorf("%w\n%s", err, pg.Logs)
			}
		case FaultFailover:
			old, err := sentinel.Primary(ctx)
			if err != nil {
				return nil, err
			}
			old.Kill()
			var promoted *Redis
			if err := waitFor(ctx, "failover", time.Minute, nil, func(ctx context.Context) error {
				p, err := sentinel.Primary(ctx)
				if err != nil {
					return err
				}
				if p == old {
					return errors.New("not yet")
				}
				promoted = p
				return nil
			}); err != nil {
				return nil, err
			}
			ph.Repaired = time.Now()
			if err := old.Start(ctx, promoted.Addr); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown fault %q", fault)
		}
		if ph.Repaired.IsZero() {
			ph.Repaired = time.Now()
		}
		rec, err := awaitOps(ctx, load, ph.Repaired, cfg.RecoveryBound)
		if err != nil {
			fail("%s: the service did not recover within %s of the repair: %v", fault, cfg.RecoveryBound, err)
			rec = time.Now()
		}
		ph.Recovered = rec
		if fault == FaultRedis || fault == FaultFailover {
			if err := sentinel.WaitHealthy(ctx, time.Minute); err != nil {
				return nil, err
			}
		}
		for _, p := range checkLockout(ctx, load, locked, control) {
			fail("%s: %s", fault, p)
		}
		rep.Checked["lockout counts"] += 2
		sleep(ctx, cfg.Steady)
		ph.End = time.Now()
		rep.Phases = append(rep.Phases, ph)
		logf("chaos: %s: repaired after %s, every operation passed again %s later", fault, ph.Repaired.Sub(ph.Start).Round(time.Millisecond), ph.Recovered.Sub(ph.Repaired).Round(time.Millisecond))
	}
	stop()

	// What the requests and operations of the load came to.
	records := load.Rec.Records()
	failures := load.Failures()
	rep.Requests = map[Class]int{}
	for _, r := range records {
		rep.Requests[r.Class]++
		if !r.Class.Allowed() {
			fail("%s %s %s at %s: %s (HTTP %d) %s", r.Op, r.Method, r.Path, r.Start.Format("15:04:05.000"), r.Class, r.Status, r.Err)
		}
		if r.Class == Conn && !connAllowed(rep.Phases, r.End) {
			fail("%s %s %s at %s: a connection error while no replica was down: %s", r.Op, r.Method, r.Path, r.Start.Format("15:04:05.000"), r.Err)
		}
	}
	for _, f := range failures {
		if !f.Expected {
			fail("%s at %s failed: %s", f.Op, f.Time.Format("15:04:05.000"), f.Desc)
		}
	}
	for _, ph := range rep.Phases {
		ph.Requests, ph.Failed = map[Class]int{}, map[string]int{}
		for _, r := range records {
			if !r.Start.Before(ph.Start) && r.Start.Before(ph.End) {
				ph.Requests[r.Class]++
			}
		}
		for _, f := range failures {
			if !f.Time.Before(ph.Start) && f.Time.Before(ph.End) {
				ph.Failed[f.Op]++
				ph.LastFailure = f.Time
			}
		}
	}
	rep.Ops = load.Counts()
	rep.SpentCodes = load.SpentCodes()

	// Nothing written before the faults is lost.
	n, probs := load.CheckLedger()
	rep.Checked["refresh tokens presented"] = n
	violations = append(violations, probs...)
	fam, reused, probs := load.CheckFamilies(ctx)
	rep.Checked["refresh families alive"], rep.Checked["rotated tokens reused"] = fam, reused
	violations = append(violations, probs...)
	n, probs = load.CheckLedger() // the checks' own presentations too
	violations = append(violations, probs...)
	accts, cls, probs := load.CheckRegistered(ctx)
	rep.Checked["accounts"], rep.Checked["clients"] = accts, cls
	violations = append(violations, probs...)
	n, probs = load.CheckConsents(ctx)
	rep.Checked["consents"] = n
	violations = append(violations, probs...)
	kidsAfter, err := load.JWKS(ctx)
	if err != nil {
		fail("JWKS after the faults: %v", err)
	}
	for _, k := range kidsBefore {
		if !slices.Contains(kidsAfter, k) {
			fail("key %s, published before the faults, is gone from the JWKS", k)
		}
	}
	rep.Checked["keys"] = len(kidsBefore)
	for _, r := range replicas {
		if n := r.Races(); n > 0 {
			fail("%s: the race detector reported %d data race(s)", r.Name, n)
		}
	}
	rep.Proxy.Retried, rep.Proxy.Broken, rep.Proxy.NoBackends = proxy.Retried.Load(), proxy.Broken.Load(), proxy.NoBackends.Load()
	rep.Duration = time.Since(began)
	rep.Violations = violations
	if dir := os.Getenv("IDP_CHAOS_LOG_DIR"); dir != "" {
		saveLogs(dir, pg, sentinel, replicas)
	}
	if len(violations) > 0 {
		for _, r := range replicas {
			logf("chaos: %s log:\n%s", r.Name, tailLines(r.Logs.String(), 60))
		}
	}
	return rep, nil
}

// connAllowed reports whether t falls in a phase where a replica died or
// restarted (up to its recovery).
func connAllowed(phases []*Phase, t time.Time) bool {
	for _, ph := range phases {
		if (ph.Fault == FaultKill || ph.Fault == FaultRolling) && !t.Before(ph.Start) && !t.After(ph.Recovered.Add(time.Second)) {
			return true
		}
	}
	return false
}

// awaitOps waits until every operation of the load has succeeded after
// since, at most limit, and returns when the last of them did.
func awaitOps(ctx context.Context, l *Load, since time.Time, limit time.Duration) (time.Time, error) {
	var at time.Time
	err := waitFor(ctx, "operations", limit, nil, func(context.Context) error {
		last := l.LastOK()
		at = since
		for _, op := range []string{OpLogin, OpExchange, OpRefresh, OpCC, OpAdmin} {
			t, ok := last[op]
			if !ok || t.Before(since) {
				return fmt.Errorf("no %s has succeeded yet", op)
			}
			if t.After(at) {
				at = t
			}
		}
		return nil
	})
	// The moment every operation had succeeded at least once: the first
	// success of each after since is not kept, so the latest success seen
	// at the poll bounds it from above.
	return at, err
}

// prepareLockout registers two accounts and posts wrong passwords through
// the proxy (so across the replicas): lock−1 for the first, lock−2 for the
// second, each answered 401.
func prepareLockout(ctx context.Context, l *Load, lock int) (locked, control Account, err error) {
	if locked, err = l.NewAccount(ctx, "lock"); err != nil {
		return
	}
	if control, err = l.NewAccount(ctx, "control"); err != nil {
		return
	}
	for i, a := range []Account{locked, control} {
		for range lock - 1 - i {
			status, err := l.LoginAttempt(ctx, a, "wrong-"+a.Password)
			if err != nil {
				return locked, control, err
			}
			if status != http.StatusUnauthorized {
				return locked, control, fmt.Errorf("a wrong password got %d, want 401", status)
			}
		}
	}
	return locked, control, nil
}

// checkLockout: after the fault, one more wrong password locks the first
// account exactly (429, and the right password is refused), and leaves
// the second one short of the lock (401, and the right password passes).
// An attempt shed by the server (503) is tried again.
func checkLockout(ctx context.Context, l *Load, locked, control Account) (problems []string) {
	attempt := func(a Account, pw string) int {
		for range 10 {
			status, err := l.LoginAttempt(ctx, a, pw)
			if err == nil && status != http.StatusServiceUnavailable {
				return status
			}
			sleep(ctx, 200*time.Millisecond)
		}
		return 0
	}
	if s := attempt(locked, "wrong-"+locked.Password); s != http.StatusTooManyRequests {
		problems = append(problems, fmt.Sprintf("the wrong password that reaches the lock got %d, want 429 (counts lost?)", s))
	}
	if s := attempt(locked, locked.Password); s != http.StatusTooManyRequests {
		problems = append(problems, fmt.Sprintf("the right password on a locked account got %d, want 429", s))
	}
	if s := attempt(control, "wrong-"+control.Password); s != http.StatusUnauthorized {
		problems = append(problems, fmt.Sprintf("a wrong password one short of the lock got %d, want 401 (counted twice?)", s))
	}
	if s := attempt(control, control.Password); s != http.StatusSeeOther && s != http.StatusFound {
		problems = append(problems, fmt.Sprintf("the right password one short of the lock got %d, want a redirect", s))
	}
	return problems
}

// awaitKID waits (at most 10 s) until the proxy's JWKS lists kid.
func awaitKID(ctx context.Context, l *Load, kid string) {
	_ = waitFor(ctx, "key "+kid, 10*time.Second, nil, func(ctx context.Context) error {
		kids, err := l.JWKS(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(kids, kid) {
			return errors.New("not published yet")
		}
		return nil
	})
}

func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func logsOf(pg *Postgres) string {
	if pg == nil {
		return ""
	}
	return pg.Logs.String()
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			lines++
			if lines > n {
				return s[i+1:]
			}
		}
	}
	return s
}

// saveLogs writes every process's log into dir (IDP_CHAOS_LOG_DIR).
func saveLogs(dir string, pg *Postgres, g *Sentinel, replicas []*Replica) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	write := func(name, text string) { _ = os.WriteFile(filepath.Join(dir, name+".log"), []byte(text), 0o644) }
	write("postgres", pg.Logs.String())
	for i, r := range g.Servers {
		write("redis-"+itoa(i), r.Logs.String())
	}
	for i, s := range g.Sentinels {
		write("sentinel-"+itoa(i), s.Logs.String())
	}
	for _, r := range replicas {
		write(r.Name, r.Logs.String())
	}
}

package lockout

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
	"github.com/esia-oidc/idp/store/storetest"
)

// waits drives a guard's waits: a wait for a check in progress ends at
// once (Begin gives up after its steps without sleeping), and the renewals
// run only when the test ticks them. parked receives each time a check's
// renewals wait for the next tick.
type waits struct {
	tick   chan time.Time
	parked chan struct{}
}

func newWaits() *waits {
	return &waits{tick: make(chan time.Time), parked: make(chan struct{}, 16)}
}

func (w *waits) after(d time.Duration) <-chan time.Time {
	if d == renewEvery {
		w.parked <- struct{}{}
		return w.tick
	}
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

// renewOnce runs one renewal of c, the one running check, and waits until
// it is done; false when it found the mark lost (c ended).
func (w *waits) renewOnce(c *Check) bool {
	w.tick <- time.Time{}
	select {
	case <-w.parked:
		return true
	case <-c.renewed:
		return false
	}
}

// replicas are guards on one store, as two server processes share Redis.
type replicas struct {
	clk   *storetest.Clock
	st    *memory.Store
	l     *Limiter
	waits *waits
}

func newReplicas(t *testing.T, p Policy) *replicas {
	t.Helper()
	clk := storetest.NewClock()
	st := memory.New(clk.Now)
	return &replicas{clk: clk, st: st, l: newLimiter(t, st, p), waits: newWaits()}
}

func (r *replicas) guard() *Guard {
	return &Guard{Limiter: r.l, Marks: r.st, Now: r.clk.Now, after: r.waits.after}
}

// begin begins a check that must be let through.
func (r *replicas) begin(t *testing.T, g *Guard, s Subject) *Check {
	t.Helper()
	c, d, err := g.Begin(ctx, s, ipA)
	if err != nil || c == nil {
		t.Fatalf("Begin: %v, %+v", err, d)
	}
	<-r.waits.parked // its renewals wait for a tick
	return c
}

func (r *replicas) marked(t *testing.T, s Subject) bool {
	t.Helper()
	_, err := r.st.GetEntry(ctx, markKey(s))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func (r *replicas) failures(t *testing.T, s Subject) int64 {
	t.Helper()
	c, err := r.st.GetCounter(ctx, s.Key())
	if err != nil {
		t.Fatal(err)
	}
	return c.N
}

func (r *replicas) inFlight(t *testing.T) int64 {
	t.Helper()
	c, err := r.st.GetCounter(ctx, flightKey(IPKey(ipA)))
	if err != nil {
		t.Fatal(err)
	}
	return c.N
}

func TestGuard(t *testing.T) {
	policy := Policy{Attempts: 3, Lock: 15 * time.Minute, IPLimit: 100, IPWindow: 10 * time.Minute}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, r *replicas, s Subject)
	}{
		{"a second check waits, then is busy; the first's verdict frees the subject", func(t *testing.T, r *replicas, s Subject) {
			a, b := r.guard(), r.guard()
			first := r.begin(t, a, s)
			if c, _, err := b.Begin(ctx, s, ipB); c != nil || !errors.Is(err, ErrBusy) {
				t.Fatalf("a second check on another replica: begun %v, %v; want ErrBusy", c != nil, err)
			}
			d, err := first.Fail()
			if err != nil || !d.Allowed || d.Remaining != 2 {
				t.Fatalf("Fail: %+v, %v; want allowed with 2 remaining", d, err)
			}
			if r.marked(t, s) {
				t.Fatal("the mark outlived the verdict")
			}
			second := r.begin(t, b, s)
			second.Close()
		}},
		{"failures lock at the limit and the next check is refused, its mark released", func(t *testing.T, r *replicas, s Subject) {
			g := r.guard()
			var d Decision
			for i := range policy.Attempts {
				c := r.begin(t, g, s)
				var err error
				if d, err = c.Fail(); err != nil {
					t.Fatalf("Fail %d: %v", i+1, err)
				}
				c.Close()
			}
			if !d.Locked || d.Scope != ScopeIdentifier {
				t.Fatalf("the failure that reaches the limit: %+v, want locked", d)
			}
			c, d, err := g.Begin(ctx, s, ipA)
			if c != nil || err != nil || !d.Locked {
				t.Fatalf("Begin on a locked subject: begun %v, %+v, %v; want refused", c != nil, d, err)
			}
			if r.marked(t, s) || r.inFlight(t) != 0 {
				t.Fatalf("a refused check kept its mark (%v) or place (%d)", r.marked(t, s), r.inFlight(t))
			}
		}},
		{"Succeed forgets the failures; a second verdict is refused", func(t *testing.T, r *replicas, s Subject) {
			g := r.guard()
			c := r.begin(t, g, s)
			if _, err := c.Fail(); err != nil {
				t.Fatal(err)
			}
			c = r.begin(t, g, s)
			if err := c.Succeed(); err != nil {
				t.Fatalf("Succeed: %v", err)
			}
			if _, err := c.Fail(); !errors.Is(err, errEnded) {
				t.Fatalf("Fail after Succeed: %v, want errEnded", err)
			}
			c.Close()
			if n := r.failures(t, s); n != 0 {
				t.Fatalf("%d failures after a success, want 0", n)
			}
		}},
		{"Close without a verdict counts nothing and releases the mark and the place", func(t *testing.T, r *replicas, s Subject) {
			c := r.begin(t, r.guard(), s)
			if r.inFlight(t) != 1 || !r.marked(t, s) {
				t.Fatalf("a running check: %d in flight, marked %v", r.inFlight(t), r.marked(t, s))
			}
			c.Close()
			c.Close()
			if r.inFlight(t) != 0 || r.marked(t, s) || r.failures(t, s) != 0 {
				t.Fatalf("after Close: %d in flight, marked %v, %d failures", r.inFlight(t), r.marked(t, s), r.failures(t, s))
			}
			if c.Context().Err() == nil {
				t.Fatal("the check's context outlived Close")
			}
		}},
		{"renewals keep the mark past its first lease", func(t *testing.T, r *replicas, s Subject) {
			a, b := r.guard(), r.guard()
			c := r.begin(t, a, s)
			for range 3 {
				r.clk.Advance(renewEvery)
				if !r.waits.renewOnce(c) {
					t.Fatal("a renewal found the mark lost")
				}
			}
			r.clk.Advance(renewEvery) // 4 × Lease/3 after Begin
			if got, _, err := b.Begin(ctx, s, ipA); got != nil || !errors.Is(err, ErrBusy) {
				t.Fatalf("another check while the mark is renewed: begun %v, %v; want ErrBusy", got != nil, err)
			}
			if d, err := c.Fail(); err != nil || !d.Allowed {
				t.Fatalf("Fail of a renewed check: %+v, %v", d, err)
			}
		}},
		{"an abandoned lease lapses after Lease; its holder's late verdict is counted, not given, and leaves the new mark", func(t *testing.T, r *replicas, s Subject) {
			crashed, other := r.guard(), r.guard()
			stale := r.begin(t, crashed, s) // its renewals never run: the process stopped
			r.clk.Advance(Lease - time.Millisecond)
			if c, _, err := other.Begin(ctx, s, ipB); c != nil || !errors.Is(err, ErrBusy) {
				t.Fatalf("just before the lease ends: begun %v, %v; want ErrBusy", c != nil, err)
			}
			r.clk.Advance(time.Millisecond)
			next := r.begin(t, other, s)
			if _, err := stale.Fail(); !errors.Is(err, ErrLapsed) || !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("the stale check's Fail: %v, want ErrLapsed (unavailable)", err)
			}
			if n := r.failures(t, s); n != 1 {
				t.Fatalf("the stale failure: %d counted, want 1", n)
			}
			if !r.marked(t, s) {
				t.Fatal("the stale holder ended the new holder's mark")
			}
			if d, err := next.Fail(); err != nil || d.Remaining != 1 {
				t.Fatalf("the new holder's Fail: %+v, %v; want 1 remaining", d, err)
			}
		}},
		{"a holder past its own reckoning gives no success", func(t *testing.T, r *replicas, s Subject) {
			g := r.guard()
			c := r.begin(t, g, s)
			if _, err := c.Fail(); err != nil {
				t.Fatal(err)
			}
			c = r.begin(t, g, s)
			r.clk.Advance(Lease - leaseMargin) // the store keeps it another second
			if !r.marked(t, s) {
				t.Fatal("the mark lapsed early")
			}
			if err := c.Succeed(); !errors.Is(err, ErrLapsed) {
				t.Fatalf("Succeed: %v, want ErrLapsed", err)
			}
			if n := r.failures(t, s); n != 1 || r.inFlight(t) != 0 || r.marked(t, s) {
				t.Fatalf("after a withheld success: %d failures (want 1 kept), %d in flight, marked %v", n, r.inFlight(t), r.marked(t, s))
			}
		}},
		{"a renewal that finds the mark taken ends the check", func(t *testing.T, r *replicas, s Subject) {
			c := r.begin(t, r.guard(), s)
			// The mark was lost (a fail-over) and another took it.
			if err := r.st.PutEntry(ctx, markKey(s), []byte("another's token"), Lease); err != nil {
				t.Fatal(err)
			}
			r.waits.tick <- time.Time{} // the renewal finds it: no more renewals
			select {
			case <-c.renewed:
			case <-r.waits.parked:
				t.Fatal("the check renewed another's mark")
			}
			if err := c.Succeed(); !errors.Is(err, ErrLapsed) {
				t.Fatalf("Succeed after the mark was taken: %v, want ErrLapsed", err)
			}
			if v, err := r.st.GetEntry(ctx, markKey(s)); err != nil || string(v) != "another's token" {
				t.Fatalf("the other's mark: %q, %v", v, err)
			}
		}},
		{"an empty subject is refused", func(t *testing.T, r *replicas, s Subject) {
			if c, _, err := r.guard().Begin(ctx, Subject{}, ipA); c != nil || !errors.Is(err, ErrEmptySubject) {
				t.Fatalf("Begin(empty): begun %v, %v", c != nil, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplicas(t, policy)
			tc.run(t, r, r.l.Account("acct-1"))
		})
	}
}

// TestGuardParallelBegin: of two checks begun at once on two replicas,
// exactly one holds the subject; the other is busy.
func TestGuardParallelBegin(t *testing.T) {
	for round := range 50 {
		r := newReplicas(t, Policy{})
		s := r.l.Account(fmt.Sprintf("acct-%d", round))
		var (
			wg     sync.WaitGroup
			checks [2]*Check
			errs   [2]error
		)
		for i := range 2 {
			g := r.guard()
			wg.Go(func() { checks[i], _, errs[i] = g.Begin(ctx, s, ipA) })
		}
		wg.Wait()
		held := 0
		for i := range 2 {
			switch {
			case errs[i] == nil && checks[i] != nil:
				held++
				<-r.waits.parked
				checks[i].Close()
			case !errors.Is(errs[i], ErrBusy):
				t.Fatalf("round %d, check %d: %v", round, i, errs[i])
			}
		}
		if held != 1 {
			t.Fatalf("round %d: %d checks hold the subject, want exactly 1", round, held)
		}
	}
}

// TestGuardExactUnderBurst: bursts of wrong guesses on two replicas, all at
// once, with real waits: exactly Attempts failures are counted, the last
// one locking, and nothing more is judged.
func TestGuardExactUnderBurst(t *testing.T) {
	st := memory.New(nil)
	l := newLimiter(t, st, Policy{Attempts: 5})
	s := l.Account("acct")
	guards := []*Guard{{Limiter: l, Marks: st}, {Limiter: l, Marks: st}}
	var mu sync.Mutex
	judged, locked, busy := 0, 0, 0
	for round := 0; locked == 0 && round < 20; round++ {
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				c, d, err := guards[i%2].Begin(ctx, s, ipA)
				if err == nil && c != nil {
					d, err = c.Fail()
					c.Close()
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrBusy):
					busy++
				case err != nil:
					t.Error(err)
				case c == nil:
					locked++
				case d.Locked:
					judged++
					locked++
				default:
					judged++
				}
			})
		}
		wg.Wait()
	}
	if judged != 5 || locked == 0 {
		t.Fatalf("%d guesses judged (%d busy), locked %d; want exactly 5 then locked", judged, busy, locked)
	}
	if c, _ := st.GetCounter(ctx, s.Key()); c.N != 5 {
		t.Fatalf("%d failures counted, want 5", c.N)
	}
}

package lockout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Guard runs the checks of a secret (a password, a code) against a subject
// one at a time across replicas, each inside the lockout's count: a caller
// begins a Check, verifies the secret, and gives the verdict with Fail or
// Succeed; a deferred Close abandons a check that got neither.
//
// Why one at a time: the Limiter judges a check before it is made, so
// checks of one subject sent together would all pass Begin before any
// failure is counted. A check holds the subject's mark, an entry in Marks
// (shared by every replica) holding a random token of its own, from before
// Begin until its verdict is counted; a check that finds the mark taken
// waits for it a moment, then is refused as busy (ErrBusy).
//
// The mark is a lease of Lease (5 s), renewed every Lease/3 while the
// check runs and ended by compare-and-delete with the token, so that a
// holder never ends or renews a mark that lapsed and was taken by another.
// A short lease is what a crash costs: the subject's next check waits at
// most Lease, not the check's whole time bound. It keeps the count exact:
// a mark lapses while its check still runs only if the holder's process
// stopped, whose verdict is never given, or if its renewals failed for a
// whole lease (the store unreachable, or the mark lost in a fail-over).
// The holder reckons, by its own clock, until when its last confirmed
// renewal keeps the mark (a second short of the store's expiry, for the
// replicas' clocks), and gives no verdict past then: Fail still counts the
// failure, first, then both Fail and Succeed return ErrLapsed (a 503 to
// the page, so a right and a wrong secret answer alike) instead of a
// verdict. So every verdict given was counted while no other check of the
// subject could have begun.
type Guard struct {
	Limiter *Limiter
	// Marks holds the marks (the ephemeral store).
	Marks store.Entries
	// Now is the clock the holder reckons its lease by; nil: time.Now.
	Now store.Clock
	// Logger is told of marks and counters it failed to release; nil:
	// slog.Default().
	Logger *slog.Logger

	// after waits (tests drive the renewals and the waits); nil: time.After.
	after func(time.Duration) <-chan time.Time
}

const (
	// Lease is how long a check's mark lives unless renewed.
	Lease = 5 * time.Second
	// renewEvery is how often a running check renews its mark.
	renewEvery = Lease / 3
	// leaseMargin: a holder takes its lease to end this much before the
	// store does (the replicas' clocks may differ by less).
	leaseMargin = time.Second
	// waitStep and waitSteps bound how long Begin waits for a check in
	// progress (2 s).
	waitStep  = 50 * time.Millisecond
	waitSteps = 40
	// CheckTimeout bounds a check that the client no longer waits for.
	CheckTimeout = 30 * time.Second
	// opTimeout bounds each count and release made for a check.
	opTimeout = 10 * time.Second
)

var (
	// ErrBusy: another check of the subject did not end within the wait;
	// the page asks to try again in a second.
	ErrBusy = errors.New("lockout: a check of the same subject is in progress")
	// ErrLapsed: the check's mark may have lapsed before its verdict, so
	// the verdict is not given (see Guard). It wraps store.ErrUnavailable.
	ErrLapsed = fmt.Errorf("lockout: the check's mark lapsed before its verdict: %w", store.ErrUnavailable)
	errEnded  = errors.New("lockout: the check has ended")
)

func (g *Guard) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

func (g *Guard) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.Default()
	}
	return g.Logger
}

func (g *Guard) wait(d time.Duration) <-chan time.Time {
	if g.after == nil {
		return time.After(d)
	}
	return g.after(d)
}

// markKey is the mark of a subject: "lock:mark:" and the subject's kind
// and keyed hash, shared by every page that checks a secret of it.
func markKey(s Subject) string { return "lock:mark:" + strings.TrimPrefix(s.key, "lock:") }

// Check is a check of a secret under way: it holds the subject's mark and
// its place among its address's attempts in flight. Give its verdict with
// Fail or Succeed, at most once; defer Close, which abandons a check that
// got none (nothing is counted) and releases what it holds.
type Check struct {
	g       *Guard
	attempt *Attempt
	key     string
	token   []byte
	base    context.Context // the request's values, not its cancellation
	ctx     context.Context
	cancel  context.CancelFunc
	stop    chan struct{} // closed to stop the renewals
	renewed chan struct{} // closed when they have stopped

	mu     sync.Mutex
	until  time.Time // the holder's reckoning of its lease; zero when lost
	ended  bool
	closed bool
}

// Begin takes the subject's mark (waiting up to 2 s for a check in
// progress; then ErrBusy) and begins the Limiter's attempt. It returns the
// Check, or a nil Check and the Decision that refused it (the subject or
// the address is locked). On error nothing is held or counted.
func (g *Guard) Begin(ctx context.Context, s Subject, ip netip.Addr) (*Check, Decision, error) {
	if s.key == "" {
		return nil, Decision{}, ErrEmptySubject
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand)
	c := &Check{g: g, key: markKey(s), token: []byte(hex.EncodeToString(raw[:])), base: context.WithoutCancel(ctx)}
	for step := 0; ; step++ {
		start := g.now()
		err := g.Marks.CreateEntry(ctx, c.key, c.token, Lease)
		if err == nil {
			c.until = start.Add(Lease - leaseMargin)
			break
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, Decision{}, fmt.Errorf("lockout: take the check's mark: %w", err)
		}
		if step == waitSteps-1 {
			return nil, Decision{}, ErrBusy
		}
		select {
		case <-ctx.Done():
			return nil, Decision{}, ctx.Err()
		case <-g.wait(waitStep):
		}
	}
	a, d, err := g.Limiter.Begin(ctx, s, ip)
	if err != nil || a == nil {
		c.unmark()
		return nil, d, err
	}
	c.attempt = a
	c.ctx, c.cancel = context.WithTimeout(c.base, CheckTimeout)
	c.stop, c.renewed = make(chan struct{}), make(chan struct{})
	go c.renew()
	return c, d, nil
}

// Context is the check's context, for the check and what follows its
// verdict: the request's values without its cancellation (a client that
// hangs up mid-check does not get a free guess), bounded by CheckTimeout,
// ended by Close.
func (c *Check) Context() context.Context { return c.ctx }

// renew renews the mark every renewEvery until the check ends, its
// context ends, or the mark is found lost (then the check can give no
// verdict).
func (c *Check) renew() {
	defer close(c.renewed)
	for {
		select {
		case <-c.stop:
			return
		case <-c.ctx.Done():
			return
		case <-c.g.wait(renewEvery):
		}
		start := c.g.now()
		ctx, cancel := context.WithTimeout(c.base, renewEvery)
		err := c.g.Marks.CompareAndSwapEntry(ctx, c.key, c.token, c.token, Lease)
		cancel()
		c.mu.Lock()
		switch {
		case err == nil:
			c.until = start.Add(Lease - leaseMargin)
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
			c.until = time.Time{} // lapsed, maybe taken by another: for good
		}
		lost := c.until.IsZero()
		c.mu.Unlock()
		if lost {
			return
		}
		if err != nil {
			c.g.logger().WarnContext(c.base, "renew a check's mark", "err", err)
		}
	}
}

// held tells whether the holder may still count on its mark.
func (c *Check) held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.g.now().Before(c.until)
}

// end marks the check ended; false when it had ended already.
func (c *Check) end() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.ended = true
	return true
}

// Fail counts the failure against the subject and the address and ends
// the check, returning the decision that follows (Locked on the failure
// that locks). The failure is counted first; then, if the mark may have
// lapsed, ErrLapsed instead of the decision.
func (c *Check) Fail() (Decision, error) {
	if !c.end() {
		return Decision{}, errEnded
	}
	ctx, cancel := context.WithTimeout(c.base, opTimeout)
	defer cancel()
	d, err := c.attempt.Fail(ctx)
	held := c.held()
	c.release()
	switch {
	case err != nil:
		return Decision{}, err
	case !held:
		return Decision{}, ErrLapsed
	}
	return d, nil
}

// Succeed forgets the subject's failures and ends the check; ErrLapsed
// (nothing forgotten) when the mark may have lapsed: the caller must not
// act on the success then. A failure to forget is only logged: the
// secret was right.
func (c *Check) Succeed() error {
	if !c.end() {
		return errEnded
	}
	ctx, cancel := context.WithTimeout(c.base, opTimeout)
	defer cancel()
	if !c.held() {
		c.abandon(ctx)
		c.release()
		return ErrLapsed
	}
	if err := c.attempt.Succeed(ctx); err != nil {
		c.g.logger().ErrorContext(ctx, "reset a lockout counter", "err", err)
	}
	c.release()
	return nil
}

// Close abandons the check if it got no verdict (no secret was judged:
// it was malformed, or the check failed for another reason), and releases
// what the check holds. It may be called more than once.
func (c *Check) Close() {
	if c.end() {
		ctx, cancel := context.WithTimeout(c.base, opTimeout)
		c.abandon(ctx)
		cancel()
		c.release()
	}
	c.cancel()
}

func (c *Check) abandon(ctx context.Context) {
	if err := c.attempt.Abandon(ctx); err != nil {
		c.g.logger().ErrorContext(ctx, "release a check's attempt", "err", err)
	}
}

// release stops the renewals and ends the mark, once.
func (c *Check) release() {
	c.mu.Lock()
	closed := c.closed
	c.closed = true
	c.mu.Unlock()
	if closed {
		return
	}
	close(c.stop)
	<-c.renewed
	c.unmark()
}

// unmark deletes the mark if it still holds the check's token.
func (c *Check) unmark() {
	ctx, cancel := context.WithTimeout(c.base, opTimeout)
	defer cancel()
	err := c.g.Marks.CompareAndDeleteEntry(ctx, c.key, c.token)
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		// It lapses within Lease.
		c.g.logger().WarnContext(ctx, "release a check's mark", "err", err)
	}
}

// Package storetest is the conformance suite of the storage contract in
// package store. Every backend (memory, postgres, redis) runs it from one
// small test file:
//
//	func TestDurable(t *testing.T) {
//		storetest.RunDurable(t, func(t *testing.T, now store.Clock) store.Durable {
//			return openIsolated(t, now) // own schema or key prefix; t.Cleanup closes it
//		})
//	}
//
// A store of record also runs RunJobs (its durable jobs and transactions),
// which waits on the wall clock.
//
// Each subtest opens a fresh store through open and runs in parallel with the
// others, so open must isolate every call (its own PostgreSQL schema, its own
// Redis key prefix) and register its own cleanup with t.Cleanup; the suite
// never calls Close. The suite moves time with a fake Clock: backends must read
// the time only through the clock they are given.
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Epoch is the instant every fake Clock starts at.
var Epoch = time.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC)

// Clock is a fake clock the suite moves; backends must read time only through it.
// It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads Epoch until it is advanced.
func NewClock() *Clock { return NewClockAt(Epoch) }

// NewClockAt returns a clock that reads t until it is advanced.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's current time. Its method value is a store.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// test is one conformance test of a store of type S.
type test[S any] struct {
	name string
	run  func(t *testing.T, s S, clk *Clock)
}

// group is a named set of tests, run as one parallel subtest.
type group[S any] struct {
	name  string
	tests []test[S]
}

// run runs every group and test in parallel, each test on a fresh store.
func run[S any](t *testing.T, open func(t *testing.T, now store.Clock) S, groups []group[S]) {
	t.Helper()
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					clk := NewClock()
					s := open(t, clk.Now)
					tc.run(t, s, clk)
				})
			}
		})
	}
}

// RunDurable runs the suite of store.Durable: accounts with their personal
// data, clients, consents, signing keys, operators, the audit trail, grants
// (RunGrants) and Ping.
func RunDurable(t *testing.T, open func(t *testing.T, now store.Clock) store.Durable) {
	t.Helper()
	run(t, open, []group[store.Durable]{
		{"Accounts", accountTests()},
		{"PersonalData", personalTests()},
		{"BankLinks", bankLinkTests()},
		{"Operators", operatorTests()},
		{"Audit", auditTests()},
		{"Clients", clientTests()},
		{"Consents", consentTests()},
		{"Keys", keyTests()},
		{"UnstorableKeys", unstorableTests()},
		{"Ping", []test[store.Durable]{{"Ping", func(t *testing.T, s store.Durable, _ *Clock) {
			if err := s.Ping(ctx(t)); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}}}},
	})
	RunGrants(t, func(t *testing.T, now store.Clock) store.Grants { return open(t, now) })
}

// RunEphemeral runs the suite of store.Ephemeral: grants (RunGrants), entries,
// counters, the announcements of store.GrantWatcher (which every ephemeral
// store implements: the token cache needs them) and Ping.
func RunEphemeral(t *testing.T, open func(t *testing.T, now store.Clock) store.Ephemeral) {
	t.Helper()
	run(t, open, []group[store.Ephemeral]{
		{"Entries", entryTests()},
		{"Counters", counterTests()},
		{"Sets", setTests()},
		{"Watch", watchTests()},
		{"Ping", []test[store.Ephemeral]{{"Ping", func(t *testing.T, s store.Ephemeral, _ *Clock) {
			if err := s.Ping(ctx(t)); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}}}},
	})
	RunGrants(t, func(t *testing.T, now store.Clock) store.Grants { return open(t, now) })
}

// RunGrants runs the suite of store.Grants for every GrantKind. RunDurable
// and RunEphemeral call it; both store.Durable and store.Ephemeral embed
// store.Grants.
func RunGrants(t *testing.T, open func(t *testing.T, now store.Clock) store.Grants) {
	t.Helper()
	run(t, open, []group[store.Grants]{{"Grants", grantTests()}})
}

// ctx returns a context that ends when the test does.
func ctx(t *testing.T) context.Context { return t.Context() }

// sameTime reports whether a and b are the same instant to the microsecond
// (PostgreSQL keeps microseconds). Two zero times are the same.
func sameTime(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() && b.IsZero()
	}
	return normTime(a).Equal(normTime(b))
}

// normTime truncates t to microseconds in UTC without a monotonic reading,
// so that reflect.DeepEqual compares instants.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// normStrings maps nil and empty slices to nil.
func normStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// normBytes maps nil and empty slices to nil.
func normBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// concurrently runs f(i) for i in [0, n) in n goroutines started together and
// returns their errors in order of i.
func concurrently(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = f(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

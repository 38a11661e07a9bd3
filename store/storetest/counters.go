package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func checkCounter(t *testing.T, what string, got store.Counter, n int64, expires time.Time) {
	t.Helper()
	if got.N != n || !sameTime(got.ExpiresAt, expires) {
		t.Fatalf("%s: got {N:%d ExpiresAt:%v}, want {N:%d ExpiresAt:%v}", what, got.N, got.ExpiresAt, n, expires)
	}
}

func mustIncr(t *testing.T, s store.Counters, key string, ttl time.Duration) store.Counter {
	t.Helper()
	c, err := s.Incr(ctx(t), key, ttl)
	if err != nil {
		t.Fatalf("Incr(%q): %v", key, err)
	}
	return c
}

func mustGetCounter(t *testing.T, s store.Counters, key string) store.Counter {
	t.Helper()
	c, err := s.GetCounter(ctx(t), key)
	if err != nil {
		t.Fatalf("GetCounter(%q): %v", key, err)
	}
	return c
}

func counterTests() []test[store.Ephemeral] {
	return []test[store.Ephemeral]{
		{"Missing", testCounterMissing},
		{"Incr", testCounterIncr},
		{"Sliding", testCounterSliding},
		{"Lapse", testCounterLapse},
		{"Reset", testCounterReset},
		{"Decr", testCounterDecr},
		{"ConcurrentIncrDecr", testCounterConcurrentIncrDecr},
		{"ConcurrentIncr", testCounterConcurrentIncr},
	}
}

func testCounterMissing(t *testing.T, s store.Ephemeral, clk *Clock) {
	checkCounter(t, "GetCounter(missing)", mustGetCounter(t, s, "fail:acc-1"), 0, time.Time{})
	if c := mustGetCounter(t, s, "fail:acc-1"); !c.ExpiresAt.IsZero() {
		t.Fatalf("GetCounter(missing): ExpiresAt %v, want the zero time", c.ExpiresAt)
	}
}

func testCounterIncr(t *testing.T, s store.Ephemeral, clk *Clock) {
	checkCounter(t, "Incr 1", mustIncr(t, s, "k", time.Minute), 1, clk.Now().Add(time.Minute))
	checkCounter(t, "Incr 2", mustIncr(t, s, "k", time.Minute), 2, clk.Now().Add(time.Minute))
	checkCounter(t, "GetCounter", mustGetCounter(t, s, "k"), 2, clk.Now().Add(time.Minute))
	// Keys are independent, also keys that share a prefix.
	checkCounter(t, "Incr other", mustIncr(t, s, "k2", time.Hour), 1, clk.Now().Add(time.Hour))
	checkCounter(t, "GetCounter(prefix)", mustGetCounter(t, s, "k:"), 0, time.Time{})
	checkCounter(t, "GetCounter after other key", mustGetCounter(t, s, "k"), 2, clk.Now().Add(time.Minute))
}

func testCounterSliding(t *testing.T, s store.Ephemeral, clk *Clock) {
	// Each increment within the ttl pushes the expiry to now+ttl.
	for i := int64(1); i <= 5; i++ {
		checkCounter(t, fmt.Sprintf("Incr %d", i), mustIncr(t, s, "k", time.Minute), i, clk.Now().Add(time.Minute))
		clk.Advance(50 * time.Second)
	}
	checkCounter(t, "GetCounter after sliding", mustGetCounter(t, s, "k"), 5, clk.Now().Add(10*time.Second))
	// The ttl of the latest increment wins, also when shorter.
	checkCounter(t, "Incr short ttl", mustIncr(t, s, "k", 5*time.Second), 6, clk.Now().Add(5*time.Second))
	clk.Advance(6 * time.Second)
	checkCounter(t, "GetCounter after short ttl", mustGetCounter(t, s, "k"), 0, time.Time{})
}

func testCounterLapse(t *testing.T, s store.Ephemeral, clk *Clock) {
	mustIncr(t, s, "k", time.Minute)
	mustIncr(t, s, "k", time.Minute)
	clk.Advance(time.Minute - time.Second)
	checkCounter(t, "GetCounter before lapse", mustGetCounter(t, s, "k"), 2, clk.Now().Add(time.Second))
	clk.Advance(2 * time.Second)
	checkCounter(t, "GetCounter after lapse", mustGetCounter(t, s, "k"), 0, time.Time{})
	checkCounter(t, "Incr after lapse", mustIncr(t, s, "k", time.Hour), 1, clk.Now().Add(time.Hour))
	checkCounter(t, "Incr after lapse 2", mustIncr(t, s, "k", time.Hour), 2, clk.Now().Add(time.Hour))
}

func testCounterReset(t *testing.T, s store.Ephemeral, clk *Clock) {
	mustIncr(t, s, "k", time.Minute)
	mustIncr(t, s, "k", time.Minute)
	mustIncr(t, s, "other", time.Minute)
	if err := s.ResetCounter(ctx(t), "k"); err != nil {
		t.Fatalf("ResetCounter: %v", err)
	}
	checkCounter(t, "GetCounter after reset", mustGetCounter(t, s, "k"), 0, time.Time{})
	checkCounter(t, "GetCounter(other) after reset", mustGetCounter(t, s, "other"), 1, clk.Now().Add(time.Minute))
	checkCounter(t, "Incr after reset", mustIncr(t, s, "k", time.Minute), 1, clk.Now().Add(time.Minute))
	for _, key := range []string{"never", "k", "k"} {
		if err := s.ResetCounter(ctx(t), key); err != nil {
			t.Fatalf("ResetCounter(%q): %v", key, err)
		}
	}
}

func mustDecr(t *testing.T, s store.Counters, key string) store.Counter {
	t.Helper()
	c, err := s.Decr(ctx(t), key)
	if err != nil {
		t.Fatalf("Decr(%q): %v", key, err)
	}
	return c
}

func testCounterDecr(t *testing.T, s store.Ephemeral, clk *Clock) {
	checkCounter(t, "Decr(missing)", mustDecr(t, s, "k"), 0, time.Time{})
	checkCounter(t, "GetCounter after Decr(missing)", mustGetCounter(t, s, "k"), 0, time.Time{})
	mustIncr(t, s, "k", time.Minute)
	mustIncr(t, s, "k", time.Minute)
	exp := clk.Now().Add(time.Minute)
	clk.Advance(10 * time.Second)
	// Decr keeps the expiry: it does not slide.
	checkCounter(t, "Decr 1", mustDecr(t, s, "k"), 1, exp)
	checkCounter(t, "Decr 2", mustDecr(t, s, "k"), 0, exp)
	checkCounter(t, "Decr below zero", mustDecr(t, s, "k"), 0, exp)
	checkCounter(t, "Incr after Decr", mustIncr(t, s, "k", time.Minute), 1, clk.Now().Add(time.Minute))
	// A lapsed counter is not revived.
	clk.Advance(2 * time.Minute)
	checkCounter(t, "Decr(lapsed)", mustDecr(t, s, "k"), 0, time.Time{})
	checkCounter(t, "Incr after lapse", mustIncr(t, s, "k", time.Minute), 1, clk.Now().Add(time.Minute))
}

func testCounterConcurrentIncrDecr(t *testing.T, s store.Ephemeral, clk *Clock) {
	const n = 40
	for range n {
		mustIncr(t, s, "k", time.Minute)
	}
	errs := concurrently(2*n, func(i int) error {
		var err error
		if i%2 == 0 {
			_, err = s.Incr(ctx(t), "k", time.Minute)
		} else {
			_, err = s.Decr(ctx(t), "k")
		}
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call #%d: %v", i, err)
		}
	}
	if c := mustGetCounter(t, s, "k"); c.N != n {
		t.Fatalf("after %d Incr and %d Decr on %d: N = %d", n, n, n, c.N)
	}
}

func testCounterConcurrentIncr(t *testing.T, s store.Ephemeral, clk *Clock) {
	const n = 50
	got := make([]int64, n)
	errs := concurrently(n, func(i int) error {
		c, err := s.Incr(ctx(t), "k", time.Minute)
		got[i] = c.N
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Incr #%d: %v", i, err)
		}
	}
	checkCounter(t, fmt.Sprintf("GetCounter after %d × Incr", n), mustGetCounter(t, s, "k"), n, clk.Now().Add(time.Minute))
	// Every caller saw a distinct value: 1..n.
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("Incr results: got %v, want each of 1..%d once", got, n)
		}
	}
}

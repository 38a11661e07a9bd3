package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func setTests() []test[store.Ephemeral] {
	return []test[store.Ephemeral]{
		{"AddAndMembers", testSetAddAndMembers},
		{"Expiry", testSetExpiry},
		{"Remove", testSetRemove},
		{"Concurrent", testSetConcurrent},
	}
}

func mustMembers(t *testing.T, s store.Sets, key string, want ...string) {
	t.Helper()
	got, err := s.SetMembers(ctx(t), key)
	if err != nil {
		t.Fatalf("SetMembers(%q): %v", key, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("SetMembers(%q) = %v, want %v", key, got, want)
	}
}

func mustAdd(t *testing.T, s store.Sets, key, member string, exp time.Time) {
	t.Helper()
	if err := s.AddToSet(ctx(t), key, member, exp); err != nil {
		t.Fatalf("AddToSet(%q, %q): %v", key, member, err)
	}
}

func testSetAddAndMembers(t *testing.T, s store.Ephemeral, clk *Clock) {
	mustMembers(t, s, "sessions:acc-1")
	mustAdd(t, s, "sessions:acc-1", "b", clk.Now().Add(time.Hour))
	mustAdd(t, s, "sessions:acc-1", "a", clk.Now().Add(time.Minute))
	mustAdd(t, s, "sessions:acc-1", "a", clk.Now().Add(time.Minute)) // again: one member
	mustAdd(t, s, "sessions:acc-2", "c", clk.Now().Add(time.Hour))
	mustMembers(t, s, "sessions:acc-1", "a", "b")
	mustMembers(t, s, "sessions:acc-2", "c")
	mustMembers(t, s, "sessions:acc") // a prefix is another key
}

func testSetExpiry(t *testing.T, s store.Ephemeral, clk *Clock) {
	mustAdd(t, s, "k", "short", clk.Now().Add(time.Minute))
	mustAdd(t, s, "k", "long", clk.Now().Add(time.Hour))
	clk.Advance(time.Minute - time.Second)
	mustMembers(t, s, "k", "long", "short")
	clk.Advance(time.Second)
	mustMembers(t, s, "k", "long")
	// Adding again moves the expiry, also to an earlier time.
	mustAdd(t, s, "k", "long", clk.Now().Add(time.Second))
	clk.Advance(2 * time.Second)
	mustMembers(t, s, "k")
	// An expired member comes back when added again.
	mustAdd(t, s, "k", "short", clk.Now().Add(time.Minute))
	mustMembers(t, s, "k", "short")
}

func testSetRemove(t *testing.T, s store.Ephemeral, clk *Clock) {
	mustAdd(t, s, "k", "a", clk.Now().Add(time.Hour))
	mustAdd(t, s, "k", "b", clk.Now().Add(time.Hour))
	for _, m := range []string{"a", "a", "never"} {
		if err := s.RemoveFromSet(ctx(t), "k", m); err != nil {
			t.Fatalf("RemoveFromSet(%q): %v", m, err)
		}
	}
	if err := s.RemoveFromSet(ctx(t), "no-such-set", "x"); err != nil {
		t.Fatalf("RemoveFromSet on a missing set: %v", err)
	}
	mustMembers(t, s, "k", "b")
}

func testSetConcurrent(t *testing.T, s store.Ephemeral, clk *Clock) {
	const n = 40
	errs := concurrently(n, func(i int) error {
		return s.AddToSet(ctx(t), "k", fmt.Sprintf("m%02d", i), clk.Now().Add(time.Hour))
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AddToSet #%d: %v", i, err)
		}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	mustMembers(t, s, "k", want...)
}

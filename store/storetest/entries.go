package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func checkEntry(t *testing.T, s store.Entries, key string, want []byte) {
	t.Helper()
	got, err := s.GetEntry(ctx(t), key)
	if err != nil {
		t.Fatalf("GetEntry(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("GetEntry(%q): got %q, want %q", key, got, want)
	}
}

func checkEntryGone(t *testing.T, s store.Entries, key string) {
	t.Helper()
	if v, err := s.GetEntry(ctx(t), key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEntry(%q): got %q, %v; want ErrNotFound", key, v, err)
	}
}

func mustPutEntry(t *testing.T, s store.Entries, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := s.PutEntry(ctx(t), key, value, ttl); err != nil {
		t.Fatalf("PutEntry(%q): %v", key, err)
	}
}

func entryTests() []test[store.Ephemeral] {
	return []test[store.Ephemeral]{
		{"PutGet", testEntryPutGet},
		{"PutReplaces", testEntryPutReplaces},
		{"Expiry", testEntryExpiry},
		{"Create", testEntryCreate},
		{"Replace", testEntryReplace},
		{"Take", testEntryTake},
		{"Delete", testEntryDelete},
		{"Copies", testEntryCopies},
		{"ConcurrentCreate", testEntryConcurrentCreate},
		{"ConcurrentTake", testEntryConcurrentTake},
		{"CompareAndSwap", testEntryCompareAndSwap},
		{"CompareAndDelete", testEntryCompareAndDelete},
		{"ConcurrentCompareAndDelete", testEntryConcurrentCompareAndDelete},
	}
}

func testEntryPutGet(t *testing.T, s store.Ephemeral, clk *Clock) {
	checkEntryGone(t, s, "flow:1")
	values := map[string][]byte{
		"flow:1":              {0x00, 0xff, 0xfe, '\n', 0x80, 0x00},
		"flow:2":              []byte(`{"step":"password"}`),
		"sso:ключ с пробелом": []byte("Иванов"),
		"challenge:*?[]":      []byte("glob characters in the key"),
		"empty":               {},
	}
	for k, v := range values {
		mustPutEntry(t, s, k, v, time.Minute)
	}
	for k, v := range values {
		checkEntry(t, s, k, v)
	}
	checkEntryGone(t, s, "flow:")
	checkEntryGone(t, s, "flow:*")
}

func testEntryPutReplaces(t *testing.T, s store.Ephemeral, clk *Clock) {
	mustPutEntry(t, s, "k", []byte("v1"), 10*time.Second)
	clk.Advance(5 * time.Second)
	mustPutEntry(t, s, "k", []byte("v2"), 10*time.Second)
	checkEntry(t, s, "k", []byte("v2"))
	clk.Advance(8 * time.Second) // 13 s after the first put, 8 s after the second
	checkEntry(t, s, "k", []byte("v2"))
	// A shorter ttl replaces a longer one.
	mustPutEntry(t, s, "k", []byte("v3"), time.Second)
	clk.Advance(2 * time.Second)
	checkEntryGone(t, s, "k")
	// Put over an expired value stores the new one.
	mustPutEntry(t, s, "k", []byte("v4"), time.Minute)
	checkEntry(t, s, "k", []byte("v4"))
}

func testEntryExpiry(t *testing.T, s store.Ephemeral, clk *Clock) {
	mustPutEntry(t, s, "short", []byte("s"), time.Minute)
	mustPutEntry(t, s, "long", []byte("l"), time.Hour)
	clk.Advance(time.Minute - time.Second)
	checkEntry(t, s, "short", []byte("s"))
	clk.Advance(2 * time.Second)
	checkEntryGone(t, s, "short")
	if v, err := s.TakeEntry(ctx(t), "short"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeEntry(expired): got %q, %v; want ErrNotFound", v, err)
	}
	if err := s.DeleteEntry(ctx(t), "short"); err != nil {
		t.Fatalf("DeleteEntry(expired): %v", err)
	}
	checkEntry(t, s, "long", []byte("l"))
	clk.Advance(time.Hour)
	checkEntryGone(t, s, "long")
}

func testEntryCreate(t *testing.T, s store.Ephemeral, clk *Clock) {
	if err := s.CreateEntry(ctx(t), "k", []byte("first"), time.Minute); err != nil {
		t.Fatalf("CreateEntry(absent): %v", err)
	}
	checkEntry(t, s, "k", []byte("first"))
	if err := s.CreateEntry(ctx(t), "k", []byte("second"), time.Hour); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateEntry(present): got %v, want ErrConflict", err)
	}
	checkEntry(t, s, "k", []byte("first"))
	// The losing create did not extend the ttl.
	clk.Advance(time.Minute + time.Second)
	checkEntryGone(t, s, "k")
	// Over an expired key, create succeeds with its own value and ttl.
	if err := s.CreateEntry(ctx(t), "k", []byte("third"), 10*time.Minute); err != nil {
		t.Fatalf("CreateEntry(expired): %v", err)
	}
	clk.Advance(9 * time.Minute)
	checkEntry(t, s, "k", []byte("third"))
	// After a delete or a take the key is free again.
	if err := s.DeleteEntry(ctx(t), "k"); err != nil {
		t.Fatalf("DeleteEntry: %v", err)
	}
	if err := s.CreateEntry(ctx(t), "k", []byte("fourth"), time.Minute); err != nil {
		t.Fatalf("CreateEntry(deleted): %v", err)
	}
	if _, err := s.TakeEntry(ctx(t), "k"); err != nil {
		t.Fatalf("TakeEntry: %v", err)
	}
	if err := s.CreateEntry(ctx(t), "k", []byte("fifth"), time.Minute); err != nil {
		t.Fatalf("CreateEntry(taken): %v", err)
	}
	checkEntry(t, s, "k", []byte("fifth"))
	// A key written by PutEntry is present too.
	mustPutEntry(t, s, "p", []byte("put"), time.Minute)
	if err := s.CreateEntry(ctx(t), "p", []byte("x"), time.Minute); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateEntry(put key): got %v, want ErrConflict", err)
	}
}

func testEntryTake(t *testing.T, s store.Ephemeral, clk *Clock) {
	if v, err := s.TakeEntry(ctx(t), "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeEntry(missing): got %q, %v; want ErrNotFound", v, err)
	}
	val := []byte{0x00, 'c', 'h', 0xff}
	mustPutEntry(t, s, "k", val, time.Minute)
	mustPutEntry(t, s, "other", []byte("o"), time.Minute)
	got, err := s.TakeEntry(ctx(t), "k")
	if err != nil {
		t.Fatalf("TakeEntry: %v", err)
	}
	if !bytes.Equal(got, val) {
		t.Fatalf("TakeEntry: got %q, want %q", got, val)
	}
	checkEntryGone(t, s, "k")
	if v, err := s.TakeEntry(ctx(t), "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeEntry(again): got %q, %v; want ErrNotFound", v, err)
	}
	checkEntry(t, s, "other", []byte("o"))
}

func testEntryDelete(t *testing.T, s store.Ephemeral, clk *Clock) {
	mustPutEntry(t, s, "k", []byte("v"), time.Minute)
	mustPutEntry(t, s, "k2", []byte("v2"), time.Minute)
	if err := s.DeleteEntry(ctx(t), "k"); err != nil {
		t.Fatalf("DeleteEntry: %v", err)
	}
	checkEntryGone(t, s, "k")
	if err := s.DeleteEntry(ctx(t), "k"); err != nil {
		t.Fatalf("DeleteEntry(again): %v", err)
	}
	if err := s.DeleteEntry(ctx(t), "never"); err != nil {
		t.Fatalf("DeleteEntry(missing): %v", err)
	}
	checkEntry(t, s, "k2", []byte("v2"))
}

func testEntryCopies(t *testing.T, s store.Ephemeral, clk *Clock) {
	in := []byte("value")
	mustPutEntry(t, s, "k", in, time.Minute)
	in[0] = 'X'
	checkEntry(t, s, "k", []byte("value"))
	got, err := s.GetEntry(ctx(t), "k")
	if err != nil {
		t.Fatalf("GetEntry: %v", err)
	}
	got[0] = 'Y'
	checkEntry(t, s, "k", []byte("value"))
	in2 := []byte("created")
	if err := s.CreateEntry(ctx(t), "c", in2, time.Minute); err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	in2[0] = 'X'
	checkEntry(t, s, "c", []byte("created"))
}

func testEntryConcurrentCreate(t *testing.T, s store.Ephemeral, clk *Clock) {
	const n = 32
	errs := concurrently(n, func(i int) error {
		return s.CreateEntry(ctx(t), "once", fmt.Appendf(nil, "value-%d", i), time.Minute)
	})
	winner := exactlyOneNil(t, fmt.Sprintf("%d × CreateEntry", n), errs, store.ErrConflict)
	checkEntry(t, s, "once", fmt.Appendf(nil, "value-%d", winner))
}

func testEntryConcurrentTake(t *testing.T, s store.Ephemeral, clk *Clock) {
	const n = 32
	val := []byte("the one value")
	mustPutEntry(t, s, "once", val, time.Minute)
	got := make([][]byte, n)
	errs := concurrently(n, func(i int) error {
		var err error
		got[i], err = s.TakeEntry(ctx(t), "once")
		return err
	})
	winner := exactlyOneNil(t, fmt.Sprintf("%d × TakeEntry", n), errs, store.ErrNotFound)
	if !bytes.Equal(got[winner], val) {
		t.Fatalf("TakeEntry winner got %q, want %q", got[winner], val)
	}
	checkEntryGone(t, s, "once")
}

func testEntryReplace(t *testing.T, s store.Ephemeral, clk *Clock) {
	if err := s.ReplaceEntry(ctx(t), "k", []byte("v"), time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReplaceEntry(absent): got %v, want ErrNotFound", err)
	}
	checkEntryGone(t, s, "k")
	if err := s.PutEntry(ctx(t), "k", []byte("first"), time.Minute); err != nil {
		t.Fatalf("PutEntry: %v", err)
	}
	if err := s.ReplaceEntry(ctx(t), "k", []byte("second"), time.Hour); err != nil {
		t.Fatalf("ReplaceEntry(present): %v", err)
	}
	checkEntry(t, s, "k", []byte("second"))
	// The replacement's ttl holds, not the first one's.
	clk.Advance(30 * time.Minute)
	checkEntry(t, s, "k", []byte("second"))
	clk.Advance(31 * time.Minute)
	checkEntryGone(t, s, "k")
	// An expired or deleted entry is not brought back.
	if err := s.ReplaceEntry(ctx(t), "k", []byte("third"), time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReplaceEntry(expired): got %v, want ErrNotFound", err)
	}
	checkEntryGone(t, s, "k")
	if err := s.PutEntry(ctx(t), "d", []byte("x"), time.Minute); err != nil {
		t.Fatalf("PutEntry: %v", err)
	}
	if err := s.DeleteEntry(ctx(t), "d"); err != nil {
		t.Fatalf("DeleteEntry: %v", err)
	}
	if err := s.ReplaceEntry(ctx(t), "d", []byte("y"), time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReplaceEntry(deleted): got %v, want ErrNotFound", err)
	}
	checkEntryGone(t, s, "d")
}

func testEntryCompareAndSwap(t *testing.T, s store.Ephemeral, clk *Clock) {
	if err := s.CompareAndSwapEntry(ctx(t), "lease", []byte("mine"), []byte("mine"), time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompareAndSwapEntry(absent): got %v, want ErrNotFound", err)
	}
	checkEntryGone(t, s, "lease")
	mustPutEntry(t, s, "lease", []byte("mine"), 10*time.Second)
	if err := s.CompareAndSwapEntry(ctx(t), "lease", []byte("theirs"), []byte("theirs"), time.Hour); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CompareAndSwapEntry(another value): got %v, want ErrConflict", err)
	}
	checkEntry(t, s, "lease", []byte("mine"))
	// Neither a prefix nor an extension of the value matches it.
	for _, old := range [][]byte{[]byte("min"), []byte("mine\x00"), {}} {
		if err := s.CompareAndSwapEntry(ctx(t), "lease", old, []byte("x"), time.Hour); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CompareAndSwapEntry(old %q): got %v, want ErrConflict", old, err)
		}
	}
	// The holder renews: the new value and expiry hold, not the first.
	clk.Advance(8 * time.Second)
	if err := s.CompareAndSwapEntry(ctx(t), "lease", []byte("mine"), []byte("mine, renewed"), 10*time.Second); err != nil {
		t.Fatalf("CompareAndSwapEntry(the value): %v", err)
	}
	clk.Advance(8 * time.Second) // 16 s after the put, 8 s after the swap
	checkEntry(t, s, "lease", []byte("mine, renewed"))
	clk.Advance(2 * time.Second)
	checkEntryGone(t, s, "lease")
	// A lapsed entry is not brought back, even with its own value.
	if err := s.CompareAndSwapEntry(ctx(t), "lease", []byte("mine, renewed"), []byte("again"), time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompareAndSwapEntry(expired): got %v, want ErrNotFound", err)
	}
	checkEntryGone(t, s, "lease")
	// Binary values compare byte for byte.
	bin := []byte{0x00, 0xff, '\n', 0x80}
	mustPutEntry(t, s, "bin", bin, time.Minute)
	if err := s.CompareAndSwapEntry(ctx(t), "bin", bin, []byte{}, time.Minute); err != nil {
		t.Fatalf("CompareAndSwapEntry(binary): %v", err)
	}
	checkEntry(t, s, "bin", []byte{})
}

func testEntryCompareAndDelete(t *testing.T, s store.Ephemeral, clk *Clock) {
	if err := s.CompareAndDeleteEntry(ctx(t), "lease", []byte("mine")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompareAndDeleteEntry(absent): got %v, want ErrNotFound", err)
	}
	mustPutEntry(t, s, "lease", []byte("mine"), 10*time.Second)
	if err := s.CompareAndDeleteEntry(ctx(t), "lease", []byte("theirs")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CompareAndDeleteEntry(another value): got %v, want ErrConflict", err)
	}
	checkEntry(t, s, "lease", []byte("mine"))
	if err := s.CompareAndDeleteEntry(ctx(t), "lease", []byte("mine")); err != nil {
		t.Fatalf("CompareAndDeleteEntry(the value): %v", err)
	}
	checkEntryGone(t, s, "lease")
	if err := s.CompareAndDeleteEntry(ctx(t), "lease", []byte("mine")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompareAndDeleteEntry(deleted): got %v, want ErrNotFound", err)
	}
	// A lease that lapsed and was taken by another is not ended by its
	// first holder.
	mustPutEntry(t, s, "lease", []byte("first"), 10*time.Second)
	clk.Advance(11 * time.Second)
	if err := s.CompareAndDeleteEntry(ctx(t), "lease", []byte("first")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompareAndDeleteEntry(expired): got %v, want ErrNotFound", err)
	}
	if err := s.CreateEntry(ctx(t), "lease", []byte("second"), 10*time.Second); err != nil {
		t.Fatalf("CreateEntry after the lapse: %v", err)
	}
	if err := s.CompareAndDeleteEntry(ctx(t), "lease", []byte("first")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CompareAndDeleteEntry(by the first holder): got %v, want ErrConflict", err)
	}
	checkEntry(t, s, "lease", []byte("second"))
}

func testEntryConcurrentCompareAndDelete(t *testing.T, s store.Ephemeral, clk *Clock) {
	const n = 32
	mustPutEntry(t, s, "once", []byte("token"), time.Minute)
	errs := concurrently(n, func(i int) error {
		return s.CompareAndDeleteEntry(ctx(t), "once", []byte("token"))
	})
	exactlyOneNil(t, fmt.Sprintf("%d × CompareAndDeleteEntry", n), errs, store.ErrNotFound)
	checkEntryGone(t, s, "once")
}

package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func newKey(id string, created time.Time) *store.SigningKey {
	return &store.SigningKey{
		ID:        id,
		Alg:       "RS256",
		Sealed:    []byte{0x00, 0xff, 's', 'e', 'a', 'l', 0x80, 0x00},
		CreatedAt: created,
		ActiveAt:  created.Add(time.Hour),
	}
}

func normKey(k *store.SigningKey) store.SigningKey {
	n := *k
	n.Sealed = normBytes(n.Sealed)
	n.CreatedAt = normTime(n.CreatedAt)
	n.ActiveAt = normTime(n.ActiveAt)
	n.RetiredAt = normTime(n.RetiredAt)
	n.ExpiresAt = normTime(n.ExpiresAt)
	return n
}

func checkKey(t *testing.T, what string, got, want *store.SigningKey) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: got nil key", what)
	}
	if g, w := normKey(got), normKey(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// checkKeys lists the keys and compares them with want, in order.
func checkKeys(t *testing.T, s store.Keys, want ...*store.SigningKey) []*store.SigningKey {
	t.Helper()
	got, err := s.ListKeys(ctx(t))
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if len(got) != len(want) {
		var ids []string
		for _, k := range got {
			ids = append(ids, k.ID)
		}
		t.Fatalf("ListKeys: got %d keys %v, want %d", len(got), ids, len(want))
	}
	for i := range want {
		checkKey(t, fmt.Sprintf("ListKeys[%d]", i), got[i], want[i])
	}
	return got
}

func mustCreateKey(t *testing.T, s store.Keys, k *store.SigningKey) {
	t.Helper()
	if err := s.CreateKey(ctx(t), k); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
}

func keyTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"CreateList", testKeyCreateList},
		{"Duplicate", testKeyDuplicate},
		{"Update", testKeyUpdate},
		{"UpdateMissing", testKeyUpdateMissing},
		{"UpdaterError", testKeyUpdaterError},
		{"UpdateImmutable", testKeyUpdateImmutable},
		{"Delete", testKeyDelete},
		{"Copies", testKeyCopies},
	}
}

func testKeyCreateList(t *testing.T, s store.Durable, clk *Clock) {
	checkKeys(t, s)
	t0 := clk.Now().Add(-72 * time.Hour)
	old := newKey("zz-old", t0)
	old.RetiredAt = t0.Add(24 * time.Hour)
	old.ExpiresAt = t0.Add(48*time.Hour + 5*time.Microsecond).In(moscow)
	tieB := newKey("k-b", t0.Add(time.Hour))
	tieA := newKey("k-a", t0.Add(time.Hour))
	tieA.Alg = "ES256"
	newest := newKey("a-new", t0.Add(2*time.Hour+7*time.Microsecond))
	for _, k := range []*store.SigningKey{newest, tieB, old, tieA} {
		mustCreateKey(t, s, k)
	}
	checkKeys(t, s, old, tieA, tieB, newest)
}

func testKeyDuplicate(t *testing.T, s store.Durable, clk *Clock) {
	k := newKey("kid", clk.Now())
	mustCreateKey(t, s, k)
	dup := newKey("kid", clk.Now().Add(time.Hour))
	dup.Alg = "ES256"
	if err := s.CreateKey(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateKey(duplicate): got %v, want ErrConflict", err)
	}
	checkKeys(t, s, k)
}

func testKeyUpdate(t *testing.T, s store.Durable, clk *Clock) {
	k := newKey("kid", clk.Now())
	other := newKey("other", clk.Now().Add(time.Second))
	mustCreateKey(t, s, k)
	mustCreateKey(t, s, other)
	clk.Advance(time.Hour)
	// Retire: zero times become non-zero.
	retired := *k
	retired.RetiredAt = clk.Now()
	retired.ExpiresAt = clk.Now().Add(24*time.Hour + 3*time.Microsecond)
	got, err := s.UpdateKey(ctx(t), "kid", func(u *store.SigningKey) error {
		checkKey(t, "updater input", u, k)
		u.RetiredAt, u.ExpiresAt = retired.RetiredAt, retired.ExpiresAt
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateKey(retire): %v", err)
	}
	checkKey(t, "UpdateKey(retire) result", got, &retired)
	checkKeys(t, s, &retired, other)
	// Un-retire: non-zero times become zero again; the sealed key is replaced.
	back := *k
	back.Sealed = []byte("resealed")
	back.ActiveAt = clk.Now()
	got, err = s.UpdateKey(ctx(t), "kid", func(u *store.SigningKey) error {
		u.RetiredAt, u.ExpiresAt = time.Time{}, time.Time{}
		u.Sealed, u.ActiveAt = back.Sealed, back.ActiveAt
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateKey(unretire): %v", err)
	}
	checkKey(t, "UpdateKey(unretire) result", got, &back)
	list := checkKeys(t, s, &back, other)
	if !list[0].RetiredAt.IsZero() || !list[0].ExpiresAt.IsZero() {
		t.Fatalf("ListKeys: RetiredAt %v ExpiresAt %v, want zero times", list[0].RetiredAt, list[0].ExpiresAt)
	}
}

func testKeyUpdateMissing(t *testing.T, s store.Durable, clk *Clock) {
	called := false
	if _, err := s.UpdateKey(ctx(t), "nope", func(*store.SigningKey) error { called = true; return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateKey(missing): got %v, want ErrNotFound", err)
	}
	if called {
		t.Fatal("UpdateKey(missing) called the updater")
	}
	checkKeys(t, s)
}

func testKeyUpdaterError(t *testing.T, s store.Durable, clk *Clock) {
	k := newKey("kid", clk.Now())
	mustCreateKey(t, s, k)
	_, err := s.UpdateKey(ctx(t), "kid", func(u *store.SigningKey) error {
		u.RetiredAt = clk.Now()
		u.Sealed[0] = 0x42
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateKey(updater fails): got %v, want the updater's error", err)
	}
	checkKeys(t, s, k)
}

func testKeyUpdateImmutable(t *testing.T, s store.Durable, clk *Clock) {
	k := newKey("kid", clk.Now())
	mustCreateKey(t, s, k)
	got, err := s.UpdateKey(ctx(t), "kid", func(u *store.SigningKey) error {
		u.ID = "kid-2"
		u.CreatedAt = clk.Now().Add(-time.Hour)
		return nil
	})
	if err == nil && (got.ID != "kid" || !sameTime(got.CreatedAt, k.CreatedAt)) {
		t.Fatalf("UpdateKey result changed ID/CreatedAt: %s %v", got.ID, got.CreatedAt)
	}
	checkKeys(t, s, k)
}

func testKeyDelete(t *testing.T, s store.Durable, clk *Clock) {
	a := newKey("a", clk.Now())
	b := newKey("b", clk.Now())
	mustCreateKey(t, s, a)
	mustCreateKey(t, s, b)
	if err := s.DeleteKey(ctx(t), "a"); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	if err := s.DeleteKey(ctx(t), "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteKey(again): got %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateKey(ctx(t), "a", func(*store.SigningKey) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateKey(deleted): got %v, want ErrNotFound", err)
	}
	checkKeys(t, s, b)
}

func testKeyCopies(t *testing.T, s store.Durable, clk *Clock) {
	k := newKey("kid", clk.Now())
	want := normKey(k)
	mustCreateKey(t, s, k)
	k.Sealed[0] = 0x42
	list := checkKeys(t, s, &want)
	list[0].Sealed[1] = 0x42
	list[0].Alg = "none"
	checkKeys(t, s, &want)
}

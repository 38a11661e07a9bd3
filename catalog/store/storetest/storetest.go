// Package storetest is the conformance suite of the catalog store: every
// backend runs Run with a constructor of fresh stores.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/catalog/store"
)

// Clock is a settable clock for the stores under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// NewStore returns a fresh, empty store that reads the time from now.
type NewStore func(t *testing.T, now store.Clock) store.Store

// Run runs every conformance test, each on a fresh store.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, *Clock)
	}{
		{"ApplicationNumbersAndHistory", testApplications},
		{"ApplicationFilters", testFilters},
		{"ApplicationUpdateAtomic", testUpdateAtomic},
		{"Sessions", testSessions},
		{"DeleteSessionsBySubjectAndSID", testDeleteSessions},
		{"PendingLoginsOnce", testPending},
		{"LogoutJTIReplay", testJTI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &Clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
			tc.fn(t, newStore(t, clk.Now), clk)
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func newApp(clk *Clock, sub, service string) *store.Application {
	a := &store.Application{
		Subject: sub, ServiceID: service, Created: clk.Now(),
		Fields:   map[string]string{"last_name": "Иванов", "vehicle_plate": "А123ВС777"},
		Verified: []string{"last_name"},
	}
	a.Append(store.StatusSubmitted, clk.Now(), "")
	return a
}

func norm(a store.Application) store.Application {
	a.Created = a.Created.UTC().Truncate(time.Microsecond)
	a.Updated = a.Updated.UTC().Truncate(time.Microsecond)
	h := slices.Clone(a.History)
	for i := range h {
		h[i].At = h[i].At.UTC().Truncate(time.Microsecond)
	}
	a.History = h
	if len(a.Verified) == 0 {
		a.Verified = nil
	}
	return a
}

func testApplications(t *testing.T, s store.Store, clk *Clock) {
	a := newApp(clk, "sub-1", "traffic-fines")
	if err := s.CreateApplication(ctx(t), a); err != nil {
		t.Fatalf("CreateApplication: %v", err)
	}
	b := newApp(clk, "sub-1", "tax-debt")
	if err := s.CreateApplication(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	if a.Number < 1 || b.Number <= a.Number {
		t.Fatalf("numbers %d then %d, want increasing from 1", a.Number, b.Number)
	}
	got, err := s.GetApplication(ctx(t), a.Number)
	if err != nil {
		t.Fatalf("GetApplication: %v", err)
	}
	if !reflect.DeepEqual(norm(*got), norm(*a)) {
		t.Fatalf("read back\n got %+v\nwant %+v", norm(*got), norm(*a))
	}
	clk.Add(time.Minute)
	err = s.UpdateApplication(ctx(t), a.Number, func(a *store.Application) error {
		a.Append(store.StatusInReview, clk.Now(), "")
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateApplication: %v", err)
	}
	clk.Add(time.Minute)
	err = s.UpdateApplication(ctx(t), a.Number, func(a *store.Application) error {
		a.Append(store.StatusRejected, clk.Now(), "Не хватает документов")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetApplication(ctx(t), a.Number)
	want := []store.Status{store.StatusSubmitted, store.StatusInReview, store.StatusRejected}
	var statuses []store.Status
	for _, h := range got.History {
		statuses = append(statuses, h.Status)
	}
	if !slices.Equal(statuses, want) || got.Status != store.StatusRejected || got.History[2].Comment != "Не хватает документов" {
		t.Fatalf("history %+v, status %s", got.History, got.Status)
	}
	if !got.History[2].At.Equal(clk.Now()) || !got.Updated.Equal(clk.Now()) {
		t.Errorf("times of the last change: %v, updated %v, want %v", got.History[2].At, got.Updated, clk.Now())
	}
	if _, err := s.GetApplication(ctx(t), 999999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown number: %v, want ErrNotFound", err)
	}
	if err := s.UpdateApplication(ctx(t), 999999, func(*store.Application) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of unknown number: %v, want ErrNotFound", err)
	}
}

func testFilters(t *testing.T, s store.Store, clk *Clock) {
	mk := func(sub, svc string) int64 {
		a := newApp(clk, sub, svc)
		if err := s.CreateApplication(ctx(t), a); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
		return a.Number
	}
	a1 := mk("alice", "traffic-fines")
	a2 := mk("alice", "tax-debt")
	a3 := mk("alice", "traffic-fines")
	b1 := mk("bob", "traffic-fines")
	if err := s.UpdateApplication(ctx(t), a1, func(a *store.Application) error {
		a.Append(store.StatusInReview, clk.Now(), "")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	numbers := func(f store.ApplicationFilter) []int64 {
		t.Helper()
		list, err := s.ListApplications(ctx(t), f)
		if err != nil {
			t.Fatalf("ListApplications(%+v): %v", f, err)
		}
		var out []int64
		for _, a := range list {
			out = append(out, a.Number)
		}
		return out
	}
	for _, tc := range []struct {
		f    store.ApplicationFilter
		want []int64
	}{
		{store.ApplicationFilter{Subject: "alice"}, []int64{a3, a2, a1}},
		{store.ApplicationFilter{Subject: "alice", ServiceID: "traffic-fines"}, []int64{a3, a1}},
		{store.ApplicationFilter{Subject: "alice", Status: store.StatusSubmitted}, []int64{a3, a2}},
		{store.ApplicationFilter{Subject: "alice", Status: store.StatusInReview}, []int64{a1}},
		{store.ApplicationFilter{Subject: "bob"}, []int64{b1}},
		{store.ApplicationFilter{Subject: "carol"}, nil},
		{store.ApplicationFilter{Status: store.StatusSubmitted}, []int64{b1, a3, a2}},
		{store.ApplicationFilter{Status: store.StatusSubmitted, Limit: 2}, []int64{b1, a3}},
		// a2 was updated 3 s before the clock, b1 1 s before.
		{store.ApplicationFilter{Status: store.StatusSubmitted, UpdatedBefore: clk.Now().Add(-time.Second - time.Millisecond)}, []int64{a3, a2}},
	} {
		if got := numbers(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("ListApplications(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func testUpdateAtomic(t *testing.T, s store.Store, clk *Clock) {
	a := newApp(clk, "sub", "traffic-fines")
	if err := s.CreateApplication(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("refused")
	err := s.UpdateApplication(ctx(t), a.Number, func(a *store.Application) error {
		a.Append(store.StatusApproved, clk.Now(), "")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("updater's error: %v", err)
	}
	got, _ := s.GetApplication(ctx(t), a.Number)
	if got.Status != store.StatusSubmitted || len(got.History) != 1 {
		t.Fatalf("a refused update was stored: %+v", got)
	}
	// Concurrent updaters each see the other's change.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UpdateApplication(ctx(t), a.Number, func(a *store.Application) error {
				a.History = append(a.History, store.StatusChange{Status: store.StatusInReview, At: clk.Now()})
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ = s.GetApplication(ctx(t), a.Number)
	if len(got.History) != 9 {
		t.Errorf("after 8 concurrent appends the history has %d entries, want 9", len(got.History))
	}
}

func newSession(clk *Clock, id, sub, sid string) *store.Session {
	return &store.Session{
		ID: id, Subject: sub, SID: sid, Level: "standard", ACR: "standard", Name: "Иван Иванов",
		Scopes: []string{"openid", "fullname"}, Claims: []byte(`{"family_name":"Иванов"}`),
		AccessToken: "at-" + id, RefreshToken: "rt-" + id, IDToken: "idt-" + id,
		TokenExpiry: clk.Now().Add(5 * time.Minute), Created: clk.Now(), Expires: clk.Now().Add(time.Hour),
	}
}

func normSession(s store.Session) store.Session {
	for _, p := range []*time.Time{&s.TokenExpiry, &s.Created, &s.Expires} {
		*p = p.UTC().Truncate(time.Microsecond)
	}
	return s
}

func testSessions(t *testing.T, s store.Store, clk *Clock) {
	sess := newSession(clk, "h1", "sub", "sid-1")
	if err := s.CreateSession(ctx(t), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if err := s.CreateSession(ctx(t), newSession(clk, "h1", "x", "y")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second session with the id: %v, want ErrConflict", err)
	}
	got, err := s.GetSession(ctx(t), "h1")
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if !reflect.DeepEqual(normSession(*got), normSession(*sess)) {
		t.Fatalf("read back\n got %+v\nwant %+v", *got, *sess)
	}
	err = s.UpdateSession(ctx(t), "h1", func(s *store.Session) error {
		s.AccessToken, s.RefreshToken = "at-2", "rt-2"
		s.TokenExpiry = clk.Now().Add(10 * time.Minute)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	got, _ = s.GetSession(ctx(t), "h1")
	if got.AccessToken != "at-2" || got.RefreshToken != "rt-2" || !got.TokenExpiry.Equal(clk.Now().Add(10*time.Minute)) {
		t.Errorf("after refresh: %+v", got)
	}
	clk.Add(time.Hour)
	if _, err := s.GetSession(ctx(t), "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: %v, want ErrNotFound", err)
	}
	if err := s.UpdateSession(ctx(t), "h1", func(*store.Session) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of an expired session: %v, want ErrNotFound", err)
	}
	if err := s.CreateSession(ctx(t), newSession(clk, "h2", "sub", "sid-2")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx(t), "h2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx(t), "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session: %v, want ErrNotFound", err)
	}
}

func testDeleteSessions(t *testing.T, s store.Store, clk *Clock) {
	for _, x := range []struct{ id, sub, sid string }{
		{"a1", "alice", "s1"}, {"a2", "alice", "s1"}, {"a3", "alice", "s2"}, {"b1", "bob", "s3"}, {"b2", "bob", "s4"},
	} {
		if err := s.CreateSession(ctx(t), newSession(clk, x.id, x.sub, x.sid)); err != nil {
			t.Fatal(err)
		}
	}
	alive := func(ids ...string) {
		t.Helper()
		for _, id := range []string{"a1", "a2", "a3", "b1", "b2"} {
			_, err := s.GetSession(ctx(t), id)
			if want := slices.Contains(ids, id); want != (err == nil) {
				t.Errorf("session %s alive = %v, want %v", id, err == nil, want)
			}
		}
	}
	if n, err := s.DeleteSessions(ctx(t), "alice", "s1"); err != nil || n != 2 {
		t.Fatalf("DeleteSessions(alice, s1) = %d, %v, want 2", n, err)
	}
	alive("a3", "b1", "b2")
	if n, err := s.DeleteSessions(ctx(t), "", "s3"); err != nil || n != 1 {
		t.Fatalf("DeleteSessions(sid s3) = %d, %v, want 1", n, err)
	}
	alive("a3", "b2")
	if n, err := s.DeleteSessions(ctx(t), "", ""); err != nil || n != 0 {
		t.Fatalf("DeleteSessions with neither = %d, %v, want 0", n, err)
	}
	if n, err := s.DeleteSessions(ctx(t), "bob", ""); err != nil || n != 1 {
		t.Fatalf("DeleteSessions(bob) = %d, %v, want 1", n, err)
	}
	alive("a3")
}

func testPending(t *testing.T, s store.Store, clk *Clock) {
	p := &store.PendingLogin{State: "st", Browser: "br", Nonce: "n", Verifier: "v", ReturnTo: "/services/x", ACR: "confirmed",
		Scopes: []string{"openid", "snils"}, Expires: clk.Now().Add(10 * time.Minute)}
	if err := s.PutPendingLogin(ctx(t), p); err != nil {
		t.Fatalf("PutPendingLogin: %v", err)
	}
	if err := s.PutPendingLogin(ctx(t), p); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same state again: %v, want ErrConflict", err)
	}
	got, err := s.TakePendingLogin(ctx(t), "st")
	if err != nil {
		t.Fatalf("TakePendingLogin: %v", err)
	}
	g, w := *got, *p
	g.Expires, w.Expires = g.Expires.UTC().Truncate(time.Microsecond), w.Expires.UTC().Truncate(time.Microsecond)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("read back %+v, want %+v", g, w)
	}
	if _, err := s.TakePendingLogin(ctx(t), "st"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("taken twice: %v, want ErrNotFound", err)
	}
	p.State = "late"
	if err := s.PutPendingLogin(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	clk.Add(11 * time.Minute)
	if _, err := s.TakePendingLogin(ctx(t), "late"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired: %v, want ErrNotFound", err)
	}
}

func testJTI(t *testing.T, s store.Store, clk *Clock) {
	until := clk.Now().Add(10 * time.Minute)
	if err := s.UseLogoutJTI(ctx(t), "j1", until); err != nil {
		t.Fatalf("UseLogoutJTI: %v", err)
	}
	if err := s.UseLogoutJTI(ctx(t), "j1", until); !errors.Is(err, store.ErrConflict) {
		t.Errorf("replayed jti: %v, want ErrConflict", err)
	}
	if err := s.UseLogoutJTI(ctx(t), "j2", until); err != nil {
		t.Errorf("another jti: %v", err)
	}
	// Concurrent uses of one jti: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.UseLogoutJTI(ctx(t), "j3", until) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent uses of one jti succeeded, want 1", wins)
	}
	clk.Add(11 * time.Minute)
	if err := s.UseLogoutJTI(ctx(t), "j1", clk.Now().Add(time.Minute)); err != nil {
		t.Errorf("a jti past its expiry is forgotten: %v", err)
	}
}

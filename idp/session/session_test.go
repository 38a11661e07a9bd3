package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store/memory"
	"github.com/esia-oidc/idp/store/storetest"
)

func newManager(t *testing.T) (*session.Manager, *storetest.Clock) {
	t.Helper()
	clk := storetest.NewClock()
	return session.New(memory.New(clk.Now), web.Cookies{}, time.Hour, clk.Now), clk
}

// browser carries the cookies a response set into the next request.
type browser struct{ cookies map[string]*http.Cookie }

func (b *browser) request() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range b.cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func (b *browser) keep(rec *httptest.ResponseRecorder) {
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
}

func start(t *testing.T, m *session.Manager, b *browser, account string) *session.Session {
	t.Helper()
	rec := httptest.NewRecorder()
	s, err := m.Start(rec, b.request(), account, []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	b.keep(rec)
	return s
}

func TestStartCurrentEnd(t *testing.T) {
	m, clk := newManager(t)
	b := &browser{cookies: map[string]*http.Cookie{}}
	if s, err := m.Current(b.request()); s != nil || err != nil {
		t.Fatalf("Current without a cookie: %v %v", s, err)
	}
	s1 := start(t, m, b, "acc-1")
	got, err := m.Current(b.request())
	if err != nil || got == nil || got.ID != s1.ID || got.AccountID != "acc-1" || got.AMR[0] != "pwd" {
		t.Fatalf("Current = %+v, %v", got, err)
	}
	// A new login on the browser ends the old session: its cookie no
	// longer names one.
	old := b.request()
	s2 := start(t, m, b, "acc-2")
	if s, _ := m.Current(old); s != nil {
		t.Errorf("the replaced session is still current: %+v", s)
	}
	if list, _ := m.List(t.Context(), "acc-1"); len(list) != 0 {
		t.Errorf("acc-1 still lists %d sessions", len(list))
	}
	// End: the record, the index entry and the cookie go.
	rec := httptest.NewRecorder()
	ended, err := m.End(rec, b.request())
	if err != nil || ended == nil || ended.ID != s2.ID {
		t.Fatalf("End = %+v, %v", ended, err)
	}
	b.keep(rec)
	if len(b.cookies) != 0 {
		t.Errorf("cookies after End: %v", b.cookies)
	}
	// Without a cookie End changes nothing, and sets no cookie.
	rec = httptest.NewRecorder()
	if s, err := m.End(rec, httptest.NewRequest(http.MethodPost, "/logout", nil)); s != nil || err != nil || len(rec.Result().Cookies()) != 0 {
		t.Errorf("End without a cookie: %v %v, cookies %v", s, err, rec.Result().Cookies())
	}
	// Expiry.
	s3 := start(t, m, b, "acc-3")
	clk.Advance(time.Hour + time.Second)
	if s, _ := m.Current(b.request()); s != nil {
		t.Errorf("a session past its lifetime: %+v", s)
	}
	if list, _ := m.List(t.Context(), "acc-3"); len(list) != 0 {
		t.Errorf("an expired session is listed: %v (%s)", list, s3.ID)
	}
}

func TestListAndEndByID(t *testing.T) {
	m, clk := newManager(t)
	phone, laptop := &browser{cookies: map[string]*http.Cookie{}}, &browser{cookies: map[string]*http.Cookie{}}
	sp := start(t, m, phone, "acc")
	clk.Advance(time.Minute)
	sl := start(t, m, laptop, "acc")
	start(t, m, &browser{cookies: map[string]*http.Cookie{}}, "someone-else")
	list, err := m.List(t.Context(), "acc")
	if err != nil || len(list) != 2 || list[0].ID != sp.ID || list[1].ID != sl.ID {
		t.Fatalf("List = %v, %v; want the phone's then the laptop's", list, err)
	}
	ended, err := m.EndByID(t.Context(), "acc", sp.ID)
	if err != nil || ended.ID != sp.ID {
		t.Fatalf("EndByID: %v %v", ended, err)
	}
	if s, _ := m.Current(phone.request()); s != nil {
		t.Error("the phone's session survived EndByID")
	}
	if s, _ := m.Current(laptop.request()); s == nil {
		t.Error("the laptop's session ended too")
	}
	if _, err := m.EndByID(t.Context(), "acc", sp.ID); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("EndByID again: %v", err)
	}
	// Another account's session cannot be ended through this one.
	if _, err := m.EndByID(t.Context(), "someone-else", sl.ID); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("EndByID across accounts: %v", err)
	}
}

func TestClients(t *testing.T) {
	m, _ := newManager(t)
	b := &browser{cookies: map[string]*http.Cookie{}}
	s := start(t, m, b, "acc")
	for _, c := range []string{"rp-2", "rp-1", "rp-2"} {
		if err := m.AddClient(t.Context(), s.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := m.Clients(t.Context(), s.ID); err != nil || len(got) != 2 || got[0] != "rp-1" || got[1] != "rp-2" {
		t.Errorf("Clients = %v, %v", got, err)
	}
}

// TestOnEnd: every way a session ends tells the hook once, with the
// clients it signed in to, read before its records went (none for a
// session that signed in to none), and an ended session's clients are
// gone.
func TestOnEnd(t *testing.T) {
	m, _ := newManager(t)
	type ended struct {
		sid, account string
		clients      []string
	}
	var got []ended
	m.OnEnd(func(ctx context.Context, s *session.Session, clients []string) {
		if s2, _ := m.Clients(ctx, s.ID); len(s2) != 0 {
			t.Errorf("the hook ran before the clients were cleared: %v", s2)
		}
		got = append(got, ended{s.ID, s.AccountID, clients})
	})
	b := &browser{cookies: map[string]*http.Cookie{}}
	withClients := func(s *session.Session, clients ...string) {
		for _, c := range clients {
			if err := m.AddClient(t.Context(), s.ID, c); err != nil {
				t.Fatal(err)
			}
		}
	}

	// End (logout).
	s1 := start(t, m, b, "acc")
	withClients(s1, "rp-b", "rp-a")
	rec := httptest.NewRecorder()
	if _, err := m.End(rec, b.request()); err != nil {
		t.Fatal(err)
	}
	b.keep(rec)
	// Start replaces the browser's session: the old one ends.
	s2 := start(t, m, b, "acc")
	withClients(s2, "rp-a")
	s3 := start(t, m, b, "acc")
	// EndByID.
	withClients(s3, "rp-c")
	if _, err := m.EndByID(t.Context(), "acc", s3.ID); err != nil {
		t.Fatal(err)
	}
	// A session without clients is told too, with none.
	s4 := start(t, m, &browser{cookies: map[string]*http.Cookie{}}, "acc")
	if _, err := m.EndByID(t.Context(), "acc", s4.ID); err != nil {
		t.Fatal(err)
	}

	want := []ended{{s1.ID, "acc", []string{"rp-a", "rp-b"}}, {s2.ID, "acc", []string{"rp-a"}}, {s3.ID, "acc", []string{"rp-c"}}, {s4.ID, "acc", nil}}
	if len(got) != len(want) {
		t.Fatalf("hook told %d times, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].sid != want[i].sid || got[i].account != want[i].account || !slices.Equal(got[i].clients, want[i].clients) {
			t.Errorf("told #%d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRaise(t *testing.T) {
	m, clk := newManager(t)
	b := &browser{cookies: map[string]*http.Cookie{}}
	s := start(t, m, b, "acc-1")
	clk.Advance(time.Minute)
	raised, err := m.Raise(context.Background(), s, "otp", "pwd")
	if err != nil {
		t.Fatalf("Raise: %v", err)
	}
	if !slices.Equal(raised.AMR, []string{"pwd", "otp"}) || !raised.AuthTime.Equal(clk.Now().UTC()) || raised.ID != s.ID {
		t.Fatalf("raised = %+v; want amr [pwd otp], auth time now, the same sid", raised)
	}
	cur, err := m.Current(b.request())
	if err != nil || cur == nil || !slices.Equal(cur.AMR, []string{"pwd", "otp"}) || cur.ID != s.ID {
		t.Fatalf("Current after Raise = %+v, %v", cur, err)
	}
	// A session ended meanwhile is not brought back.
	if _, err := m.EndByID(context.Background(), "acc-1", s.ID); err != nil {
		t.Fatalf("EndByID: %v", err)
	}
	if _, err := m.Raise(context.Background(), cur, "sms"); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Raise(ended) = %v, want ErrNoSession", err)
	}
	if cur, err := m.Current(b.request()); err != nil || cur != nil {
		t.Fatalf("Current after Raise of an ended session = %+v, %v; want none", cur, err)
	}
}

// TestLastUsed: a session's last use is written at most once per
// TouchEvery by a process, read by any process (another Manager on the
// same store), and a use after the session's record was raised keeps the
// raise.
func TestLastUsed(t *testing.T) {
	clk := storetest.NewClock()
	st := memory.New(clk.Now)
	m := session.New(st, web.Cookies{}, time.Hour, clk.Now)
	other := session.New(st, web.Cookies{}, time.Hour, clk.Now) // another replica
	b := &browser{cookies: map[string]*http.Cookie{}}
	s := start(t, m, b, "acc-1")
	lastUsed := func(mgr *session.Manager) time.Time {
		t.Helper()
		all, err := mgr.List(context.Background(), "acc-1")
		if err != nil || len(all) != 1 {
			t.Fatalf("List: %v %v", all, err)
		}
		return all[0].LastUsed
	}
	if got := lastUsed(other); !got.Equal(s.AuthTime) {
		t.Fatalf("new session: last used %v, want its auth time %v", got, s.AuthTime)
	}
	use := func(mgr *session.Manager) {
		t.Helper()
		if cur, err := mgr.Current(b.request()); err != nil || cur == nil {
			t.Fatalf("Current: %v %v", cur, err)
		}
	}
	for _, tc := range []struct {
		name    string
		advance time.Duration
		by      *session.Manager
		want    time.Duration // after the session's start
	}{
		{"used at once by its process: nothing due", time.Second, m, 0},
		{"within the interval: not written again", session.TouchEvery - 2*time.Second, m, 0},
		{"past the interval: written", 2 * time.Second, m, session.TouchEvery + time.Second},
		{"another process's first use: written", time.Minute, other, session.TouchEvery + time.Second + time.Minute},
		{"that process again within the interval", time.Minute, other, session.TouchEvery + time.Second + time.Minute},
	} {
		clk.Advance(tc.advance)
		use(tc.by)
		want := s.AuthTime.Add(tc.want).Truncate(time.Second)
		if got := lastUsed(m); !got.Equal(want) {
			t.Errorf("%s: last used %v, want %v", tc.name, got, want)
		}
	}

	// A raise is not undone by a later use.
	raised, err := m.Raise(context.Background(), s, "otp")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(session.TouchEvery)
	use(m)
	cur, err := m.Current(b.request())
	if err != nil || cur == nil || !slices.Contains(cur.AMR, "otp") || !cur.AuthTime.Equal(raised.AuthTime) {
		t.Fatalf("after a use, the raised session reads %+v, %v", cur, err)
	}
	// The last use goes with the session.
	if _, err := m.EndByID(context.Background(), "acc-1", s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetEntry(context.Background(), "session-used:"+s.ID); err == nil {
		t.Error("the ended session's last use is still stored")
	}
}

package login

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
)

func TestProofs(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	f := &Flow{AccountID: "acc", SID: "sid", Consented: true, Proofs: []Proof{
		{Method: "pwd", At: t0}, {Method: "otp", At: t0.Add(time.Minute)}, {Method: "pwd", At: t0.Add(2 * time.Minute)},
	}}
	// A second factor beside the password: mfa after the methods.
	if got := f.AMR(); !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("AMR = %v, want [pwd otp mfa]", got)
	}
	if got := f.AuthTime(); !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("AuthTime = %v, want the latest proof", got)
	}
	f.forgetLogin()
	if f.AccountID != "" || f.SID != "" || f.Proofs != nil || f.Consented {
		t.Errorf("forgetLogin left %+v", f)
	}
}

// fakeProtocol records how flows end.
type fakeProtocol struct {
	finished *store.Account
	failed   error
	accept   func(accountID string) bool
}

func (p *fakeProtocol) Finish(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account) {
	p.finished = acct
}
func (p *fakeProtocol) Fail(w http.ResponseWriter, r *http.Request, f *Flow, err error) {
	p.failed = err
}
func (p *fakeProtocol) Accepts(f *Flow, accountID string) bool {
	return p.accept == nil || p.accept(accountID)
}

func newLogin(t *testing.T) (*Login, *fakeProtocol, *memory.Store) {
	t.Helper()
	mem := memory.New(nil)
	pages, err := web.New(nil, web.Cookies{})
	if err != nil {
		t.Fatal(err)
	}
	csrf, err := web.NewCSRF(bytes.Repeat([]byte{1}, 32), web.Cookies{})
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProtocol{}
	return &Login{Pages: pages, CSRF: csrf, Sessions: session.New(mem, web.Cookies{}, time.Hour, nil),
		Accounts: mem, Clients: mem, Flows: mem, FlowLifetime: time.Minute, Protocol: p}, p, mem
}

// TestEngineSteps: the engine picks the next step from what the flow needs
// and what is proven; with prompt=none it fails instead of showing a page.
func TestEngineSteps(t *testing.T) {
	l, p, mem := newLogin(t)
	ctx := t.Context()
	if err := mem.CreateAccount(ctx, &store.Account{ID: "acc", Level: store.LevelSimplified, Phone: "+79990000000"}); err != nil {
		t.Fatal(err)
	}
	run := func(f *Flow, req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		p.finished, p.failed = nil, nil
		l.Start(rec, req, f)
		return rec
	}
	anon := httptest.NewRequest(http.MethodGet, "/authorize", nil)

	// Nobody logged in: the identify step, or login_required with prompt=none.
	rec := run(&Flow{ID: NewID(), ClientID: "rp", Needs: Requirements{Scopes: []string{"openid"}}}, anon)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location")[:6] != "/login" {
		t.Errorf("no session: %d %q, want the login step", rec.Code, rec.Header().Get("Location"))
	}
	run(&Flow{ID: NewID(), ClientID: "rp", Needs: Requirements{PromptNone: true}}, anon)
	if !errors.Is(p.failed, ErrLoginRequired) {
		t.Errorf("no session, prompt=none: %v", p.failed)
	}

	// A session: the flow goes on without a page.
	srec := httptest.NewRecorder()
	sso, err := l.Sessions.Start(srec, anon, "acc", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	withSession := httptest.NewRequest(http.MethodGet, "/authorize", nil)
	for _, c := range srec.Result().Cookies() {
		withSession.AddCookie(c)
	}
	run(&Flow{ID: NewID(), ClientID: "rp", Needs: Requirements{Scopes: []string{"openid"}}}, withSession)
	if p.finished == nil || p.finished.ID != "acc" {
		t.Errorf("with a session and nothing to ask: finished %v, failed %v", p.finished, p.failed)
	}
	if clients, _ := l.Sessions.Clients(ctx, sso.ID); !slices.Equal(clients, []string{"rp"}) {
		t.Errorf("the session's clients: %v", clients)
	}
	// A level above the account's: the level-up page, or the error.
	rec = run(&Flow{ID: NewID(), ClientID: "rp", Needs: Requirements{MinLevel: store.LevelConfirmed}}, withSession)
	if rec.Code != http.StatusForbidden || p.finished != nil {
		t.Errorf("level too low: %d, finished %v", rec.Code, p.finished)
	}
	run(&Flow{ID: NewID(), ClientID: "rp", Needs: Requirements{MinLevel: store.LevelConfirmed, PromptNone: true}}, withSession)
	if !errors.Is(p.failed, ErrUnmetLevel) {
		t.Errorf("level too low, prompt=none: %v", p.failed)
	}
	// A scope that needs consent: the consent step, or consent_required.
	rec = run(&Flow{ID: NewID(), ClientID: "rp", Needs: Requirements{Scopes: []string{"openid", "email"}}}, withSession)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location")[:8] != "/consent" {
		t.Errorf("consent needed: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	run(&Flow{ID: NewID(), ClientID: "rp", Needs: Requirements{Scopes: []string{"openid", "email"}, PromptNone: true}}, withSession)
	if !errors.Is(p.failed, ErrConsentRequired) {
		t.Errorf("consent needed, prompt=none: %v", p.failed)
	}
	// prompt=login, max_age and a request for another citizen do not use
	// the session.
	zero := time.Duration(0)
	for name, f := range map[string]*Flow{
		"prompt=login": {Needs: Requirements{PromptLogin: true}},
		"max_age=0":    {Needs: Requirements{MaxAge: &zero}},
	} {
		f.ID, f.ClientID = NewID(), "rp"
		if rec := run(f, withSession); rec.Code != http.StatusSeeOther || rec.Header().Get("Location")[:6] != "/login" {
			t.Errorf("%s: %d %q, want the login step", name, rec.Code, rec.Header().Get("Location"))
		}
	}
	p.accept = func(id string) bool { return id != "acc" }
	if rec := run(&Flow{ID: NewID(), ClientID: "rp"}, withSession); rec.Header().Get("Location")[:6] != "/login" {
		t.Errorf("another citizen wanted: %d %q, want the login step", rec.Code, rec.Header().Get("Location"))
	}
}

// TestLocalFlow: a flow of the provider's own pages (no client) ends at its
// local return path, with neither consent nor the protocol; a return path
// that is not local falls back to /account.
func TestLocalFlow(t *testing.T) {
	l, p, mem := newLogin(t)
	if err := mem.CreateAccount(t.Context(), &store.Account{ID: "acc", Level: store.LevelSimplified, Phone: "+79990000000"}); err != nil {
		t.Fatal(err)
	}
	anon := httptest.NewRequest(http.MethodGet, "/account", nil)
	srec := httptest.NewRecorder()
	if _, err := l.Sessions.Start(srec, anon, "acc", []string{"pwd"}); err != nil {
		t.Fatal(err)
	}
	withSession := httptest.NewRequest(http.MethodGet, "/account", nil)
	for _, c := range srec.Result().Cookies() {
		withSession.AddCookie(c)
	}
	for returnTo, want := range map[string]string{
		"/account/personal":    "/account/personal",
		"//evil.example/x":     "/account",
		"https://evil.example": "/account",
		"/\\evil.example":      "/account",
		"/\t/evil.example":     "/account",
		"/ /evil.example":      "/account",
		"/account?x=1":         "/account?x=1",
		"":                     "/account",
	} {
		rec := httptest.NewRecorder()
		l.StartLocal(rec, anon, returnTo)
		if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?flow=") {
			t.Errorf("%q without a session: %d %q, want the login step", returnTo, rec.Code, loc)
		}
		rec = httptest.NewRecorder()
		l.StartLocal(rec, withSession, returnTo)
		if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != want {
			t.Errorf("%q with a session: %d %q, want %q", returnTo, rec.Code, loc, want)
		}
		if p.finished != nil || p.failed != nil {
			t.Errorf("%q: the protocol was called", returnTo)
		}
	}
}

// The policy: who needs a second factor, and what proves one.
func TestSecondFactorPolicy(t *testing.T) {
	reg := factors.NewRegistry()
	l := &Login{Factors: reg}
	app := &store.SecondFactors{TOTP: &store.TOTPFactor{Sealed: []byte{1}}}
	for _, tc := range []struct {
		name    string
		mfa     bool
		factors *store.SecondFactors
		want    bool
	}{
		{"nothing asks", false, nil, false},
		{"the request asks", true, nil, true},
		{"the account has a factor, no policy", false, app, false},
		{"the account's policy", false, &store.SecondFactors{TOTP: app.TOTP, Required: true}, true},
		{"a policy without a factor is void", false, &store.SecondFactors{Required: true}, false},
		{"a spent set of backup codes is no factor", false, &store.SecondFactors{Backup: &store.BackupCodes{}, Required: true}, false},
		{"codes by SMS", false, &store.SecondFactors{Codes: store.CodeChannelSMS, Required: true}, true},
	} {
		f := &Flow{Needs: Requirements{MFA: tc.mfa}}
		if got := l.wantsSecondFactor(f, &store.Account{Factors: tc.factors}); got != tc.want {
			t.Errorf("%s: wantsSecondFactor = %v, want %v", tc.name, got, tc.want)
		}
	}
	if (&Login{}).wantsSecondFactor(&Flow{Needs: Requirements{MFA: true}}, &store.Account{}) {
		t.Error("a login without factors asks for one")
	}
	for _, tc := range []struct {
		methods []string
		done    bool
		amr     []string
	}{
		{[]string{"pwd"}, false, []string{"pwd"}},
		{[]string{"pwd", "otp"}, true, []string{"pwd", "otp", "mfa"}},
		{[]string{"pwd", "sms"}, true, []string{"pwd", "sms", "mfa"}},
		// A registration's session proved the contact's code alone: one
		// factor.
		{[]string{"sms"}, false, []string{"sms"}},
		{[]string{"otp"}, false, []string{"otp"}},
		{[]string{"hwk"}, true, []string{"hwk"}},
		{[]string{"swk"}, false, []string{"swk"}},
		{[]string{"pwd", "swk"}, true, []string{"pwd", "swk", "mfa"}},
		{[]string{"pwd", "fed"}, false, []string{"pwd", "fed"}},
	} {
		f := &Flow{}
		for _, m := range tc.methods {
			f.Proofs = append(f.Proofs, Proof{Method: m})
		}
		if f.SecondFactorDone() != tc.done || !slices.Equal(f.AMR(), tc.amr) {
			t.Errorf("%v: SecondFactorDone %v, AMR %v; want %v, %v", tc.methods, f.SecondFactorDone(), f.AMR(), tc.done, tc.amr)
		}
	}
}

package oidc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/idp/config"
)

// loginForm opens a login page in a fresh browser and returns the browser,
// the form's action and its hidden fields.
func (idp *testIDP) loginForm(t *testing.T) (*browser, string, url.Values) {
	t.Helper()
	b := idp.newBrowser(t)
	page := b.startLogin(authzParams("openid"))
	f := onlyForm(t, page.body)
	action := f.action
	if action == "" {
		action = page.Request.URL.RequestURI()
	}
	return b, action, url.Values{"flow": {f.fields.Get("flow")}, "csrf_token": {f.fields.Get("csrf_token")}}
}

func (idp *testIDP) attempt(t *testing.T, identifier, password string) *response {
	t.Helper()
	b, action, v := idp.loginForm(t)
	v.Set("identifier", identifier)
	v.Set("password", password)
	return b.post(action, v)
}

// TestLockoutCountsPerAccount: failures through any identifier of an
// account count together, so the fifth locks every identifier of it.
func TestLockoutCountsPerAccount(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	for i, id := range []string{citizenPhone, citizenEmail, "8" + citizenPhone[2:], strings.ToUpper(citizenEmail)} {
		if r := idp.attempt(t, id, "wrong password"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d through %s: status %d", i+1, id, r.StatusCode)
		}
	}
	if r := idp.attempt(t, citizenEmail, "wrong password"); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fifth failure: status %d, want 429", r.StatusCode)
	}
	for _, id := range []string{citizenPhone, citizenEmail} {
		if r := idp.attempt(t, id, citizenPassword); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("right password through %s while locked: %d", id, r.StatusCode)
		}
	}
	// An operator unlocks the account (the counter keys are keyed hashes:
	// there is no unlocking by hand).
	admin := http.Header{"Authorization": {"Bearer admin-token-for-tests-only-0123456789abcdef"}}
	if r := idp.rawPost(t, "/admin/accounts/no-such-account/unlock", "", "", admin); r.StatusCode != http.StatusNotFound {
		t.Errorf("unlock of an unknown account: %d", r.StatusCode)
	}
	if r := idp.rawPost(t, "/admin/accounts/"+idp.account.ID+"/unlock", "", "", admin); r.StatusCode != http.StatusNoContent {
		t.Fatalf("unlock: %d %s", r.StatusCode, r.body)
	}
	if r := idp.attempt(t, citizenPhone, citizenPassword); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the right password after the unlock: %d", r.StatusCode)
	}
}

// TestFailedLoginCountedWhenClientHangsUp: a client that is gone before its
// password is hashed still spends an attempt.
func TestFailedLoginCountedWhenClientHangsUp(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	for range 5 {
		b, action, v := idp.loginForm(t)
		v.Set("identifier", citizenPhone)
		v.Set("password", "wrong password")
		req := httptest.NewRequest(http.MethodPost, action, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		u, _ := url.Parse(idp.ts.URL)
		for _, c := range b.jar.Cookies(u) {
			req.AddCookie(c)
		}
		ctx, cancel := context.WithCancel(req.Context())
		cancel() // the client hung up
		idp.srv.Handler.ServeHTTP(httptest.NewRecorder(), req.WithContext(ctx))
	}
	if r := idp.attempt(t, citizenPhone, citizenPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after 5 attempts whose clients hung up: status %d, want 429 (locked)", r.StatusCode)
	}
}

// TestAddressLimitHoldsAgainstABurst: logins sent together from one
// address, each for another identifier, cannot get more passwords checked
// than the address's limit.
func TestAddressLimitHoldsAgainstABurst(t *testing.T) {
	t.Parallel()
	const limit, n = 3, 12
	idp := newTestIDP(t, func(c *config.Config) { c.IPFailureLimit = limit })
	type ready struct {
		b      *browser
		action string
		v      url.Values
	}
	var rs []ready
	for i := range n {
		b, action, v := idp.loginForm(t)
		v.Set("identifier", "nobody"+strings.Repeat("x", i)+"@example.ru")
		v.Set("password", "guess")
		rs = append(rs, ready{b, action, v})
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = r.b.post(r.action, r.v).StatusCode
		}()
	}
	close(start)
	wg.Wait()
	checked, refused := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Errorf("status %d", s)
		}
	}
	// Every password checked was wrong and counted against the address:
	// its counter says how many were checked, exactly the limit (a failure
	// that reaches the limit is answered 429 too, so 401s alone undercount).
	counted, err := idp.srv.Ephemeral.GetCounter(context.Background(), lockout.IPKey(netip.MustParseAddr("127.0.0.1")))
	if err != nil {
		t.Fatal(err)
	}
	if counted.N != limit || checked > limit || checked+refused != n {
		t.Fatalf("%d passwords checked (%d answered 401) and %d refused of %d sent together; the limit is %d", counted.N, checked, refused, n, limit)
	}
	if r := idp.attempt(t, citizenPhone, citizenPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after the burst the address is not blocked: %d", r.StatusCode)
	}
}

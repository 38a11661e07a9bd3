package e2e

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/esia-oidc/idp/internal/testserver"
)

// raceTokenRequests posts the same token request from n goroutines at once
// and returns the status codes and error codes.
func (e *env) raceTokenRequests(t *testing.T, n int, form url.Values) (ok int, errs map[string]int, good map[string]any) {
	t.Helper()
	errs = map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, body, _ := postForm(t, e.srv.URL+"/token", form, e.client.ClientID, e.client.ClientSecret)
			mu.Lock()
			defer mu.Unlock()
			if status == http.StatusOK {
				ok++
				good = body
				return
			}
			code, _ := body["error"].(string)
			errs[code]++
		}()
	}
	close(start)
	wg.Wait()
	return ok, errs, good
}

// TestConcurrentReplays: many exchanges of one code, or many refreshes of
// one refresh token, at the same moment: exactly one wins, the others get
// invalid_grant, and what the winner got is revoked (a replay).
func TestConcurrentReplays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	conf := e.oauth2Config()
	ag := testserver.NewAgent(e.srv.URL, nil)

	a, code := e.login(t, ag, conf)
	ok, errs, won := e.raceTokenRequests(t, 8, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}, "code_verifier": {a.Verifier},
	})
	// The winner may learn of the replay in time and fail too; if it
	// answered, what it got is revoked.
	if ok > 1 || errs["invalid_grant"] != 8-ok {
		t.Fatalf("8 exchanges of one code: %d succeeded, errors %v; want at most 1 and the rest invalid_grant", ok, errs)
	}
	if at, _ := won["access_token"].(string); ok == 1 && e.introspect(t, at)["active"] != false {
		t.Errorf("the access token of a replayed code is still active (%v)", errs)
	}

	a, code = e.login(t, ag, conf)
	tok, _ := e.tokens(t, conf, a, code)
	ok, errs, won = e.raceTokenRequests(t, 8, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if ok != 1 || errs["invalid_grant"] != 7 {
		t.Fatalf("8 refreshes of one token: %d succeeded, errors %v; want 1 and 7 invalid_grant", ok, errs)
	}
	rt, _ := won["refresh_token"].(string)
	status, body, _ := postForm(t, e.srv.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, e.client.ClientID, e.client.ClientSecret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("the winner's refresh token after a replay: %d %v", status, body)
	}
}

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/esia-oidc/idp/internal/testserver"
)

// The checks after the faults. Each returns what it found wrong.

// CheckLedger: no refresh token was accepted twice.
func (l *Load) CheckLedger() (tokens int, problems []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for tok, outcomes := range l.ledger {
		if n := countOf(outcomes, string(OK)); n > 1 {
			problems = append(problems, fmt.Sprintf("a refresh token (…%s) was accepted %d times: %v", tail(tok), n, outcomes))
		}
	}
	return len(l.ledger), problems
}

// CheckFamilies: every refresh family the load holds a certain token of
// still works (its newest token rotates), and then a rotated token of it,
// presented again, is refused and ends the family.
func (l *Load) CheckFamilies(ctx context.Context) (families, reused int, problems []string) {
	l.mu.Lock()
	chains := slices.Clone(l.chains)
	l.mu.Unlock()
	for _, ch := range chains {
		if ch.dead {
			continue
		}
		families++
		tok := ch.token
		tr, class, desc := l.token(ctx, OpCheck, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
		l.note(tok, class, tr.Error)
		if class != OK {
			if !(ch.uncertain && tr.Error == "invalid_grant") {
				problems = append(problems, "a refresh family written before the faults no longer works: "+desc)
			}
			continue
		}
		ch.used = append(ch.used, tok)
		ch.token = tr.RefreshToken
		// Reuse of the token just rotated: refused, and the family ends.
		old := ch.used[len(ch.used)-1]
		tr, class, _ = l.token(ctx, OpCheck, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}})
		l.note(old, class, tr.Error)
		reused++
		if class != ClientError || tr.Error != "invalid_grant" {
			problems = append(problems, fmt.Sprintf("a rotated refresh token presented again got %s %q, want invalid_grant", class, tr.Error))
		}
		tr, class, _ = l.token(ctx, OpCheck, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ch.token}})
		l.note(ch.token, class, tr.Error)
		if class != ClientError || tr.Error != "invalid_grant" {
			problems = append(problems, fmt.Sprintf("the newest token of a family whose old token was reused got %s %q, want invalid_grant", class, tr.Error))
		}
		ch.dead = true
	}
	return families, reused, problems
}

func (l *Load) note(tok string, class Class, oauthErr string) {
	outcome := string(class)
	if class == ClientError {
		outcome = oauthErr
	}
	l.mu.Lock()
	l.ledger[tok] = append(l.ledger[tok], outcome)
	l.mu.Unlock()
}

// CheckRegistered: every account and client the admin API confirmed (201)
// is there, with what was registered.
func (l *Load) CheckRegistered(ctx context.Context) (accounts, clients int, problems []string) {
	ctx = WithOp(ctx, OpCheck)
	l.mu.Lock()
	accts, cls := slices.Clone(l.accountsW), slices.Clone(l.clientsW)
	l.mu.Unlock()
	for _, a := range accts {
		info, err := l.Admin.GetAccount(ctx, a.ID)
		if err != nil {
			problems = append(problems, fmt.Sprintf("account %s registered before the faults: %v", a.ID, err))
			continue
		}
		if info.Email != a.Email {
			problems = append(problems, fmt.Sprintf("account %s has e-mail %q, registered %q", a.ID, info.Email, a.Email))
		}
	}
	for _, id := range cls {
		if _, err := l.Admin.GetClient(ctx, id); err != nil {
			problems = append(problems, fmt.Sprintf("client %s registered before the faults: %v", id, err))
		}
	}
	return len(accts), len(cls), problems
}

// CheckConsents: every account that consented logs in again without being
// asked (the agent denies, which the client would see as access_denied).
// A login shed by the server (503, or 429 while a check of the account
// that a fault cut short is still taken to be in flight) is tried again
// for up to 40 s.
func (l *Load) CheckConsents(ctx context.Context) (n int, problems []string) {
	l.mu.Lock()
	var idx []int
	for i := range l.consented {
		idx = append(idx, i)
	}
	l.mu.Unlock()
	slices.Sort(idx)
	results := make([]string, len(idx))
	var wg sync.WaitGroup
	for k, i := range idx {
		wg.Go(func() {
			deadline := time.Now().Add(40 * time.Second)
			for {
				_, _, class, desc := l.authorize(ctx, i, "deny")
				switch {
				case class == OK:
					return
				case (class == Unavailable || class == Busy || class == Conn) && time.Now().Before(deadline):
					sleep(ctx, 500*time.Millisecond)
					continue
				}
				results[k] = fmt.Sprintf("account %s consented before the faults; a login now: %s", l.accounts[i].ID, desc)
				return
			}
		})
	}
	wg.Wait()
	for _, r := range results {
		if r != "" {
			problems = append(problems, r)
		}
	}
	return len(idx), problems
}

// JWKS returns the kids the issuer publishes.
func (l *Load) JWKS(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(WithOp(ctx, OpCheck), http.MethodGet, l.Issuer+"/jwks", nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /jwks: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, err
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids, nil
}

// LoginAttempt opens the login page of a new authorization and posts the
// password once; it returns the status of the answer to the post (401 a
// wrong password, 429 locked, 303 or 302 on to the client).
func (l *Load) LoginAttempt(ctx context.Context, a Account, password string) (int, error) {
	ctx = WithOp(ctx, OpCheck)
	ag := testserver.NewAgent(l.Issuer, l.Rec)
	q := url.Values{
		"response_type": {"code"}, "client_id": {l.clientID}, "redirect_uri": {redirectURI},
		"scope": {scope}, "state": {random(8)}, "code_challenge": {random(32)}, "code_challenge_method": {"S256"},
	}
	page, err := ag.Get(ctx, l.Issuer+"/authorize?"+q.Encode())
	for i := 0; err == nil && i < 5; i++ {
		loc := page.Location()
		if loc == nil {
			break
		}
		page, err = ag.Get(ctx, loc.String())
	}
	if err != nil {
		return 0, err
	}
	if page.Status != http.StatusOK || !page.Has("password") || len(page.Forms()) == 0 {
		return page.Status, fmt.Errorf("authorize stopped at %d %s, not the login page", page.Status, page.URL.Path)
	}
	page, err = ag.Submit(ctx, page, page.Forms()[0], url.Values{"identifier": {a.Email}, "password": {password}})
	if err != nil {
		return 0, err
	}
	return page.Status, nil
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// tail is the end of a secret, enough to tell tokens apart in a message
// and useless to anyone reading it.
func tail(s string) string {
	if len(s) > 4 {
		return s[len(s)-4:]
	}
	return strings.Repeat("*", len(s))
}

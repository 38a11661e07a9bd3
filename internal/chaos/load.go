package chaos

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

// The load's operations.
const (
	OpLogin    = "login"    // authorize → login page → consent (first time) → code, through the hosted pages
	OpExchange = "exchange" // the code for tokens, with the PKCE verifier
	OpRefresh  = "refresh"  // a refresh grant on the worker's token chain
	OpCC       = "client_credentials"
	OpAdmin    = "admin" // registering an account or a client through the admin API
	OpCheck    = "check" // the checks after the faults
)

// redirectURI is where authorizations end; nothing listens there: the
// agent stops at the redirect.
const redirectURI = "http://127.0.0.1/chaos/callback"

// scope asks for an ID token and a refresh token.
const scope = "openid offline_access"

// Account is a citizen the load logs in as.
type Account struct {
	ID, Email, Password string
}

// Failure is an operation of the load that did not succeed.
type Failure struct {
	Time time.Time
	Op   string
	// Expected: the server shed it (503 with Retry-After) or its replica
	// died (connection error); else it is a wrong answer, told by Desc.
	Expected bool
	Desc     string
}

// chain is one refresh token family as the relying party holds it.
type chain struct {
	account int
	token   string   // the newest refresh token
	used    []string // the rotated ones, oldest first
	// uncertain: a request with token got no answer (its replica died),
	// so the server may have rotated it; a refusal of it is then no loss.
	uncertain bool
	dead      bool
}

// Load drives logins, code exchanges, refreshes, client-credentials grants
// and admin registrations through the proxy, and keeps what it needs to
// check afterwards: every refresh token presented with each answer, the
// accounts and clients it registered, and its failures.
type Load struct {
	Issuer string
	Rec    *Recorder
	HTTP   *http.Client
	Admin  *adminclient.Client

	clientID string
	basic    string
	accounts []Account

	mu        sync.Mutex
	ledger    map[string][]string // refresh token → answers to it, in order
	chains    []*chain
	consented map[int]bool
	accountsW []Account            // registered by the load (201 seen)
	clientsW  []string             // client ids registered by the load
	failures  []Failure            // every failed operation
	lastOK    map[string]time.Time // per operation, the end of its last success
	counts    map[string]*OpCount  // per operation
	// spentCodes counts codes that an exchange answered 503 had spent.
	spentCodes int
}

// OpCount counts one operation's outcomes.
type OpCount struct {
	OK, Shed, Broken int
}

// NewLoad prepares a load against issuer (the proxy) whose every request
// goes through a Recorder bounding it to timeout.
func NewLoad(issuer, adminToken string, timeout time.Duration) *Load {
	rec := &Recorder{
		Next: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		Timeout: timeout,
	}
	hc := &http.Client{Transport: rec, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Load{
		Issuer: issuer, Rec: rec, HTTP: hc,
		Admin:     adminclient.New(issuer, adminToken, hc),
		ledger:    map[string][]string{},
		consented: map[int]bool{},
		lastOK:    map[string]time.Time{},
		counts:    map[string]*OpCount{},
	}
}

// Setup registers the confidential client and n accounts.
func (l *Load) Setup(ctx context.Context, n int) error {
	ctx = WithOp(ctx, OpAdmin)
	ci, err := l.Admin.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:              "chaos",
		RedirectURIs:            []string{redirectURI},
		GrantTypes:              []string{"authorization_code", "refresh_token", "client_credentials"},
		ResponseTypes:           []string{"code"},
		Scope:                   scope,
		TokenEndpointAuthMethod: "client_secret_basic",
	})
	if err != nil {
		return fmt.Errorf("create the client: %w", err)
	}
	l.clientID = ci.ClientID
	cred := url.QueryEscape(ci.ClientID) + ":" + url.QueryEscape(ci.ClientSecret)
	l.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
	l.clientsW = append(l.clientsW, ci.ClientID)
	for i := range n {
		a, err := l.NewAccount(ctx, fmt.Sprintf("load-%d", i))
		if err != nil {
			return err
		}
		l.accounts = append(l.accounts, a)
	}
	return nil
}

// NewAccount registers an account with a random e-mail address.
func (l *Load) NewAccount(ctx context.Context, tag string) (Account, error) {
	a := Account{Email: strings.ToLower(tag + "-" + random(6) + "@chaos.example.org"), Password: "chaos-" + random(12)}
	info, err := l.Admin.CreateAccount(WithOp(ctx, OpAdmin), adminclient.NewAccount{
		Email: a.Email, Password: a.Password, LastName: "Хаосов", FirstName: "Тест",
	})
	if err != nil {
		return a, fmt.Errorf("create account: %w", err)
	}
	a.ID = info.ID
	l.mu.Lock()
	l.accountsW = append(l.accountsW, a)
	l.mu.Unlock()
	return a, nil
}

// Run runs workers until ctx ends and waits for them. There should be at
// least as many accounts as workers.
func (l *Load) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { l.worker(ctx, w, workers) })
	}
	wg.Wait()
}

// worker repeats: a refresh on its chain and a client-credentials grant;
// every fourth round a new login and code exchange (a new chain; the old
// one is kept and checked at the end); every eighth an admin registration.
// Worker w logs in as accounts w, w+workers, ... only: logins of one
// account at once would be refused as busy (429).
func (l *Load) worker(ctx context.Context, w, workers int) {
	var ch *chain
	mine := max(1, len(l.accounts)/workers)
	for round := 0; ctx.Err() == nil; round++ {
		failed := false
		if ch == nil || ch.dead || round%4 == 0 {
			if c := l.loginAndExchange(ctx, (w+workers*(round%mine))%len(l.accounts)); c != nil {
				ch = c
			} else {
				failed = true
			}
		}
		if ch != nil && !ch.dead && ctx.Err() == nil {
			failed = !l.refresh(ctx, ch) || failed
		}
		if ctx.Err() == nil {
			failed = !l.clientCredentials(ctx) || failed
		}
		if round%8 == 7 && ctx.Err() == nil {
			failed = !l.register(ctx, w, round) || failed
		}
		if failed {
			// A client backs off; Retry-After's 5 s would idle the test.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// done records an operation's outcome: expected failures are those whose
// class says the server shed the request or its replica died.
func (l *Load) done(ctx context.Context, op string, ok bool, class Class, desc string) bool {
	if ctx.Err() != nil && !ok {
		return false // stopped, not failed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.counts[op]
	if c == nil {
		c = &OpCount{}
		l.counts[op] = c
	}
	now := time.Now()
	switch {
	case ok:
		c.OK++
		l.lastOK[op] = now
		return true
	case class == Unavailable || class == Busy || class == Conn:
		c.Shed++
		l.failures = append(l.failures, Failure{Time: now, Op: op, Expected: true, Desc: string(class)})
	default:
		c.Broken++
		l.failures = append(l.failures, Failure{Time: now, Op: op, Desc: desc})
	}
	return false
}

// loginAndExchange logs in as account i through the pages and exchanges
// the code; it returns the new chain, or nil.
func (l *Load) loginAndExchange(ctx context.Context, i int) *chain {
	code, verifier, ok := l.login(ctx, i, "allow")
	if !ok {
		return nil
	}
	tr, class, desc := l.exchange(ctx, code, verifier)
	if !l.done(ctx, OpExchange, class == OK, class, desc) {
		return nil
	}
	ch := &chain{account: i, token: tr.RefreshToken}
	l.mu.Lock()
	l.chains = append(l.chains, ch)
	l.mu.Unlock()
	return ch
}

// login walks an authorization with PKCE as account i, answering consent
// with decision, and returns the code and the verifier.
func (l *Load) login(ctx context.Context, i int, decision string) (code, verifier string, ok bool) {
	code, verifier, class, desc := l.authorize(ctx, i, decision)
	if class == OK && decision == "allow" {
		l.mu.Lock()
		l.consented[i] = true
		l.mu.Unlock()
	}
	return code, verifier, l.done(ctx, OpLogin, class == OK, class, desc)
}

// authorize walks the authorization and says how it ended.
func (l *Load) authorize(ctx context.Context, i int, decision string) (code, verifier string, class Class, desc string) {
	ctx = WithOp(ctx, OpLogin)
	a := l.accounts[i]
	verifier = random(32)
	sum := sha256.Sum256([]byte(verifier))
	state := random(16)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {l.clientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {scope},
		"state":                 {state},
		"nonce":                 {random(16)},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	ag := testserver.NewAgent(l.Issuer, l.Rec)
	cb, page, err := ag.Authorize(ctx, l.Issuer+"/authorize?"+q.Encode(), testserver.Login{Identifier: a.Email, Password: a.Password, Decision: decision})
	if err != nil {
		if errors.Is(err, testserver.ErrStopped) && page != nil {
			return "", "", classify(&http.Response{StatusCode: page.Status, Header: page.Header}),
				fmt.Sprintf("authorize stopped on %s with %d", page.URL.Path, page.Status)
		}
		return "", "", Conn, "authorize: " + err.Error()
	}
	cq := cb.Query()
	switch {
	case cq.Get("error") == "temporarily_unavailable":
		// RFC 6749 §4.1.2.1: the server could not serve it just now.
		return "", "", Unavailable, "authorize answered temporarily_unavailable"
	case cq.Get("error") != "":
		return "", "", ClientError, "authorize answered error " + cq.Get("error")
	case cq.Get("state") != state || cq.Get("code") == "":
		return "", "", ClientError, "authorize answered without the state or a code"
	}
	return cq.Get("code"), verifier, OK, ""
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
}

// token posts a grant with the client's credentials.
func (l *Load) token(ctx context.Context, op string, form url.Values) (tokenResponse, Class, string) {
	var tr tokenResponse
	req, err := http.NewRequestWithContext(WithOp(ctx, op), http.MethodPost, l.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tr, ClientError, err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", l.basic)
	resp, err := l.HTTP.Do(req)
	if err != nil {
		return tr, Conn, op + ": " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &tr)
	class := classify(resp)
	if class != OK {
		return tr, class, fmt.Sprintf("%s: HTTP %d %s (backend %s, request %s)", op, resp.StatusCode, tr.Error, resp.Header.Get(BackendHeader), resp.Header.Get("X-Request-Id"))
	}
	if tr.AccessToken == "" {
		return tr, ClientError, op + ": no access token in the answer"
	}
	return tr, OK, ""
}

// exchange redeems a code; a shed attempt is tried again (the code is
// still good), at most three times.
func (l *Load) exchange(ctx context.Context, code, verifier string) (tokenResponse, Class, string) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	var (
		tr    tokenResponse
		class Class
		desc  string
		lost  bool // an attempt got no answer: the code may be spent
		shed  bool // an attempt was answered 503
	)
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		tr, class, desc = l.token(ctx, OpExchange, form)
		switch {
		case class == OK:
			if tr.RefreshToken == "" || tr.IDToken == "" {
				return tr, ClientError, "exchange: no refresh or ID token"
			}
			return tr, OK, ""
		case class == Conn || class == Timeout:
			lost = true
		case class == ClientError && tr.Error == "invalid_grant" && lost:
			// The first attempt was served and its answer lost: the code
			// is spent, as it must be.
			return tr, Conn, desc
		case class == ClientError && tr.Error == "invalid_grant" && shed:
			// An attempt answered 503 had spent the code before the store
			// failed (the code lives in Redis, the grant in PostgreSQL:
			// no transaction spans both). A code is used once, so the
			// client starts a new authorization.
			l.mu.Lock()
			l.spentCodes++
			l.mu.Unlock()
			return tr, Unavailable, "exchange: the code was spent by an attempt answered 503"
		case class == Unavailable:
			shed = true
		default:
			return tr, class, desc
		}
		time.Sleep(100 * time.Millisecond)
	}
	return tr, class, desc
}

// refresh rotates the chain's token once, recording the token and the
// answer in the ledger.
func (l *Load) refresh(ctx context.Context, ch *chain) bool {
	tok := ch.token
	tr, class, desc := l.token(ctx, OpRefresh, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
	outcome := string(class)
	if class == ClientError {
		outcome = tr.Error
	}
	l.mu.Lock()
	l.ledger[tok] = append(l.ledger[tok], outcome)
	l.mu.Unlock()
	switch {
	case class == OK && tr.RefreshToken != "" && tr.RefreshToken != tok:
		l.mu.Lock()
		ch.used = append(ch.used, tok)
		ch.token, ch.uncertain = tr.RefreshToken, false
		l.mu.Unlock()
		return l.done(ctx, OpRefresh, true, OK, "")
	case class == OK:
		return l.done(ctx, OpRefresh, false, ClientError, "refresh: the token was not rotated")
	case class == Conn || class == Timeout:
		ch.uncertain = true
		return l.done(ctx, OpRefresh, false, class, desc)
	case class == ClientError && tr.Error == "invalid_grant":
		ch.dead = true
		if ch.uncertain {
			// Its earlier request was served and the answer lost: the
			// token was spent, and presenting it again is reuse.
			return l.done(ctx, OpRefresh, false, Conn, desc)
		}
		return l.done(ctx, OpRefresh, false, ClientError, "refresh family lost: "+desc)
	}
	return l.done(ctx, OpRefresh, false, class, desc)
}

// clientCredentials asks for a token with the client's credentials.
func (l *Load) clientCredentials(ctx context.Context) bool {
	_, class, desc := l.token(ctx, OpCC, url.Values{"grant_type": {"client_credentials"}})
	return l.done(ctx, OpCC, class == OK, class, desc)
}

// register creates an account (even rounds) or a client through the admin
// API; what got 201 is checked at the end.
func (l *Load) register(ctx context.Context, w, round int) bool {
	var err error
	if (round/8)%2 == 0 {
		_, err = l.NewAccount(ctx, fmt.Sprintf("w%d-r%d", w, round))
	} else {
		var ci *adminclient.ClientInfo
		ci, err = l.Admin.CreateClient(WithOp(ctx, OpAdmin), adminclient.ClientMetadata{
			ClientName: "chaos-" + random(4), RedirectURIs: []string{redirectURI},
			GrantTypes: []string{"client_credentials"}, Scope: "openid", TokenEndpointAuthMethod: "client_secret_basic",
		})
		if err == nil {
			l.mu.Lock()
			l.clientsW = append(l.clientsW, ci.ClientID)
			l.mu.Unlock()
		}
	}
	if err == nil {
		return l.done(ctx, OpAdmin, true, OK, "")
	}
	var ae *adminclient.APIError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable:
		return l.done(ctx, OpAdmin, false, Unavailable, err.Error())
	case errors.As(err, &ae) && ae.Status == http.StatusBadGateway:
		return l.done(ctx, OpAdmin, false, Conn, err.Error())
	case errors.As(err, &ae):
		return l.done(ctx, OpAdmin, false, ServerError, err.Error())
	}
	return l.done(ctx, OpAdmin, false, Conn, err.Error())
}

// LastOK returns when each operation last succeeded.
func (l *Load) LastOK() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]time.Time, len(l.lastOK))
	for k, v := range l.lastOK {
		out[k] = v
	}
	return out
}

// Failures returns the failed operations so far.
func (l *Load) Failures() []Failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Failure(nil), l.failures...)
}

// SpentCodes is how many codes an exchange answered 503 had spent.
func (l *Load) SpentCodes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.spentCodes
}

// Counts returns each operation's outcomes so far.
func (l *Load) Counts() map[string]OpCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]OpCount, len(l.counts))
	for k, v := range l.counts {
		out[k] = *v
	}
	return out
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

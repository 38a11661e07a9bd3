package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/esia-oidc/idp/internal/testserver"
)

// requestTimeout bounds every request of the load.
const requestTimeout = 30 * time.Second

// benchScope is what the code flows ask for: an ID token, a refresh token
// and one personal-data scope.
const benchScope = "openid offline_access fullname"

// maxBody bounds how much of an answer is read.
const maxBody = 1 << 20

// newTransport returns the one transport every request of the load shares:
// keep-alive connections, enough idle ones for every client.
func newTransport(maxConcurrency int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: maxConcurrency + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// rp is the benchmark's relying party: a confidential client
// (client_secret_basic) talking to one server.
type rp struct {
	issuer        string
	transport     http.RoundTripper
	hc            *http.Client
	clientID      string
	redirectURI   string
	basic         string // the Authorization header value
	promptConsent bool
	// wires are the workers' own connections (see wire), created on
	// first use; worker w uses wires[w].
	wires []*wire
}

// newRP returns a relying party with a connection for each of workers.
func newRP(issuer string, transport http.RoundTripper, clientID, secret, redirectURI string, promptConsent bool, workers int) *rp {
	// RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
	cred := url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)
	wires := make([]*wire, workers)
	for i := range wires {
		wires[i] = newWire(strings.TrimPrefix(issuer, "http://"))
	}
	return &rp{
		wires:     wires,
		issuer:    issuer,
		transport: transport,
		hc: &http.Client{
			Transport:     transport,
			Timeout:       requestTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		clientID:      clientID,
		redirectURI:   redirectURI,
		basic:         "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)),
		promptConsent: promptConsent,
	}
}

// post sends a form to the server with client authentication and returns
// the status and the body: on worker w's own connection when w ≥ 0 (the body
// is then valid until that worker's next request), else through the shared
// transport.
func (c *rp) post(ctx context.Context, w int, path, form string) (int, []byte, error) {
	if w >= 0 {
		return c.wire(w).post(ctx, path, c.basic, form)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.issuer+path, strings.NewReader(form))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", c.basic)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, body, nil
}

// wire returns worker w's connection.
func (c *rp) wire(w int) *wire { return c.wires[w] }

// closeWires closes the workers' connections.
func (c *rp) closeWires() {
	for _, w := range c.wires {
		if w != nil {
			w.close()
		}
	}
}

// classify maps a status to an outcome: 2xx OK, 429 and 503 shed, the rest
// failed.
func classify(status int) outcome {
	switch {
	case status >= 200 && status < 300:
		return outcomeOK
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return outcomeShed
	}
	return outcomeFailed
}

// describe tells what went wrong with an answer: the status and the OAuth
// error code if the body carries one, never the body itself.
func describe(what string, status int, body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Sprintf("%s: HTTP %d %s", what, status, e.Error)
	}
	return fmt.Sprintf("%s: HTTP %d", what, status)
}

// errText describes a transport error without the request URL (which may
// carry parameters of the flow).
func errText(what string, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return what + ": " + err.Error()
}

// tokenResponse is the token endpoint's answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
}

var (
	accessTokenField = []byte(`"access_token"`)
	activeTrue       = []byte(`"active":true`)
)

const ccForm = "grant_type=client_credentials"

// clientCredentials asks for a token with the client credentials grant.
func (c *rp) clientCredentials(ctx context.Context, w int) (outcome, string) {
	status, body, err := c.post(ctx, w, "/token", ccForm)
	if err != nil {
		return outcomeFailed, errText("client_credentials", err)
	}
	if oc := classify(status); oc != outcomeOK {
		return oc, describe("client_credentials", status, body)
	}
	if !bytes.Contains(body, accessTokenField) {
		return outcomeFailed, "client_credentials: no access_token in the answer"
	}
	return outcomeOK, ""
}

// introspect asks about a token that must be active (RFC 7662).
func (c *rp) introspect(ctx context.Context, w int, form string) (outcome, string) {
	status, body, err := c.post(ctx, w, "/introspect", form)
	if err != nil {
		return outcomeFailed, errText("introspect", err)
	}
	if oc := classify(status); oc != outcomeOK {
		return oc, describe("introspect", status, body)
	}
	if !bytes.Contains(body, activeTrue) {
		return outcomeFailed, "introspect: token reported inactive"
	}
	return outcomeOK, ""
}

// introspectForm is the body of an introspection of token.
func introspectForm(token string) string {
	return url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()
}

// refresh redeems a refresh token (RFC 6749 §6) and returns the new tokens.
func (c *rp) refresh(ctx context.Context, w int, refreshToken string) (tokenResponse, outcome, string) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}.Encode()
	return c.token(ctx, w, "refresh_token", form)
}

// token posts a grant and checks the answer holds an access token, an ID
// token and a refresh token (what benchScope asks for).
func (c *rp) token(ctx context.Context, w int, grant, form string) (tokenResponse, outcome, string) {
	status, body, err := c.post(ctx, w, "/token", form)
	if err != nil {
		return tokenResponse{}, outcomeFailed, errText(grant, err)
	}
	if oc := classify(status); oc != outcomeOK {
		return tokenResponse{}, oc, describe(grant, status, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return tr, outcomeFailed, grant + ": the answer is not JSON"
	}
	if tr.AccessToken == "" || tr.IDToken == "" || tr.RefreshToken == "" {
		return tr, outcomeFailed, grant + ": the answer lacks an access, ID or refresh token"
	}
	return tr, outcomeOK, ""
}

// codeFlow runs one authorization code flow with PKCE from a fresh cookie
// jar: authorize → login (→ consent) → code → token.
func (c *rp) codeFlow(ctx context.Context, login testserver.Login) (tokenResponse, outcome, string) {
	verifier := randomB64(32)
	sum := sha256.Sum256([]byte(verifier))
	state, nonce := randomB64(16), randomB64(16)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.clientID},
		"redirect_uri":          {c.redirectURI},
		"scope":                 {benchScope},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if c.promptConsent {
		q.Set("prompt", "consent")
	}
	ag := testserver.NewAgent(c.issuer, c.transport)
	ag.HTTP.Timeout = requestTimeout
	cb, page, err := ag.Authorize(ctx, c.issuer+"/authorize?"+q.Encode(), login)
	if err != nil {
		if errors.Is(err, testserver.ErrStopped) && page != nil {
			oc := classify(page.Status)
			if oc == outcomeOK { // stopped on a 200 page it could not fill
				oc = outcomeFailed
			}
			return tokenResponse{}, oc, fmt.Sprintf("authorize: stopped on %s with HTTP %d", page.URL.Path, page.Status)
		}
		return tokenResponse{}, outcomeFailed, errText("authorize", err)
	}
	cq := cb.Query()
	switch {
	case cq.Get("error") != "":
		return tokenResponse{}, outcomeFailed, "authorize: error " + cq.Get("error")
	case cq.Get("state") != state:
		return tokenResponse{}, outcomeFailed, "authorize: state does not match"
	case cq.Get("iss") != c.issuer:
		return tokenResponse{}, outcomeFailed, "authorize: iss does not name the issuer"
	case cq.Get("code") == "":
		return tokenResponse{}, outcomeFailed, "authorize: no code"
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {cq.Get("code")},
		"redirect_uri":  {c.redirectURI},
		"code_verifier": {verifier},
	}.Encode()
	return c.token(ctx, -1, "authorization_code", form)
}

func randomB64(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

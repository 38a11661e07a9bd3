package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/esia-oidc/idp/store"
)

// flow is an authorization request waiting for the citizen: to log in, or to
// answer the consent question. It lives in the ephemeral store under
// "flow:"+ID; the ID travels in the page URL and in a hidden form field.
type flow struct {
	ID          string    `json:"id"`
	Query       string    `json:"query"` // the authorization request's parameters
	ClientID    string    `json:"client_id"`
	RequestedAt time.Time `json:"requested_at"`
	// Browser binds the flow to the browser that started it (web.CSRF.Browser).
	Browser string `json:"browser"`

	// Set once the citizen has logged in during this flow.
	AccountID string    `json:"account_id,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	SID       string    `json:"sid,omitempty"`
	// Consented: the citizen allowed the requested scopes during this flow.
	Consented bool `json:"consented,omitempty"`
}

// forgetLogin drops what the flow knew of a login (and the consent given
// during it).
func (f *flow) forgetLogin() {
	f.AccountID, f.AuthTime, f.AMR, f.SID, f.Consented = "", time.Time{}, nil, "", false
}

// ssoSession is a citizen's single sign-on session, under "sso:"+hash(cookie).
type ssoSession struct {
	AccountID string    `json:"account_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	SID       string    `json:"sid"` // public session id, the ID token's sid
}

const sessionCookie = "idp_session"

func randomID() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func flowKey(id string) string { return "flow:" + id }

// ssoKey hashes the cookie so that a copy of the store holds no live cookie.
func ssoKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return "sso:" + hex.EncodeToString(h[:])
}

func (l *Login) saveFlow(ctx context.Context, f *flow) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return l.provider.cfg.Ephemeral.PutEntry(ctx, flowKey(f.ID), b, l.provider.cfg.Lifetimes.Flow)
}

// errFlowExpired: the flow is unknown or has expired.
var errFlowExpired = errors.New("flow expired")

func (l *Login) loadFlow(ctx context.Context, id string) (*flow, error) {
	if id == "" || len(id) > 64 {
		return nil, errFlowExpired
	}
	b, err := l.provider.cfg.Ephemeral.GetEntry(ctx, flowKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errFlowExpired
	}
	if err != nil {
		return nil, err
	}
	var f flow
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode flow: %w", err)
	}
	return &f, nil
}

// currentSession returns the SSO session of the browser and its cookie, or
// nil and "".
func (l *Login) currentSession(r *http.Request) (*ssoSession, string) {
	c := l.Cookies.Get(r, sessionCookie)
	if c == "" || len(c) > 64 {
		return nil, ""
	}
	b, err := l.provider.cfg.Ephemeral.GetEntry(r.Context(), ssoKey(c))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			l.provider.cfg.Logger.ErrorContext(r.Context(), "load sso session", "err", err)
		}
		return nil, ""
	}
	var s ssoSession
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, ""
	}
	return &s, c
}

// startSession creates a new SSO session (a new cookie value every login, so
// a session fixed before login is worthless) and ends the old one.
func (l *Login) startSession(w http.ResponseWriter, r *http.Request, s *ssoSession) error {
	if _, old := l.currentSession(r); old != "" {
		l.provider.cfg.Ephemeral.DeleteEntry(r.Context(), ssoKey(old))
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	cookie := randomID()
	ttl := l.provider.cfg.Lifetimes.Session
	if err := l.provider.cfg.Ephemeral.PutEntry(r.Context(), ssoKey(cookie), b, ttl); err != nil {
		return err
	}
	l.Cookies.Set(w, sessionCookie, cookie, int(ttl.Seconds()))
	return nil
}

// endSession ends the browser's SSO session, if its request carried one:
// it deletes the session and the cookie, and rotates the CSRF cookie, which
// ends every login flow of the browser (they are bound to it). A request
// without the session cookie changes nothing: it may be a cross-site POST,
// for which the browser withholds SameSite=Lax cookies, and a response to it
// must not log the citizen out (nor orphan their flows) behind their back.
func (l *Login) endSession(w http.ResponseWriter, r *http.Request) {
	if l.Cookies.Get(r, sessionCookie) == "" {
		return
	}
	if _, v := l.currentSession(r); v != "" {
		l.provider.cfg.Ephemeral.DeleteEntry(r.Context(), ssoKey(v))
	}
	l.Cookies.Delete(w, sessionCookie)
	l.CSRF.Rotate(w)
}

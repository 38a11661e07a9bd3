package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/esia-oidc/idp/idp/session"
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

func randomID() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func flowKey(id string) string { return "flow:" + id }

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

// currentSession returns the browser's SSO session, or nil; a store error
// is logged and taken as no session (the citizen is asked to log in).
func (l *Login) currentSession(r *http.Request) *session.Session {
	s, err := l.Sessions.Current(r)
	if err != nil {
		l.provider.cfg.Logger.ErrorContext(r.Context(), "load sso session", "err", err)
		return nil
	}
	return s
}

// endSession ends the browser's SSO session, if its request carried one,
// and rotates the CSRF cookie, which ends every login flow of the browser
// (they are bound to it). A request without the session cookie changes
// nothing: it may be a cross-site POST, for which the browser withholds
// SameSite=Lax cookies, and a response to it must not log the citizen out
// (nor orphan their flows) behind their back.
func (l *Login) endSession(w http.ResponseWriter, r *http.Request) {
	if !l.Sessions.HasCookie(r) {
		return
	}
	if _, err := l.Sessions.End(w, r); err != nil {
		l.provider.cfg.Logger.ErrorContext(r.Context(), "end sso session", "err", err)
	}
	l.CSRF.Rotate(w)
}

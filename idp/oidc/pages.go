package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// flowFromRequest loads the flow named by the "flow" parameter, or renders
// the "start again" page.
func (l *Login) flowFromRequest(w http.ResponseWriter, r *http.Request) *flow {
	f, err := l.loadFlow(r.Context(), r.FormValue("flow"))
	if err != nil {
		if errors.Is(err, errFlowExpired) {
			err = &web.PageError{Status: http.StatusNotFound, Key: "error.flow_expired", Cause: err}
		}
		l.Pages.Error(w, r, err)
		return nil
	}
	// Only the browser that started the flow may continue it.
	if !l.CSRF.SameBrowser(r, f.Browser) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.other_browser"})
		return nil
	}
	if q, err := url.ParseQuery(f.Query); err == nil {
		end := q.Get("redirect_uri")
		if end == "" { // the client's only registered one (RFC 6749 §3.1.2.3)
			if c, err := l.provider.storage.clients.get(r.Context(), f.ClientID); err == nil && len(c.rec.RedirectURIs) == 1 {
				end = c.rec.RedirectURIs[0]
			}
		}
		if end != "" {
			narrowFormAction(w, end)
		}
	}
	return f
}

// narrowFormAction lets the forms of the page being answered submit only to
// this provider and to the origin of uri, where the flow ends (the redirect
// after a form submission is subject to form-action too); an empty uri, only
// to this provider. uri was matched against the client's registered URIs;
// anything that does not make a plain scheme://host[:port] origin leaves the
// default policy.
func narrowFormAction(w http.ResponseWriter, uri string) {
	if uri == "" {
		w.Header().Set("Content-Security-Policy", httpx.CSP())
		return
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return
	}
	for _, c := range u.Host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return
		}
	}
	w.Header().Set("Content-Security-Policy", httpx.CSP(u.Scheme+"://"+u.Host))
}

// checkCSRF verifies the form's token, bound to the flow; on failure it
// renders the error page.
func (l *Login) checkCSRF(w http.ResponseWriter, r *http.Request, bind string) bool {
	if l.CSRF.Verify(r, bind) {
		return true
	}
	l.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.csrf"})
	return false
}

func (l *Login) clientName(r *http.Request, id string) string {
	c, err := l.provider.storage.clients.get(r.Context(), id)
	if err != nil || c.rec.Name == "" {
		return id
	}
	return c.rec.Name
}

func (l *Login) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	l.Pages.Login(w, r, http.StatusOK, web.LoginData{
		Flow:       f.ID,
		CSRF:       l.CSRF.Token(w, r, f.ID),
		ClientName: l.clientName(r, f.ClientID),
		Identifier: hintFromQuery(f.Query),
	})
}

// hintFromQuery returns the login_hint of the authorization request.
func hintFromQuery(q string) string {
	v, err := url.ParseQuery(q)
	if err != nil {
		return ""
	}
	return v.Get("login_hint")
}

// handleLogin checks the identifier and password. A wrong password and an
// unknown account give the same page, status and time: an unknown account
// costs a dummy hash, and both count towards the lockout.
func (l *Login) handleLogin(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil || !l.checkCSRF(w, r, f.ID) {
		return
	}
	ctx := r.Context()
	raw := r.PostFormValue("identifier")
	pw := r.PostFormValue("password")
	data := web.LoginData{
		Flow:       f.ID,
		CSRF:       l.CSRF.Token(w, r, f.ID),
		ClientName: l.clientName(r, f.ClientID),
		Identifier: raw,
	}
	fields := map[string]string{}
	kind, id, err := identifier.Parse(raw)
	switch {
	case raw == "":
		fields["identifier"] = "login.identifier_required"
	case err != nil:
		fields["identifier"] = "login.identifier_unrecognized"
	}
	if pw == "" {
		fields["password"] = "login.password_required"
	}
	if len(fields) > 0 {
		data.FieldErrors = fields
		l.outcome("invalid_input")
		l.Pages.Login(w, r, http.StatusBadRequest, data)
		return
	}

	// A blocked address gets no further, not even an account lookup.
	ip := l.ClientIP(r)
	d, err := l.Limiter.CheckAddress(ctx, ip)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if !d.Allowed {
		l.locked(w, r, data, d)
		return
	}
	// Failures count against the account, whichever of its identifiers
	// was typed; an identifier that names no account counts on its own,
	// the same way, so the lock says nothing about existence.
	acct, err := l.provider.cfg.Durable.FindAccount(ctx, kind, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		l.Pages.Error(w, r, err)
		return
	}
	subject := l.Limiter.Identifier(id)
	if acct != nil {
		subject = l.Limiter.Account(acct.ID)
	}
	if d, err = l.Limiter.CheckSubject(ctx, subject); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if !d.Allowed {
		l.locked(w, r, data, d)
		return
	}

	// One password check per subject at a time, across replicas: checks
	// sent together would all pass Check before any failure is counted.
	// Later ones wait for the check in progress, then look at the lock again.
	release, err := l.checkOneAtATime(ctx, subject)
	if errors.Is(err, errCheckInProgress) {
		l.outcome("busy")
		w.Header().Set("Retry-After", "1")
		data.FormError = "login.busy"
		l.Pages.Login(w, r, http.StatusTooManyRequests, data)
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	defer release()
	attempt, d, err := l.Limiter.Begin(ctx, subject, ip)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if attempt == nil {
		l.locked(w, r, data, d)
		return
	}

	// From here on the attempt is counted whatever the client does: a
	// client that hangs up while its password waits for, or goes through,
	// the hash must not get a free guess. (A client already gone is not
	// worth a hash: its attempt counts as a failure without one.)
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), attemptTimeout)
	defer cancel()
	var ok bool
	if acct != nil && acct.PasswordHash != "" {
		ok, err = l.Passwords.Verify(ctx, pw, acct.PasswordHash)
	} else {
		_, err = l.Passwords.VerifyDummy(ctx, pw)
	}
	if err != nil && ctx.Err() != nil {
		ok, err = false, nil
	}
	if err != nil {
		if aerr := attempt.Abandon(vctx); aerr != nil {
			l.provider.cfg.Logger.ErrorContext(ctx, "release login attempt", "err", aerr)
		}
		if errors.Is(err, password.ErrBusy) {
			l.outcome("busy")
			w.Header().Set("Retry-After", "5")
			data.FormError = "login.busy"
			l.Pages.Login(w, r, http.StatusServiceUnavailable, data)
			return
		}
		l.Pages.Error(w, r, err)
		return
	}
	if !ok {
		d, err := attempt.Fail(vctx)
		if err != nil {
			l.Pages.Error(w, r, err)
			return
		}
		if d.Locked {
			l.locked(w, r, data, d)
			return
		}
		l.outcome("failure")
		data.FormError = "login.invalid_credentials"
		l.Pages.Login(w, r, http.StatusUnauthorized, data)
		return
	}
	if err := attempt.Succeed(vctx); err != nil {
		l.provider.cfg.Logger.ErrorContext(ctx, "reset lockout counter", "err", err)
	}
	l.rehash(vctx, acct, pw)
	l.outcome("success")

	sso, err := l.Sessions.Start(w, r, acct.ID, []string{"pwd"})
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	// A new CSRF cookie at login: one planted or read before it is
	// worthless now. This flow moves to the new browser id.
	f.Browser = l.CSRF.Rotate(w)
	f.AccountID, f.AuthTime, f.AMR, f.SID = sso.AccountID, sso.AuthTime, sso.AMR, sso.ID
	ar, err := l.resume(r, f)
	if err != nil {
		l.authorizeError(w, r, ar, err)
		return
	}
	l.advance(w, r, ar, f, sso)
}

// locked renders the login page saying when to try again.
func (l *Login) locked(w http.ResponseWriter, r *http.Request, data web.LoginData, d lockout.Decision) {
	l.outcome("locked")
	data.FormError = "login.locked"
	if d.Scope == lockout.ScopeIP {
		data.FormError = "login.ip_limited"
	}
	data.RetryAfter = d.RetryAt
	if s := int(d.RetryAt.Sub(l.provider.cfg.Now()).Seconds()); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	l.Pages.Login(w, r, http.StatusTooManyRequests, data)
}

// signedIn reports whether the flow's login is the browser's current
// session (see advance); otherwise the consent step sends it back to login.
func (l *Login) signedIn(r *http.Request, f *flow) bool {
	sso := l.currentSession(r)
	return f.AccountID != "" && sso != nil && sso.ID == f.SID
}

func (l *Login) handleConsentPage(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	if !l.signedIn(r, f) {
		http.Redirect(w, r, "/login?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return
	}
	acct, err := l.provider.cfg.Durable.GetAccount(r.Context(), f.AccountID)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	v, _ := url.ParseQuery(f.Query)
	lang := l.Pages.Lang(r)
	var scopes []web.ScopeView
	for _, s := range consent.NeedsQuestion(consent.Grantable(acct.Level, strings.Fields(v.Get("scope")))) {
		scopes = append(scopes, web.ScopeView{Name: s, Description: l.Pages.T(lang, "scope."+s)})
	}
	l.Pages.Consent(w, r, http.StatusOK, web.ConsentData{
		Flow:       f.ID,
		CSRF:       l.CSRF.Token(w, r, f.ID),
		ClientName: l.clientName(r, f.ClientID),
		Scopes:     scopes,
	})
}

func (l *Login) handleConsent(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil || !l.checkCSRF(w, r, f.ID) {
		return
	}
	if !l.signedIn(r, f) {
		http.Redirect(w, r, "/login?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	ar, err := l.resume(r, f)
	if err != nil {
		l.authorizeError(w, r, ar, err)
		return
	}
	switch r.PostFormValue("decision") {
	case "allow":
	case "deny":
		l.provider.cfg.Ephemeral.DeleteEntry(ctx, flowKey(f.ID))
		l.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The citizen declined."))
		return
	default:
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.invalid_request"})
		return
	}
	acct, err := l.provider.cfg.Durable.GetAccount(ctx, f.AccountID)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	scopes := consent.NeedsQuestion(consent.Grantable(acct.Level, ar.GetRequestedScopes()))
	prev, err := l.provider.cfg.Durable.GetConsent(ctx, f.AccountID, f.ClientID)
	if err == nil {
		for _, s := range prev.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	if err := l.provider.cfg.Durable.PutConsent(ctx, &store.Consent{
		AccountID: f.AccountID, ClientID: f.ClientID, Scopes: scopes, GrantedAt: l.provider.cfg.Now().UTC(),
	}); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	f.Consented = true
	l.advance(w, r, ar, f, nil)
}

// rehash upgrades a password hash made with older parameters, now that the
// password is known to be right. Failing to do so only postpones it.
func (l *Login) rehash(ctx context.Context, acct *store.Account, pw string) {
	if !l.Passwords.NeedsRehash(acct.PasswordHash) {
		return
	}
	old := acct.PasswordHash
	hash, err := l.Passwords.Hash(ctx, pw)
	if err != nil {
		return // busy: next time
	}
	_, err = l.provider.cfg.Durable.UpdateAccount(ctx, acct.ID, func(a *store.Account) error {
		if a.PasswordHash == old { // not changed meanwhile
			a.PasswordHash = hash
			a.UpdatedAt = l.provider.cfg.Now().UTC()
		}
		return nil
	})
	if err != nil {
		l.provider.cfg.Logger.WarnContext(ctx, "rehash password", "err", err)
	}
}

// errCheckInProgress: another password check for the identifier did not
// end in time.
var errCheckInProgress = errors.New("password check in progress")

// attemptTimeout bounds a password check that the client no longer waits
// for.
const attemptTimeout = 30 * time.Second

// checkOneAtATime takes the subject's in-flight marker (an atomic entry in
// the ephemeral store, shared by every replica), waiting up to two seconds
// for a check in progress, and returns its release.
func (l *Login) checkOneAtATime(ctx context.Context, subject lockout.Subject) (func(), error) {
	key := "login-inflight:" + subject.Key()
	eph := l.provider.cfg.Ephemeral
	for range 40 {
		err := eph.CreateEntry(ctx, key, []byte{1}, 30*time.Second)
		if err == nil {
			return func() { eph.DeleteEntry(context.WithoutCancel(ctx), key) }, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil, errCheckInProgress
}

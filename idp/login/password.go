package login

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The identify step: an identifier (phone, e-mail or SNILS) and a password.

func (l *Login) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	l.Pages.Login(w, r, http.StatusOK, web.LoginData{
		Flow:       f.ID,
		CSRF:       l.CSRF.Token(w, r, f.ID),
		ClientName: l.clientName(r, f.ClientID),
		Identifier: f.Needs.LoginHint,
		Banks:      len(l.banks()) > 0,
	})
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
		Banks:      len(l.banks()) > 0,
	}
	fields := map[string]string{}
	kind, id, err := identifier.Parse(raw)
	switch {
	case raw == "":
		fields["identifier"] = "login.identifier_required"
	case err != nil:
		// The syntax only (it says nothing about accounts): the catalog's
		// message for the identifier error's code.
		fields["identifier"] = "login.identifier_unrecognized"
		var ie *identifier.Error
		if errors.As(err, &ie) && web.HasMessage("identifier."+ie.Code()) {
			fields["identifier"] = "identifier." + ie.Code()
		}
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
	acct, err := l.Accounts.FindAccount(ctx, kind, id)
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

	// One password check per subject at a time, across replicas, counted
	// whatever the client does once begun (lockout.Guard). A client
	// already gone is not worth a hash: its attempt counts as a failure
	// without one.
	chk, d, err := l.guard().Begin(ctx, subject, ip)
	if errors.Is(err, lockout.ErrBusy) {
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
	if chk == nil {
		l.locked(w, r, data, d)
		return
	}
	defer chk.Close()
	vctx := chk.Context()
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
		d, err := chk.Fail()
		if err != nil {
			l.Pages.Error(w, r, err)
			return
		}
		if d.Locked {
			l.locked(w, r, data, d)
			return
		}
		l.outcome("failure")
		if acct != nil {
			l.event(vctx, acct.ID, "login.failed", nil)
		}
		data.FormError = "login.invalid_credentials"
		l.Pages.Login(w, r, http.StatusUnauthorized, data)
		return
	}
	if err := chk.Succeed(); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.rehash(vctx, acct, pw)
	l.outcome("success")
	l.event(vctx, acct.ID, "login", map[string]string{"client": f.ClientID})

	sso, err := l.Sessions.Start(w, r, acct.ID, []string{"pwd"})
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.noticeNewDevice(vctx, acct, sso)
	// A new CSRF cookie at login: one planted or read before it is
	// worthless now. This flow moves to the new browser id.
	f.Browser = l.CSRF.Rotate(w)
	f.AccountID, f.SID = sso.AccountID, sso.ID
	f.Proofs = []Proof{{Method: "pwd", At: sso.AuthTime}}
	l.advance(w, r, f, sso)
}

// locked renders the login page saying when to try again.
func (l *Login) locked(w http.ResponseWriter, r *http.Request, data web.LoginData, d lockout.Decision) {
	l.outcome("locked")
	data.FormError = "login.locked"
	if d.Scope == lockout.ScopeIP {
		data.FormError = "login.ip_limited"
	}
	data.RetryAfter = d.RetryAt
	if s := int(d.RetryAt.Sub(l.now()).Seconds()); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	l.Pages.Login(w, r, http.StatusTooManyRequests, data)
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
	_, err = l.Accounts.UpdateAccount(ctx, acct.ID, func(a *store.Account) error {
		if a.PasswordHash == old { // not changed meanwhile
			a.PasswordHash = hash
			a.UpdatedAt = l.now().UTC()
		}
		return nil
	})
	if err != nil {
		l.logger().WarnContext(ctx, "rehash password", "err", err)
	}
}

// guard checks one secret per lockout subject at a time, the marks kept
// with the flows.
func (l *Login) guard() *lockout.Guard {
	return &lockout.Guard{Limiter: l.Limiter, Marks: l.Flows, Now: l.Now, Logger: l.Logger}
}

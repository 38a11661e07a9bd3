package selfservice

import (
	"errors"
	"net/http"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Choosing a new password: the last step of a registration and of a
// recovery.

// passwordPage is what a new-password page shows besides the form.
type passwordPage struct {
	// Generated is a password the server made, shown once for the citizen
	// to keep.
	Generated string
}

// generatePassword answers the form's "generate" action, if that is what
// was posted: the page again with a password the server made filled in.
func (p *Pages) generatePassword(w http.ResponseWriter, r *http.Request, page string, form web.Form) bool {
	if r.PostFormValue(fieldAction) != "generate" {
		return false
	}
	pw := password.Generate()
	form.Values[fieldPassword], form.Values[fieldPasswordConfirm] = pw, pw
	form.Page = passwordPage{Generated: pw}
	p.Pages.FormPage(w, r, http.StatusOK, page, form)
	return true
}

// newPassword checks the posted password and its confirmation against the
// policy (personal: what the password must not contain), hashes it, and
// takes the step's state entry under key, so that of two submissions only
// one goes on (gone: the error when it was taken or has expired). It
// returns the hash, or renders page (or the error) and returns false.
func (p *Pages) newPassword(w http.ResponseWriter, r *http.Request, page string, form web.Form, personal password.Personal, key string, gone error) (string, bool) {
	ctx := r.Context()
	pw, confirm := r.PostFormValue(fieldPassword), r.PostFormValue(fieldPasswordConfirm)
	errs := map[string]web.Msg{}
	var pe *password.PolicyError
	switch err := password.CheckNew(pw, personal); {
	case pw == "":
		errs[fieldPassword] = web.M("register.password_required")
	case errors.As(err, &pe) && web.HasMessage("password."+string(pe.Reason)):
		errs[fieldPassword] = web.M("password." + string(pe.Reason))
	case err != nil:
		errs[fieldPassword] = web.M("register.password_weak")
	case confirm != pw:
		errs[fieldPasswordConfirm] = web.M("register.password_mismatch")
	}
	if len(errs) > 0 {
		// A typed password is never sent back in a page.
		form.Errors = errs
		p.Pages.FormPage(w, r, http.StatusBadRequest, page, form)
		return "", false
	}
	hash, err := p.Passwords.Hash(ctx, pw)
	if errors.Is(err, password.ErrBusy) {
		w.Header().Set("Retry-After", "5")
		form.FormError = web.M("login.busy")
		p.Pages.FormPage(w, r, http.StatusServiceUnavailable, page, form)
		return "", false
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return "", false
	}
	if _, err := p.State.TakeEntry(ctx, key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = gone
		}
		p.Pages.Error(w, r, err)
		return "", false
	}
	return hash, true
}

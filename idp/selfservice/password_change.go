package selfservice

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Changing the password (/account/password), signed in: the current
// password (counted towards the account's lockout), then a new one under
// the registration's policy. Every code, access and refresh token of the
// account is revoked (also those of sessions already ended), every other
// session ends, this one stays (its services sign in again through it);
// the history records it and the confirmed contacts are told.

// fieldCurrentPassword is the current password on the change page; the
// new one is fieldPassword and fieldPasswordConfirm, as on the
// registration's and recovery's pages.
const fieldCurrentPassword = "current_password"

func (p *Pages) passwordChangeForm(w http.ResponseWriter, r *http.Request, sid string) web.Form {
	return web.Form{
		Action: "/account/password",
		CSRF:   p.CSRF.Token(w, r, "password:"+sid),
		Order:  []string{fieldCurrentPassword, fieldPassword, fieldPasswordConfirm},
		Values: map[string]string{},
		Page:   passwordPage{},
	}
}

func (p *Pages) handlePasswordChangePage(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/password")
	if s == nil {
		return
	}
	form := p.passwordChangeForm(w, r, s.ID)
	if a.PasswordHash == "" {
		form.FormError = web.M("password_change.none")
	}
	p.Pages.FormPage(w, r, http.StatusOK, "password_change", form)
}

func (p *Pages) handlePasswordChange(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/password")
	if a == nil || !p.checkCSRF(w, r, "password:"+s.ID) {
		return
	}
	ctx := r.Context()
	form := p.passwordChangeForm(w, r, s.ID)
	if p.generatePassword(w, r, "password_change", form) {
		return
	}
	current, pw := r.PostFormValue(fieldCurrentPassword), r.PostFormValue(fieldPassword)
	if current == "" {
		form.Errors = map[string]web.Msg{fieldCurrentPassword: passwordRequired(a)}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "password_change", form)
		return
	}
	if !p.passwordAgainIn(w, r, a, current, fieldCurrentPassword, "password_change", &form) {
		return
	}
	if pw == current {
		form.Errors = map[string]web.Msg{fieldPassword: web.M("password_change.same")}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "password_change", form)
		return
	}
	personal := password.Personal{Names: []string{a.LastName, a.FirstName, a.MiddleName}, Phone: a.Phone, Email: a.Email}
	hash, ok := p.checkNewPassword(w, r, "password_change", form, personal)
	if !ok {
		return
	}
	_, err := p.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		u.PasswordHash, u.UpdatedAt = hash, p.now().UTC()
		return nil
	})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	// The password is changed: what a thief who knew the old one may hold
	// ends, tokens first (a session already ended leaves its refresh
	// tokens), then the other browsers' sessions. A failure is logged;
	// the password stays changed.
	if p.Revoke != nil {
		if err := p.Revoke(ctx, a.ID, ""); err != nil {
			p.logger().ErrorContext(ctx, "revoke the tokens after a password change", "err", err)
		}
	}
	all, err := p.Sessions.List(ctx, a.ID)
	if err != nil {
		p.logger().ErrorContext(ctx, "list the sessions after a password change", "err", err)
	}
	ended := 0
	for _, x := range all {
		if x.ID == s.ID {
			continue
		}
		if _, err := p.Sessions.EndByID(ctx, a.ID, x.ID); err != nil && !errors.Is(err, session.ErrNoSession) {
			p.logger().ErrorContext(ctx, "end a session after a password change", "err", err)
			continue
		}
		ended++
	}
	p.logger().InfoContext(ctx, "password changed by the citizen", "account", a.ID, "sessions_ended", ended)
	p.event(ctx, a.ID, "password.change", map[string]string{"sessions": strconv.Itoa(ended)})
	p.tellContacts(r, a, "password_change.subject", "password_change.text")
	http.Redirect(w, r, "/account/security?done=password", http.StatusSeeOther)
}

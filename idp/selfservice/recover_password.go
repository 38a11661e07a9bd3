package selfservice

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The last step: the new password, and what follows a reset.

// recoverDonePage is what the page after a reset shows: where to log in.
type recoverDonePage struct {
	LoginURL   string
	ClientName string
}

func (p *Pages) recoverPasswordForm(w http.ResponseWriter, r *http.Request, rc *recovery) web.Form {
	return web.Form{
		CSRF:   p.CSRF.Token(w, r, recoverCSRF(rc.ID)),
		Hidden: []web.Hidden{{Name: fieldRec, Value: rc.ID}},
		Order:  []string{fieldPassword, fieldPasswordConfirm},
		Values: map[string]string{},
		Page:   passwordPage{},
	}
}

// passwordStep loads a recovery whose code and second factor are done, or
// ends it and sends the citizen back to the start.
func (p *Pages) passwordStep(w http.ResponseWriter, r *http.Request) *recovery {
	rc := p.loadRecovery(w, r)
	if rc == nil {
		return nil
	}
	if !rc.CodeDone || !rc.FactorDone || rc.AccountID == "" {
		p.outOfOrder(w, r, rc)
		return nil
	}
	return rc
}

func (p *Pages) handleRecoverPasswordPage(w http.ResponseWriter, r *http.Request) {
	rc := p.passwordStep(w, r)
	if rc == nil {
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "recover_password", p.recoverPasswordForm(w, r, rc))
}

func (p *Pages) handleRecoverPassword(w http.ResponseWriter, r *http.Request) {
	rc := p.passwordStep(w, r)
	if rc == nil || !p.checkCSRF(w, r, recoverCSRF(rc.ID)) {
		return
	}
	ctx := r.Context()
	form := p.recoverPasswordForm(w, r, rc)
	if p.generatePassword(w, r, "recover_password", form) {
		return
	}
	a, err := p.Accounts.GetAccount(ctx, rc.AccountID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errRecoverGone
		}
		p.Pages.Error(w, r, err)
		return
	}
	personal := password.Personal{Names: []string{a.LastName, a.FirstName, a.MiddleName}, Phone: a.Phone, Email: a.Email}
	// The recovery is used once.
	hash, ok := p.newPassword(w, r, "recover_password", form, personal, recoverKey(rc.ID), errRecoverGone)
	if !ok {
		return
	}
	// From here on the reset completes whatever the client does.
	ctx = context.WithoutCancel(ctx)
	now := p.now().UTC()
	a, err = p.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		u.PasswordHash = hash
		u.UpdatedAt = now
		return nil
	})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "password reset by recovery", "account", a.ID)
	if err := p.afterReset(ctx, r, a); err != nil {
		// The password is changed; what follows failed in part (a store
		// down): the page says so rather than claim that all is done.
		p.logger().ErrorContext(ctx, "after a password reset", "account", a.ID, "err", err)
		p.Pages.Error(w, r, err)
		return
	}
	page := recoverDonePage{LoginURL: "/account"}
	if rc.Flow != "" {
		if name, ok := p.Login.FlowClient(r, rc.Flow); ok {
			page.LoginURL, page.ClientName = "/login?flow="+url.QueryEscape(rc.Flow), name
		}
	}
	p.Pages.FormPage(w, r, http.StatusOK, "recover_done", web.Form{Page: page})
}

// afterReset ends what the old password let in and tells the citizen: every
// session of the account ends (its clients are told by back-channel
// logout), its refresh and access tokens are revoked, its lockouts are
// lifted, every confirmed contact hears of the reset, and the event goes
// into the account's history. The first failure is returned after every
// step was tried.
func (p *Pages) afterReset(ctx context.Context, r *http.Request, a *store.Account) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	sessions, err := p.Sessions.List(ctx, a.ID)
	keep(err)
	for _, s := range sessions {
		if _, err := p.Sessions.EndByID(ctx, a.ID, s.ID); err != nil && !errors.Is(err, session.ErrNoSession) {
			keep(err)
		}
	}
	if p.Revoke != nil {
		keep(p.Revoke(ctx, a.ID, ""))
	}
	keep(p.Limiter.UnlockAccount(ctx, a.ID))
	lang := p.Pages.Lang(r)
	for _, m := range notify.ToContacts(a, p.Pages.T(lang, "recover.reset_sms"), p.Pages.T(lang, "recover.reset_subject"), p.Pages.T(lang, "recover.reset_email")) {
		p.notify(ctx, m)
	}
	p.event(ctx, a.ID, "recovery", map[string]string{"sessions": strconv.Itoa(len(sessions))})
	return first
}

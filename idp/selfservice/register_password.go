package selfservice

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The third step: the password.

func (p *Pages) passwordForm(w http.ResponseWriter, r *http.Request, g *registration) web.Form {
	return web.Form{
		CSRF:   p.CSRF.Token(w, r, regCSRF(g.ID)),
		Hidden: []web.Hidden{{Name: fieldReg, Value: g.ID}},
		Order:  []string{fieldPassword, fieldPasswordConfirm},
		Values: map[string]string{},
		Page:   passwordPage{},
	}
}

// confirmedReg loads a registration whose code was confirmed, or sends the
// browser back to the code step.
func (p *Pages) confirmedReg(w http.ResponseWriter, r *http.Request) *registration {
	g := p.loadReg(w, r)
	if g == nil {
		return nil
	}
	if !g.Confirmed {
		http.Redirect(w, r, "/register/code?reg="+url.QueryEscape(g.ID), http.StatusSeeOther)
		return nil
	}
	return g
}

func (p *Pages) handlePasswordPage(w http.ResponseWriter, r *http.Request) {
	g := p.confirmedReg(w, r)
	if g == nil {
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "register_password", p.passwordForm(w, r, g))
}

func (p *Pages) handlePassword(w http.ResponseWriter, r *http.Request) {
	g := p.confirmedReg(w, r)
	if g == nil || !p.checkCSRF(w, r, regCSRF(g.ID)) {
		return
	}
	ctx := r.Context()
	form := p.passwordForm(w, r, g)
	if p.generatePassword(w, r, "register_password", form) {
		return
	}
	personal := password.Personal{Names: []string{g.LastName, g.FirstName, g.MiddleName}}
	if g.Kind == store.IdentifierPhone {
		personal.Phone = g.Identifier
	} else {
		personal.Email = g.Identifier
	}
	// The registration is used once.
	hash, ok := p.newPassword(w, r, "register_password", form, personal, regKey(g.ID), errRegGone)
	if !ok {
		return
	}
	now := p.now().UTC()
	acct := &store.Account{
		ID:           p.NewID(),
		Level:        store.LevelSimplified,
		LastName:     g.LastName,
		FirstName:    g.FirstName,
		MiddleName:   g.MiddleName,
		PasswordHash: hash,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	amr := "otp"
	switch g.Kind {
	case store.IdentifierPhone:
		acct.Phone, acct.PhoneVerified, amr = g.Identifier, true, "sms"
	case store.IdentifierEmail:
		acct.Email, acct.EmailVerified = g.Identifier, true
	default:
		p.Pages.Error(w, r, fmt.Errorf("registration of kind %q", g.Kind))
		return
	}
	// The store keeps identifiers unique: of two registrations racing for
	// one phone or e-mail, one account is made and the other is told that
	// it exists.
	if err := p.Accounts.CreateAccount(ctx, acct); errors.Is(err, store.ErrConflict) {
		p.exists(w, r, g)
		return
	} else if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "account registered", "account", acct.ID, "kind", string(g.Kind))
	p.event(ctx, acct.ID, "account.create", map[string]string{"contact": string(g.Kind)})

	// Logged in: a new session, proven by the code, and a new CSRF cookie.
	sso, err := p.Sessions.Start(w, r, acct.ID, []string{amr})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	browser := p.CSRF.Rotate(w)
	if g.Flow != "" && p.Login.Continue(w, r, g.Flow, sso, browser) {
		return
	}
	http.Redirect(w, r, "/account?registered=1", http.StatusSeeOther)
}

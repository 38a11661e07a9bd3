package selfservice

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The second step: the code.

// codePage is what /register/code shows besides the form.
type codePage struct {
	Recipient string // masked
	Phone     bool
	ChangeURL string
	// ResendAt is when a new code may be asked for (HH:MM Moscow time),
	// empty when it may be now.
	ResendIn string
}

func (p *Pages) codeForm(w http.ResponseWriter, r *http.Request, g *registration) web.Form {
	page := codePage{Recipient: mask(g.Kind, g.Identifier), Phone: g.Kind == store.IdentifierPhone, ChangeURL: "/register"}
	if g.Flow != "" {
		page.ChangeURL += "?flow=" + url.QueryEscape(g.Flow)
	}
	page.ResendIn = p.resendIn(p.Codes.NextSend(r.Context(), codes.PurposeRegister, g.ID))
	return web.Form{
		CSRF:   p.CSRF.Token(w, r, regCSRF(g.ID)),
		Hidden: []web.Hidden{{Name: fieldReg, Value: g.ID}},
		Order:  []string{fieldCode},
		Values: map[string]string{},
		Page:   page,
	}
}

func (p *Pages) handleCodePage(w http.ResponseWriter, r *http.Request) {
	g := p.loadReg(w, r)
	if g == nil {
		return
	}
	if g.Confirmed {
		http.Redirect(w, r, "/register/password?reg="+url.QueryEscape(g.ID), http.StatusSeeOther)
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "register_code", p.codeForm(w, r, g))
}

func (p *Pages) handleCode(w http.ResponseWriter, r *http.Request) {
	g := p.loadReg(w, r)
	if g == nil || !p.checkCSRF(w, r, regCSRF(g.ID)) {
		return
	}
	ctx := r.Context()
	if g.Confirmed {
		http.Redirect(w, r, "/register/password?reg="+url.QueryEscape(g.ID), http.StatusSeeOther)
		return
	}
	if r.PostFormValue(fieldAction) == "resend" {
		err := p.sendCode(ctx, r, g)
		form := p.codeForm(w, r, g)
		if err != nil {
			p.notSent(w, r, "register_code", form, err)
			return
		}
		form.Notice = web.M("register.code_resent")
		p.Pages.FormPage(w, r, http.StatusOK, "register_code", form)
		return
	}

	code := r.PostFormValue(fieldCode)
	form := p.codeForm(w, r, g)
	if code == "" {
		form.Errors = map[string]web.Msg{fieldCode: web.M("register.code_required")}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "register_code", form)
		return
	}
	err := p.Codes.Check(ctx, codes.PurposeRegister, g.ID, code)
	var wrong *codes.WrongError
	switch {
	case errors.As(err, &wrong):
		form.Errors = map[string]web.Msg{fieldCode: web.M("register.code_wrong", wrong.Left)}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "register_code", form)
		return
	case errors.Is(err, codes.ErrExpired):
		form.Errors = map[string]web.Msg{fieldCode: web.M("register.code_expired")}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "register_code", form)
		return
	case err != nil:
		p.Pages.Error(w, r, err)
		return
	}

	// The identifier is the citizen's: only now may the page say that an
	// account holds it.
	if _, err := p.Accounts.FindAccount(ctx, g.Kind, g.Identifier); err == nil {
		p.dropReg(ctx, g)
		p.exists(w, r, g)
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		p.Pages.Error(w, r, err)
		return
	}
	g.Confirmed = true
	if err := p.saveReg(ctx, g); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/register/password?reg="+url.QueryEscape(g.ID), http.StatusSeeOther)
}

func (p *Pages) dropReg(ctx context.Context, g *registration) {
	if err := p.State.DeleteEntry(context.WithoutCancel(ctx), regKey(g.ID)); err != nil {
		p.logger().WarnContext(ctx, "delete a registration", "err", err)
	}
}

// existsPage is what the "account exists" page shows.
type existsPage struct {
	Recipient, LoginURL string
}

// exists says that an account holds the confirmed identifier, and offers
// to log in.
func (p *Pages) exists(w http.ResponseWriter, r *http.Request, g *registration) {
	page := existsPage{Recipient: mask(g.Kind, g.Identifier), LoginURL: "/account"}
	if g.Flow != "" {
		if _, ok := p.Login.FlowClient(r, g.Flow); ok {
			page.LoginURL = "/login?flow=" + url.QueryEscape(g.Flow)
		}
	}
	p.Pages.FormPage(w, r, http.StatusConflict, "register_exists", web.Form{Page: page})
}

package selfservice

import (
	"context"
	"errors"
	"net/http"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The third step: the account's second factor, when it has one.

// recoverFactorPage is what /recover/factor shows besides the form.
type recoverFactorPage struct {
	// Factor is the factor asked ("totp", "sms", "email", "backup").
	Factor string
	// Recipient is where a sending factor's code went (masked): the
	// citizen has proven a contact already, and the account is known.
	Recipient string
	ResendIn  string
	// Others are the other factors the citizen may use instead.
	Others []string
}

func (p *Pages) recoverFactorForm(w http.ResponseWriter, r *http.Request, a *store.Account, rc *recovery, asked []factors.Factor) web.Form {
	page := recoverFactorPage{Factor: rc.Factor}
	for _, f := range asked {
		if f.Name() != rc.Factor {
			page.Others = append(page.Others, f.Name())
		}
	}
	if s, ok := p.Factors.Get(rc.Factor).(factors.Sender); ok {
		switch rc.Factor {
		case store.CodeChannelSMS:
			page.Recipient = mask(store.IdentifierPhone, a.Phone)
		case store.CodeChannelEmail:
			page.Recipient = mask(store.IdentifierEmail, a.Email)
		}
		page.ResendIn = p.resendIn(s.NextSend(r.Context(), a, rc.ID))
	}
	return web.Form{
		CSRF:   p.CSRF.Token(w, r, recoverCSRF(rc.ID)),
		Hidden: []web.Hidden{{Name: fieldRec, Value: rc.ID}},
		Order:  []string{fieldCode},
		Values: map[string]string{},
		Page:   page,
	}
}

// factorStep loads a recovery at the factor step with its account and the
// factors it may ask (the chosen one among them), or renders what to do
// instead and returns nil.
func (p *Pages) factorStep(w http.ResponseWriter, r *http.Request) (*recovery, *store.Account, []factors.Factor) {
	rc := p.loadRecovery(w, r)
	if rc == nil {
		return nil, nil, nil
	}
	if !rc.CodeDone || rc.AccountID == "" {
		p.outOfOrder(w, r, rc)
		return nil, nil, nil
	}
	if rc.FactorDone {
		http.Redirect(w, r, recoverNext(rc), http.StatusSeeOther)
		return nil, nil, nil
	}
	a, err := p.Accounts.GetAccount(r.Context(), rc.AccountID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errRecoverGone
		}
		p.Pages.Error(w, r, err)
		return nil, nil, nil
	}
	asked, _ := p.recoveryFactors(a, rc)
	if len(asked) == 0 {
		// The factors changed meanwhile: the recovery starts again rather
		// than skip one.
		p.outOfOrder(w, r, rc)
		return nil, nil, nil
	}
	if !hasFactor(asked, rc.Factor) {
		rc.Factor = asked[0].Name()
	}
	return rc, a, asked
}

func hasFactor(fs []factors.Factor, name string) bool {
	for _, f := range fs {
		if f.Name() == name {
			return true
		}
	}
	return false
}

func (p *Pages) handleRecoverFactorPage(w http.ResponseWriter, r *http.Request) {
	rc, a, asked := p.factorStep(w, r)
	if rc == nil {
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "recover_factor", p.recoverFactorForm(w, r, a, rc, asked))
}

func (p *Pages) handleRecoverFactor(w http.ResponseWriter, r *http.Request) {
	rc, a, asked := p.factorStep(w, r)
	if rc == nil || !p.checkCSRF(w, r, recoverCSRF(rc.ID)) {
		return
	}
	ctx := r.Context()
	switch r.PostFormValue(fieldAction) {
	case "choose":
		name := r.PostFormValue(fieldFactor)
		if !hasFactor(asked, name) {
			p.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.bad_request"})
			return
		}
		rc.Factor = name
		form := p.recoverFactorForm(w, r, a, rc, asked)
		if rc.Sent != name {
			if err := p.sendFactorCode(ctx, r, a, rc, p.Factors.Get(name)); err != nil {
				if errors.As(err, new(*codes.LimitError)) {
					// The choice is kept even when no code may be sent yet.
					if serr := p.saveRecovery(ctx, rc); serr != nil {
						err = serr
					}
				}
				p.notSent(w, r, "recover_factor", form, err)
				return
			}
		}
		if err := p.saveRecovery(ctx, rc); err != nil {
			p.Pages.Error(w, r, err)
			return
		}
		http.Redirect(w, r, recoverNext(rc), http.StatusSeeOther)
		return
	case "resend":
		form := p.recoverFactorForm(w, r, a, rc, asked)
		if _, ok := p.Factors.Get(rc.Factor).(factors.Sender); !ok {
			p.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.bad_request"})
			return
		}
		rc.Sent = ""
		if err := p.sendFactorCode(ctx, r, a, rc, p.Factors.Get(rc.Factor)); err != nil {
			p.notSent(w, r, "recover_factor", form, err)
			return
		}
		if err := p.saveRecovery(ctx, rc); err != nil {
			p.Pages.Error(w, r, err)
			return
		}
		form = p.recoverFactorForm(w, r, a, rc, asked)
		form.Notice = web.M("recover.code_resent")
		p.Pages.FormPage(w, r, http.StatusOK, "recover_factor", form)
		return
	}

	form := p.recoverFactorForm(w, r, a, rc, asked)
	code := r.PostFormValue(fieldCode)
	if code == "" {
		form.Errors = map[string]web.Msg{fieldCode: web.M("register.code_required")}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "recover_factor", form)
		return
	}
	checker, _ := p.Factors.Get(rc.Factor).(factors.Checker)
	if checker == nil {
		p.Pages.Error(w, r, errRecoverGone)
		return
	}
	chk, vctx := p.beginCheck(w, r, p.Limiter.Factor(a.ID), aCode, "recover_factor", form)
	if chk == nil {
		return
	}
	defer chk.Close()
	err := checker.Check(vctx, a, rc.ID, code)
	switch {
	case errors.Is(err, factors.ErrMalformed):
		form.Errors = map[string]web.Msg{fieldCode: web.M("recover.factor_malformed_" + rc.Factor)}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "recover_factor", form)
		return
	case errors.Is(err, factors.ErrWrong), errors.Is(err, factors.ErrExpired):
		d, ok := p.failCheck(w, r, chk, aCode, "recover_factor", form)
		if !ok {
			return
		}
		key := "recover.factor_wrong"
		if errors.Is(err, factors.ErrExpired) {
			key = "recover.code_expired"
		}
		form.Errors = map[string]web.Msg{fieldCode: web.M(key, d.Remaining)}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "recover_factor", form)
		return
	case err != nil:
		if errors.Is(err, factors.ErrNotEnrolled) {
			err = errRecoverGone
		}
		p.Pages.Error(w, r, err)
		return
	}
	if err := chk.Succeed(); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	rc.FactorDone = true
	if err := p.saveRecovery(vctx, rc); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	http.Redirect(w, r, recoverNext(rc), http.StatusSeeOther)
}

// sendFactorCode issues and sends the code of a sending factor for the
// recovery (bound to its id) and records it sent; other factors send
// nothing. A send limit is a *codes.LimitError.
func (p *Pages) sendFactorCode(ctx context.Context, r *http.Request, a *store.Account, rc *recovery, f factors.Factor) error {
	s, ok := f.(factors.Sender)
	if !ok {
		return nil
	}
	code, to, err := s.Issue(ctx, a, rc.ID, p.ClientIP(r))
	if err != nil {
		return err
	}
	lang := p.Pages.Lang(r)
	m := notify.Message{To: to.To, Code: code, Body: p.Pages.T(lang, "recover.factor_code_text", code), Channel: notify.SMS}
	if to.Channel == store.CodeChannelEmail {
		m.Channel, m.Subject = notify.Email, p.Pages.T(lang, "recover.factor_code_subject")
	}
	p.notify(ctx, m)
	rc.Sent = f.Name()
	return nil
}

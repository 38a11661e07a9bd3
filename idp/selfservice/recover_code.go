package selfservice

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The second step: the code sent to a confirmed contact.

// recoverCodePage is what /recover/code shows besides the form: never
// where the code went, which would tell that an account exists.
type recoverCodePage struct {
	// ResendIn is in how many seconds a new code may be asked for; empty
	// when it may be now.
	ResendIn string
	StartURL string
}

func (p *Pages) recoverCodeForm(w http.ResponseWriter, r *http.Request, rc *recovery) web.Form {
	page := recoverCodePage{StartURL: startURL(rc.Flow)}
	page.ResendIn = p.resendIn(p.Codes.NextSend(r.Context(), codes.PurposeRecover, rc.ID))
	return web.Form{
		CSRF:   p.CSRF.Token(w, r, recoverCSRF(rc.ID)),
		Hidden: []web.Hidden{{Name: fieldRec, Value: rc.ID}},
		Order:  []string{fieldCode},
		Values: map[string]string{},
		Page:   page,
	}
}

// recoverNext is the page after the steps done so far.
func recoverNext(rc *recovery) string {
	switch {
	case !rc.CodeDone:
		return "/recover/code?rec=" + url.QueryEscape(rc.ID)
	case !rc.FactorDone:
		return "/recover/factor?rec=" + url.QueryEscape(rc.ID)
	}
	return "/recover/password?rec=" + url.QueryEscape(rc.ID)
}

func (p *Pages) handleRecoverCodePage(w http.ResponseWriter, r *http.Request) {
	rc := p.loadRecovery(w, r)
	if rc == nil {
		return
	}
	if rc.CodeDone {
		http.Redirect(w, r, recoverNext(rc), http.StatusSeeOther)
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "recover_code", p.recoverCodeForm(w, r, rc))
}

func (p *Pages) handleRecoverCode(w http.ResponseWriter, r *http.Request) {
	rc := p.loadRecovery(w, r)
	if rc == nil || !p.checkCSRF(w, r, recoverCSRF(rc.ID)) {
		return
	}
	ctx := r.Context()
	if rc.CodeDone {
		http.Redirect(w, r, recoverNext(rc), http.StatusSeeOther)
		return
	}
	form := p.recoverCodeForm(w, r, rc)
	if r.PostFormValue(fieldAction) == "resend" {
		if err := p.sendRecoveryCode(ctx, r, rc); err != nil {
			p.notSent(w, r, "recover_code", form, err)
			return
		}
		form = p.recoverCodeForm(w, r, rc)
		form.Notice = web.M("recover.code_resent")
		p.Pages.FormPage(w, r, http.StatusOK, "recover_code", form)
		return
	}
	code, err := codes.ParseCode(r.PostFormValue(fieldCode))
	if err != nil {
		// An empty or malformed code costs no try.
		key := "register.code_required"
		if r.PostFormValue(fieldCode) != "" {
			key = "recover.code_malformed"
		}
		form.Errors = map[string]web.Msg{fieldCode: web.M(key)}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "recover_code", form)
		return
	}

	// Counted towards the recovery's subject, one check at a time across
	// replicas, whatever the client does once it is begun.
	chk, vctx := p.beginCheck(w, r, p.Limiter.Recovery(rc.Subject), aCode, "recover_code", form)
	if chk == nil {
		return
	}
	defer chk.Close()
	err = p.Codes.Check(vctx, codes.PurposeRecover, rc.ID, code)
	var wrong *codes.WrongError
	switch {
	case errors.As(err, &wrong), errors.Is(err, codes.ErrExpired):
		d, ok := p.failCheck(w, r, chk, aCode, "recover_code", form)
		if !ok {
			return
		}
		msg := web.M("recover.code_expired")
		if wrong != nil {
			msg = web.M("register.code_wrong", min(wrong.Left, d.Remaining))
		}
		form.Errors = map[string]web.Msg{fieldCode: msg}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "recover_code", form)
		return
	case err != nil:
		p.Pages.Error(w, r, err)
		return
	}
	if err := chk.Succeed(); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	if rc.AccountID == "" {
		// No code was sent: a right one was guessed. Nothing to recover.
		p.dropRecovery(ctx, rc)
		p.Pages.Error(w, r, errRecoverGone)
		return
	}
	acct, err := p.Accounts.GetAccount(vctx, rc.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		p.dropRecovery(ctx, rc)
		p.Pages.Error(w, r, errRecoverGone)
		return
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	rc.CodeDone = true
	asked, enrolled := p.recoveryFactors(acct, rc)
	// No second factor, or only the one the code just proved: done.
	rc.FactorDone = !enrolled || len(asked) == 0
	if !rc.FactorDone {
		rc.Factor = asked[0].Name()
		// A send limit is no error here: the factor page offers a resend.
		if err := p.sendFactorCode(vctx, r, acct, rc, asked[0]); err != nil && !errors.As(err, new(*codes.LimitError)) {
			p.Pages.Error(w, r, err)
			return
		}
	}
	if err := p.saveRecovery(vctx, rc); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	http.Redirect(w, r, recoverNext(rc), http.StatusSeeOther)
}

// recoveryFactors returns the account's second factors that the recovery
// may ask, in the order of preference, and whether it has any at all: a
// factor that sends its code by the channel the recovery's code went to
// proves nothing more, and is left out.
func (p *Pages) recoveryFactors(a *store.Account, rc *recovery) (asked []factors.Factor, enrolled bool) {
	if p.Factors == nil {
		return nil, false
	}
	all := p.Factors.Enrolled(a)
	for _, f := range all {
		if f.Kind() == factors.KindSender && f.Name() == rc.Channel {
			continue
		}
		if _, ok := f.(factors.Checker); !ok {
			continue
		}
		asked = append(asked, f)
	}
	return asked, len(all) > 0
}

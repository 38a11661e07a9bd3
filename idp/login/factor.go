package login

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The second-factor step: after the password (or on a session that proved
// only a password), the citizen proves one of the account's second factors
// (factors.Registry, in its order of preference: the app, a code by SMS or
// e-mail, a backup code). Wrong codes count against the account's factor
// subject (factors/lockout), apart from its passwords, one check at a time
// across replicas. A citizen without a second factor, facing a request
// that needs one, is offered to enrol one and continue.

// wantsSecondFactor reports whether the flow's login needs a second
// factor: the request does (client or acr values), or the account asks
// for one at every login.
func (l *Login) wantsSecondFactor(f *Flow, acct *store.Account) bool {
	if l.Factors == nil {
		return false
	}
	return f.Needs.MFA || (acct.Factors != nil && acct.Factors.Required && acct.Factors.Any())
}

// FactorPage is what the second-factor page shows.
type FactorPage struct {
	ClientName string
	// Factor is the factor asked ("totp", "sms", "email", "backup"); To the
	// masked contact a code went to.
	Factor string
	To     string
	Sender bool
	// Others are the account's other factors, each with the URL that asks
	// it instead.
	Others []FactorChoice
	// Enrol: the account has no second factor; the page offers to set one
	// up (EnrolURL: the app; SecurityURL: the other ways) and continue.
	Enrol                 bool
	EnrolURL, SecurityURL string
	CancelURL             string
}

// FactorChoice is another factor the page offers.
type FactorChoice struct{ Name, URL string }

// factorPath is the step's page for the flow, asking the named factor
// (empty: the preferred one).
func factorPath(f *Flow, name string) string {
	p := "/login/factor?flow=" + url.QueryEscape(f.ID)
	if name != "" {
		p += "&factor=" + url.QueryEscape(name)
	}
	return p
}

// factorStep loads what both handlers need: the signed-in flow, its
// account, and the factor asked. It writes the response and returns ok
// false when the step cannot be shown.
func (l *Login) factorStep(w http.ResponseWriter, r *http.Request) (f *Flow, acct *store.Account, sso *session.Session, chosen factors.Factor, enrolled []factors.Factor, ok bool) {
	f = l.flowFromRequest(w, r)
	if f == nil || (r.Method == http.MethodPost && !l.checkCSRF(w, r, f.ID)) {
		return
	}
	sso = l.currentSession(r)
	if f.AccountID == "" || sso == nil || sso.ID != f.SID {
		http.Redirect(w, r, "/login?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return
	}
	acct, err := l.Accounts.GetAccount(r.Context(), f.AccountID)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if l.Factors == nil {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "error.flow_expired"})
		return
	}
	enrolled = l.Factors.Enrolled(acct)
	name := r.FormValue("factor")
	for _, fa := range enrolled {
		if fa.Name() == name {
			chosen = fa
		}
	}
	if chosen == nil && len(enrolled) > 0 {
		chosen = enrolled[0]
	}
	return f, acct, sso, chosen, enrolled, true
}

func (l *Login) handleFactorPage(w http.ResponseWriter, r *http.Request) {
	f, acct, _, chosen, enrolled, ok := l.factorStep(w, r)
	if !ok {
		return
	}
	if f.SecondFactorDone() || !l.wantsSecondFactor(f, acct) {
		l.advance(w, r, f, nil)
		return
	}
	form := l.factorForm(w, r, f, acct, chosen, enrolled)
	if chosen == nil {
		l.Pages.FormPage(w, r, http.StatusOK, "factor_enrol", form)
		return
	}
	// A code is sent when its factor is first shown for the flow; later
	// only on request (the resend button), so that reloading the page
	// sends nothing.
	if s, isSender := chosen.(factors.Sender); isSender && f.CodeSent != chosen.Name() {
		if !l.sendFactorCode(w, r, f, acct, s, &form) {
			return
		}
		if err := l.saveFlow(r.Context(), f); err != nil {
			l.Pages.Error(w, r, err)
			return
		}
	}
	l.Pages.FormPage(w, r, http.StatusOK, "factor", form)
}

// factorForm builds the page of the chosen factor (nil: the enrolment
// offer).
func (l *Login) factorForm(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account, chosen factors.Factor, enrolled []factors.Factor) web.Form {
	q := "?flow=" + url.QueryEscape(f.ID)
	page := FactorPage{ClientName: l.clientName(r, f.ClientID), CancelURL: "/authorize/cancel" + q}
	if f.Local() {
		page.CancelURL = "/logout"
	}
	form := web.Form{
		Action: "/login/factor",
		CSRF:   l.CSRF.Token(w, r, f.ID),
		Hidden: []web.Hidden{{Name: "flow", Value: f.ID}},
		Order:  []string{"code"},
		Page:   &page,
	}
	if chosen == nil {
		page.Enrol = true
		page.EnrolURL = "/account/security/totp" + q
		page.SecurityURL = "/account/security" + q
		return form
	}
	page.Factor = chosen.Name()
	form.Hidden = append(form.Hidden, web.Hidden{Name: "factor", Value: chosen.Name()})
	if _, ok := chosen.(factors.Sender); ok {
		page.Sender = true
		switch chosen.Name() {
		case store.CodeChannelSMS:
			page.To = identifier.Mask(store.IdentifierPhone, acct.Phone)
		case store.CodeChannelEmail:
			page.To = identifier.Mask(store.IdentifierEmail, acct.Email)
		}
	}
	for _, o := range enrolled {
		if o.Name() != chosen.Name() {
			page.Others = append(page.Others, FactorChoice{Name: o.Name(), URL: factorPath(f, o.Name())})
		}
	}
	return form
}

// sendFactorCode issues the chosen factor's code for the flow and sends it
// in the page's language. On a send limit it renders the page with the
// error and returns false.
func (l *Login) sendFactorCode(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account, s factors.Sender, form *web.Form) bool {
	ctx := r.Context()
	code, to, err := s.Issue(ctx, acct, f.ID, l.ClientIP(r))
	var le *codes.LimitError
	if errors.As(err, &le) {
		form.FormError = web.M("factor.send_limited")
		form.RetryAfter = le.RetryAt
		if sec := int(le.RetryAt.Sub(l.now()).Seconds()); sec > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(sec))
		}
		l.Pages.FormPage(w, r, http.StatusTooManyRequests, "factor", *form)
		return false
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return false
	}
	lang := l.Pages.Lang(r)
	m := notify.Message{To: to.To, Code: code, Channel: notify.SMS, Body: l.Pages.T(lang, "factor.code_text", code)}
	if to.Channel == store.CodeChannelEmail {
		m.Channel, m.Subject = notify.Email, l.Pages.T(lang, "factor.code_subject")
	}
	if l.Notify != nil {
		l.Notify(ctx, m)
	}
	f.CodeSent = s.Name()
	form.Notice = web.M("factor.code_sent")
	return true
}

// handleFactor checks the code typed for the chosen factor, or sends a new
// code (action=resend).
func (l *Login) handleFactor(w http.ResponseWriter, r *http.Request) {
	f, acct, sso, chosen, enrolled, ok := l.factorStep(w, r)
	if !ok {
		return
	}
	if chosen == nil || chosen.Name() != r.PostFormValue("factor") {
		// The factor went away meanwhile: show the page again.
		http.Redirect(w, r, factorPath(f, ""), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	form := l.factorForm(w, r, f, acct, chosen, enrolled)
	if r.PostFormValue("action") == "resend" {
		s, isSender := chosen.(factors.Sender)
		if !isSender {
			http.Redirect(w, r, factorPath(f, chosen.Name()), http.StatusSeeOther)
			return
		}
		if next := s.NextSend(ctx, acct, f.ID); next.After(l.now()) {
			form.FormError = web.M("factor.resend_wait")
			form.RetryAfter = next
			l.Pages.FormPage(w, r, http.StatusTooManyRequests, "factor", form)
			return
		}
		if !l.sendFactorCode(w, r, f, acct, s, &form) {
			return
		}
		if err := l.saveFlow(ctx, f); err != nil {
			l.Pages.Error(w, r, err)
			return
		}
		l.Pages.FormPage(w, r, http.StatusOK, "factor", form)
		return
	}
	code := r.PostFormValue("code")
	if code == "" {
		form.Errors = map[string]web.Msg{"code": web.M("factor.code_required")}
		l.Pages.FormPage(w, r, http.StatusBadRequest, "factor", form)
		return
	}
	checker, _ := chosen.(factors.Checker)
	if checker == nil {
		l.Pages.Error(w, r, errors.New("login: a factor that checks nothing"))
		return
	}

	// Counted like a password: one check per account at a time across
	// replicas, against the account's factor subject and the address.
	chk, d, err := l.guard().Begin(ctx, l.Limiter.Factor(acct.ID), l.ClientIP(r))
	if errors.Is(err, lockout.ErrBusy) {
		w.Header().Set("Retry-After", "1")
		form.FormError = web.M("login.busy")
		l.Pages.FormPage(w, r, http.StatusTooManyRequests, "factor", form)
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if chk == nil {
		l.factorLocked(w, r, form, d)
		return
	}
	defer chk.Close()
	vctx := chk.Context()
	err = checker.Check(vctx, acct, f.ID, code)
	switch {
	case err == nil:
	case errors.Is(err, factors.ErrMalformed), errors.Is(err, factors.ErrExpired), errors.Is(err, factors.ErrNotEnrolled):
		// Not a guess at the code: nothing is counted (Close abandons it).
		switch {
		case errors.Is(err, factors.ErrMalformed):
			form.Errors = map[string]web.Msg{"code": web.M("factor.code_malformed_" + chosen.Name())}
		case errors.Is(err, factors.ErrExpired):
			form.FormError = web.M("factor.code_expired")
			f.CodeSent = "" // the page sends a new one when shown again
			if err := l.saveFlow(ctx, f); err != nil {
				l.Pages.Error(w, r, err)
				return
			}
		default:
			http.Redirect(w, r, factorPath(f, ""), http.StatusSeeOther)
			return
		}
		l.Pages.FormPage(w, r, http.StatusBadRequest, "factor", form)
		return
	case errors.Is(err, factors.ErrWrong):
		d, err := chk.Fail()
		if err != nil {
			l.Pages.Error(w, r, err)
			return
		}
		l.event(vctx, acct.ID, "login.factor_failed", map[string]string{"factor": chosen.Name()})
		if d.Locked {
			l.factorLocked(w, r, form, d)
			return
		}
		form.Errors = map[string]web.Msg{"code": web.M("factor.code_wrong")}
		l.Pages.FormPage(w, r, http.StatusUnauthorized, "factor", form)
		return
	default:
		l.Pages.Error(w, r, err)
		return
	}
	if err := chk.Succeed(); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	raised, err := l.Sessions.Raise(vctx, sso, chosen.AMR())
	if errors.Is(err, session.ErrNoSession) {
		http.Redirect(w, r, "/login?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.event(vctx, acct.ID, "login.factor", map[string]string{"factor": chosen.Name(), "client": f.ClientID})
	f.Proofs = append(f.Proofs, Proof{Method: chosen.AMR(), At: raised.AuthTime})
	f.CodeSent = ""
	l.advance(w, r, f, raised)
}

// factorLocked renders the factor page saying when to try again.
func (l *Login) factorLocked(w http.ResponseWriter, r *http.Request, form web.Form, d lockout.Decision) {
	l.outcome("locked")
	form.FormError = web.M("factor.locked")
	if d.Scope == lockout.ScopeIP {
		form.FormError = web.M("login.ip_limited")
	}
	form.RetryAfter = d.RetryAt
	if s := int(d.RetryAt.Sub(l.now()).Seconds()); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	l.Pages.FormPage(w, r, http.StatusTooManyRequests, "factor", form)
}

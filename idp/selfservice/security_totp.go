package selfservice

import (
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Enrolling an authenticator app (/account/security/totp): the page makes a
// new secret and shows it as a QR code and as text (id="totp-secret", the
// otpauth:// URI in data-otpauth); the app's first code makes it the
// account's app, replacing an older one. Until then the secret waits,
// sealed, in the pages' half-way state under "totp:"+id for
// EnrolLifetime, bound to the session that asked for it. Wrong codes count
// towards the lockout of the account's second factor.

// EnrolLifetime bounds an enrolment waiting for its first code.
const EnrolLifetime = 10 * time.Minute

// totpEnrolment is an app enrolment waiting for its first code.
type totpEnrolment struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	SID       string `json:"sid"`
	Sealed    []byte `json:"sealed"`
}

func totpKey(id string) string { return "totp:" + id }

// totpPage is what the enrolment page shows besides the form.
type totpPage struct {
	// QR is the QR code as a data: URI of a PNG made here (trusted by the
	// template: html/template refuses data: URLs of unknown origin).
	QR          template.URL
	Secret, URI string
}

// totpLabel names the account in the app: its phone, else its e-mail.
func totpLabel(a *store.Account) string {
	for _, l := range []string{a.Phone, a.Email} {
		if l != "" && !strings.Contains(l, ":") {
			return l
		}
	}
	return "account"
}

// totpForm is the enrolment page of e (opened from its sealed secret).
func (p *Pages) totpForm(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, e *totpEnrolment, flow string) (web.Form, error) {
	open, err := p.TOTP.Reopen(a.ID, totpLabel(a), e.Sealed)
	if err != nil {
		return web.Form{}, err
	}
	qr, err := p.TOTP.QRDataURI(open.URI)
	if err != nil {
		return web.Form{}, err
	}
	hidden := []web.Hidden{{Name: "enrol", Value: e.ID}}
	if flow != "" {
		hidden = append(hidden, web.Hidden{Name: fieldFlow, Value: flow})
	}
	return web.Form{
		Action: "/account/security/totp",
		CSRF:   p.CSRF.Token(w, r, "security:"+s.ID),
		Hidden: hidden,
		Order:  []string{fieldCode},
		Values: map[string]string{},
		Page:   totpPage{QR: template.URL(qr), Secret: open.Secret, URI: open.URI},
	}, nil
}

// flowParam is the request's flow id when it is a valid one.
func flowParam(r *http.Request) string {
	if f := r.FormValue(fieldFlow); validFlow(f) {
		return f
	}
	return ""
}

func (p *Pages) handleTOTPPage(w http.ResponseWriter, r *http.Request) {
	flow := flowParam(r)
	back := "/account/security/totp"
	if flow != "" {
		back = "/account/security/totp?flow=" + flow
	}
	a, s := p.signedIn(w, r, back)
	if a == nil {
		return
	}
	if p.lockedOut(w, r, a, s, flow) {
		return
	}
	var e *totpEnrolment
	if r.URL.Query().Get("enrol") != "" {
		// The same enrolment again (a reload).
		if e = p.loadEnrolment(w, r, a, s); e == nil {
			return
		}
	} else {
		made, err := p.TOTP.Generate(a.ID, totpLabel(a))
		if err != nil {
			p.Pages.Error(w, r, err)
			return
		}
		e = &totpEnrolment{ID: p.NewID(), AccountID: a.ID, SID: s.ID, Sealed: made.Sealed}
		if err := p.saveState(r.Context(), totpKey(e.ID), e, EnrolLifetime); err != nil {
			p.Pages.Error(w, r, err)
			return
		}
	}
	form, err := p.totpForm(w, r, a, s, e, flow)
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "security_totp", form)
}

// loadEnrolment loads the enrolment named by the request, made by this
// session for this account.
func (p *Pages) loadEnrolment(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session) *totpEnrolment {
	gone := &web.PageError{Status: http.StatusNotFound, Key: "security.totp_expired"}
	var e totpEnrolment
	if !p.loadState(w, r, "enrol", totpKey, gone, &e, func() string { return e.ID }) {
		return nil
	}
	if e.SID != s.ID || e.AccountID != a.ID {
		p.Pages.Error(w, r, gone)
		return nil
	}
	return &e
}

func (p *Pages) handleTOTP(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/security/totp")
	if a == nil || !p.checkCSRF(w, r, "security:"+s.ID) {
		return
	}
	flow := flowParam(r)
	if p.lockedOut(w, r, a, s, flow) {
		return
	}
	e := p.loadEnrolment(w, r, a, s)
	if e == nil {
		return
	}
	form, err := p.totpForm(w, r, a, s, e, flow)
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	fail := func(status int, msg web.Msg) {
		form.Errors = map[string]web.Msg{fieldCode: msg}
		p.Pages.FormPage(w, r, status, "security_totp", form)
	}
	code := r.PostFormValue(fieldCode)
	if strings.TrimSpace(code) == "" {
		// An empty field costs no try.
		fail(http.StatusBadRequest, web.M("register.code_required"))
		return
	}
	if _, err := totp.ParseCode(code); err != nil {
		// Neither: the page says how a code looks.
		fail(http.StatusBadRequest, web.M("security.totp_malformed"))
		return
	}
	ctx := r.Context()
	// Counted towards the account's factor lockout, one check at a time.
	chk, _ := p.beginCheck(w, r, p.Limiter.Factor(a.ID), aCode, "security_totp", form)
	if chk == nil {
		return
	}
	defer chk.Close()
	err = p.TOTP.Verify(ctx, a.ID, e.Sealed, code)
	switch {
	case errors.Is(err, totp.ErrWrong), errors.Is(err, totp.ErrReplayed):
		if _, ok := p.failCheck(w, r, chk, aCode, "security_totp", form); !ok {
			return
		}
		fail(http.StatusUnprocessableEntity, web.M("security.totp_wrong"))
		return
	case err != nil:
		p.Pages.Error(w, r, err)
		return
	}
	if err := chk.Succeed(); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	if err := p.State.DeleteEntry(ctx, totpKey(e.ID)); err != nil {
		p.logger().WarnContext(ctx, "delete an app enrolment", "err", err)
	}
	now := p.now().UTC()
	_, err = p.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		if u.Factors == nil {
			u.Factors = &store.SecondFactors{}
		}
		u.Factors.TOTP = &store.TOTPFactor{Sealed: e.Sealed, EnrolledAt: now}
		u.UpdatedAt = now
		return nil
	})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "second factor added", "account", a.ID, "factor", "totp")
	p.factorsChanged(ctx, s)
	p.event(ctx, a.ID, "factor.add", map[string]string{"factor": "totp"})
	p.tellContacts(r, a, "security.added_subject", "security.added_text")
	// The code just typed proves the app in this session, as at a login:
	// the waiting login, or a change of the factors, need not ask it again.
	if _, err := p.Sessions.Raise(ctx, s, "otp"); err != nil {
		if errors.Is(err, session.ErrNoSession) {
			p.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.csrf"})
			return
		}
		p.Pages.Error(w, r, err)
		return
	}
	if flow != "" {
		http.Redirect(w, r, resumeURL(flow), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/account/security?done=totp", http.StatusSeeOther)
}

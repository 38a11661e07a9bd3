package selfservice

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/backup"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The second factors on the security page: the enrolled ones (the
// authenticator app, login codes by SMS or e-mail, backup codes), each
// with "remove"; buttons to add the others; and the policy "ask a second
// factor at every login". Forms post to /account/security with
// action=remove_factor (factor=totp|sms|email|backup), require_on,
// require_off, codes_sms, codes_email or backup_generate; the app is
// enrolled on /account/security/totp (security_totp.go).
//
// Removing a factor, turning the policy off and making a new set of backup
// codes over an old one take the password again (counted towards the
// account's lockout): a form without the field shows the password page
// first. Once the account has a factor, changing its factors takes a
// session that proved one (or the session that set them up): a stolen
// password alone neither removes the citizen's factor nor adds the
// thief's. Removing the last factor turns
// the policy off. The confirmed contacts hear of every change but turning
// the policy on.
//
// A login that needs a second factor of an account that has none sends
// the citizen here with flow=<id>; after the app's first code, or the
// choice of login codes, the browser goes back to /login/resume?flow=<id>.

// factorsView is the second-factor part of the security page.
type factorsView struct {
	// TOTPSince is the day the app was enrolled; empty without one.
	TOTPSince string
	// Codes is the channel of login codes ("sms", "email"), CodesTo the
	// masked contact; empty when off.
	Codes, CodesTo string
	// Backup: a set of backup codes has BackupLeft unused ones.
	Backup     bool
	BackupLeft int
	// Any: some factor is enrolled (the policy can be turned on).
	Any      bool
	Required bool
	// CanSMS, CanEmail: the phone or e-mail is confirmed (codes can go
	// there); HasPhone, HasEmail: it is given at all.
	CanSMS, CanEmail   bool
	HasPhone, HasEmail bool
	// Locked: this session proved no second factor, so the account's
	// factors cannot be changed from it.
	Locked bool
	// Flow is the login waiting for a factor (carried by the forms).
	Flow string
}

// factorNotices are the ?done= values of the security page.
var factorNotices = map[string]bool{
	"totp": true, "codes": true, "removed": true, "required_on": true, "required_off": true, "bank_removed": true,
	"certificate_removed": true, "password": true,
}

func (p *Pages) factorsView(ctx context.Context, a *store.Account, s *session.Session) (factorsView, error) {
	locked, err := p.factorsLocked(ctx, a, s)
	if err != nil {
		return factorsView{}, err
	}
	v := factorsView{
		CanSMS: a.PhoneVerified && a.Phone != "", CanEmail: a.EmailVerified && a.Email != "",
		HasPhone: a.Phone != "", HasEmail: a.Email != "",
		Any:    len(p.Factors.Enrolled(a)) > 0,
		Locked: locked,
	}
	f := a.Factors
	if f == nil {
		return v, nil
	}
	v.Required = f.Required
	if f.TOTP != nil {
		v.TOTPSince = f.TOTP.EnrolledAt.In(moscow).Format("02.01.2006")
	}
	if c := p.Factors.Get(f.Codes); c != nil && c.Enrolled(a) {
		v.Codes = f.Codes
		if f.Codes == store.CodeChannelSMS {
			v.CodesTo = mask(store.IdentifierPhone, a.Phone)
		} else {
			v.CodesTo = mask(store.IdentifierEmail, a.Email)
		}
	}
	if f.Backup != nil && len(f.Backup.Hashes) > 0 {
		v.Backup, v.BackupLeft = true, len(f.Backup.Hashes)
	}
	return v, nil
}

// factorsLocked reports whether the account's factors cannot be changed
// from session s: the account has a factor, s proved none, and s is not
// the session that set the factors up (factorsBy).
func (p *Pages) factorsLocked(ctx context.Context, a *store.Account, s *session.Session) (bool, error) {
	if len(p.Factors.Enrolled(a)) == 0 || factors.MultiFactor(s.AMR) {
		return false, nil
	}
	_, err := p.State.GetEntry(ctx, factorsByKey(s.ID))
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return false, err
}

// factorsByKey marks a session that changed the account's factors while
// it was allowed to: one that set up the account's first factor may go on
// setting up the others (backup codes after the app) without a new login,
// as it could before the first.
func factorsByKey(sid string) string { return "factors-by:" + sid }

// factorsChanged notes that session s changed the account's factors.
func (p *Pages) factorsChanged(ctx context.Context, s *session.Session) {
	ttl := s.ExpiresAt.Sub(p.now())
	if ttl <= 0 {
		return
	}
	if err := p.State.PutEntry(ctx, factorsByKey(s.ID), []byte{1}, ttl); err != nil {
		p.logger().WarnContext(ctx, "note the session that changed the factors", "err", err)
	}
}

// lockedOut renders the refusal of a factor change from a session that
// may not make it, and returns true; false when the session may.
func (p *Pages) lockedOut(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow string) bool {
	locked, err := p.factorsLocked(r.Context(), a, s)
	if err != nil {
		p.Pages.Error(w, r, err)
		return true
	}
	if locked {
		p.securityError(w, r, a, s, flow, http.StatusForbidden, web.M("security.factor_first"))
	}
	return locked
}

// validFlow reports whether f may be a login flow's id: at most 64
// URL-safe characters (what goes back into /login/resume?flow=).
func validFlow(f string) bool {
	if f == "" || len(f) > maxRegID {
		return false
	}
	for i := 0; i < len(f); i++ {
		switch c := f[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// resumeURL takes up the login flow.
func resumeURL(flow string) string { return "/login/resume?flow=" + url.QueryEscape(flow) }

// factorAction handles the security page's factor actions; false when the
// action is none of them.
func (p *Pages) factorAction(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session) bool {
	action := r.PostFormValue(fieldAction)
	switch action {
	case "remove_factor", "require_on", "require_off", "codes_sms", "codes_email", "backup_generate":
	default:
		return false
	}
	flow := r.PostFormValue(fieldFlow)
	if !validFlow(flow) {
		flow = ""
	}
	if action != "require_on" && p.lockedOut(w, r, a, s, flow) {
		return true
	}
	switch action {
	case "remove_factor":
		p.removeFactor(w, r, a, s, flow)
	case "require_on":
		p.requireOn(w, r, a, s, flow)
	case "require_off":
		p.requireOff(w, r, a, s, flow)
	case "codes_sms", "codes_email":
		p.codesOn(w, r, a, s, flow, action[len("codes_"):])
	case "backup_generate":
		p.backupGenerate(w, r, a, s, flow)
	}
	return true
}

// securityError shows the security page with an error about the factors.
func (p *Pages) securityError(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow string, status int, msg web.Msg) {
	form, err := p.securityForm(w, r, a, s, flow)
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	form.FormError = msg
	p.Pages.FormPage(w, r, status, "security", form)
}

// confirmPage is what the password page of a factor change shows.
type confirmPage struct {
	// What names the change: "remove_totp", "remove_sms", "remove_email",
	// "remove_backup", "require_off", "backup_again".
	What string
}

// passwordFirst asks the password for a change (action, with factor), or
// checks the one typed. It returns true when the password is right;
// otherwise it has rendered the password page (the first time, or with
// the error next to the field).
func (p *Pages) passwordFirst(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow, what string) bool {
	hidden := []web.Hidden{{Name: fieldAction, Value: r.PostFormValue(fieldAction)}}
	for _, name := range []string{"factor", "bank"} {
		if v := r.PostFormValue(name); v != "" {
			hidden = append(hidden, web.Hidden{Name: name, Value: v})
		}
	}
	if flow != "" {
		hidden = append(hidden, web.Hidden{Name: fieldFlow, Value: flow})
	}
	form := web.Form{
		Action: "/account/security",
		CSRF:   p.CSRF.Token(w, r, "security:"+s.ID),
		Hidden: hidden,
		Order:  []string{fieldPassword},
		Page:   confirmPage{What: what},
	}
	pw, typed := r.PostForm[fieldPassword]
	if !typed {
		if a.PasswordHash == "" {
			form.FormError = web.M("password_change.none")
		}
		p.Pages.FormPage(w, r, http.StatusOK, "security_confirm", form)
		return false
	}
	if pw[0] == "" {
		form.Errors = map[string]web.Msg{fieldPassword: passwordRequired(a)}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "security_confirm", form)
		return false
	}
	return p.passwordAgain(w, r, a, pw[0], "security_confirm", &form)
}

func (p *Pages) removeFactor(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow string) {
	name := r.PostFormValue("factor")
	f := p.Factors.Get(name)
	if f == nil || !f.Enrolled(a) {
		p.securityError(w, r, a, s, flow, http.StatusConflict, web.M("security.not_enrolled"))
		return
	}
	if !p.passwordFirst(w, r, a, s, flow, "remove_"+name) {
		return
	}
	ctx := r.Context()
	_, err := p.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		if u.Factors == nil {
			return nil
		}
		switch name {
		case "totp":
			u.Factors.TOTP = nil
		case "backup":
			u.Factors.Backup = nil
		case store.CodeChannelSMS, store.CodeChannelEmail:
			if u.Factors.Codes == name {
				u.Factors.Codes = ""
			}
		}
		if len(p.Factors.Enrolled(u)) == 0 {
			// Nothing left to ask; bound certificates and linked banks stay.
			u.Factors = keepWaysToLogIn(u.Factors)
		}
		u.UpdatedAt = p.now().UTC()
		return nil
	})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "second factor removed", "account", a.ID, "factor", name)
	p.factorsChanged(ctx, s)
	p.event(ctx, a.ID, "factor.remove", map[string]string{"factor": name})
	p.tellContacts(r, a, "security.removed_subject", "security.removed_text")
	http.Redirect(w, r, "/account/security?done=removed", http.StatusSeeOther)
}

func (p *Pages) requireOn(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow string) {
	ctx := r.Context()
	_, err := p.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		if len(p.Factors.Enrolled(u)) == 0 {
			return errNoFactor
		}
		u.Factors.Required = true
		u.UpdatedAt = p.now().UTC()
		return nil
	})
	if errors.Is(err, errNoFactor) {
		p.securityError(w, r, a, s, flow, http.StatusConflict, web.M("security.require_needs_factor"))
		return
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "second factor required", "account", a.ID)
	p.event(ctx, a.ID, "factor.require_on", nil)
	http.Redirect(w, r, "/account/security?done=required_on", http.StatusSeeOther)
}

// errNoFactor: the account has no second factor for the change.
var errNoFactor = errors.New("selfservice: no second factor")

func (p *Pages) requireOff(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow string) {
	if a.Factors == nil || !a.Factors.Required {
		http.Redirect(w, r, "/account/security?done=required_off", http.StatusSeeOther)
		return
	}
	if !p.passwordFirst(w, r, a, s, flow, "require_off") {
		return
	}
	ctx := r.Context()
	_, err := p.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		if u.Factors != nil {
			u.Factors.Required = false
		}
		u.UpdatedAt = p.now().UTC()
		return nil
	})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "second factor no longer required", "account", a.ID)
	p.factorsChanged(ctx, s)
	p.event(ctx, a.ID, "factor.require_off", nil)
	p.tellContacts(r, a, "security.require_off_subject", "security.require_off_text")
	http.Redirect(w, r, "/account/security?done=required_off", http.StatusSeeOther)
}

// codesOn sends the login codes to the confirmed phone (channel "sms") or
// e-mail ("email").
func (p *Pages) codesOn(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow, channel string) {
	if f := p.Factors.Get(channel); f == nil {
		p.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.bad_request"})
		return
	}
	ctx := r.Context()
	_, err := p.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		if channel == store.CodeChannelSMS && (u.Phone == "" || !u.PhoneVerified) ||
			channel == store.CodeChannelEmail && (u.Email == "" || !u.EmailVerified) {
			return errNoFactor
		}
		if u.Factors == nil {
			u.Factors = &store.SecondFactors{}
		}
		u.Factors.Codes = channel
		u.UpdatedAt = p.now().UTC()
		return nil
	})
	if errors.Is(err, errNoFactor) {
		p.securityError(w, r, a, s, flow, http.StatusConflict, web.M("security.codes_unverified_"+channel))
		return
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "second factor added", "account", a.ID, "factor", channel)
	p.factorsChanged(ctx, s)
	p.event(ctx, a.ID, "factor.add", map[string]string{"factor": channel})
	p.tellContacts(r, a, "security.added_subject", "security.added_text")
	if flow != "" {
		// The login sends a code now, which proves the factor.
		http.Redirect(w, r, resumeURL(flow), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/account/security?done=codes", http.StatusSeeOther)
}

// backupPage shows a new set of backup codes, once.
type backupPage struct {
	Codes []string
	// Replaced: an earlier set was voided by this one.
	Replaced bool
	// Continue is where to go next: the login waiting, or the security page.
	Continue string
}

func (p *Pages) backupGenerate(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow string) {
	if a.Factors != nil && a.Factors.Backup != nil && len(a.Factors.Backup.Hashes) > 0 {
		// A new set voids the old one.
		if !p.passwordFirst(w, r, a, s, flow, "backup_again") {
			return
		}
	}
	set, err := backup.Generate(backup.DefaultCount)
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	ctx := r.Context()
	now := p.now().UTC()
	replaced := false
	_, err = p.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		if u.Factors == nil {
			u.Factors = &store.SecondFactors{}
		}
		replaced = u.Factors.Backup != nil && len(u.Factors.Backup.Hashes) > 0
		u.Factors.Backup = &store.BackupCodes{Hashes: p.Backup.Hashes(u.ID, set), CreatedAt: now}
		u.UpdatedAt = now
		return nil
	})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "backup codes made", "account", a.ID)
	p.factorsChanged(ctx, s)
	p.event(ctx, a.ID, "factor.add", map[string]string{"factor": "backup", "replaced": strconv.FormatBool(replaced)})
	p.tellContacts(r, a, "security.added_subject", "security.added_text")
	page := backupPage{Codes: set, Replaced: replaced, Continue: "/account/security"}
	if flow != "" {
		page.Continue = resumeURL(flow)
	}
	p.Pages.FormPage(w, r, http.StatusOK, "security_backup", web.Form{Page: page})
}

// tellContacts tells the account's confirmed phone and e-mail of a change
// of its second factors (the message keys subject and text).
func (p *Pages) tellContacts(r *http.Request, a *store.Account, subject, text string) {
	ctx := context.WithoutCancel(r.Context())
	lang := p.Pages.Lang(r)
	body := p.Pages.T(lang, text)
	for _, m := range notify.ToContacts(a, body, p.Pages.T(lang, subject), body) {
		p.notify(ctx, m)
	}
}

// handleSecurityStepUp sends a citizen signed in with a password alone to
// prove a second factor, then back to the security page, where the factors
// may then be changed.
func (p *Pages) handleSecurityStepUp(w http.ResponseWriter, r *http.Request) {
	a, _ := p.signedIn(w, r, "/account/security")
	if a == nil {
		return
	}
	p.Login.StepUpLocal(w, r, "/account/security")
}

package selfservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Form field names of the automation contract (design.md).
const (
	fieldLastName        = "last_name"
	fieldFirstName       = "first_name"
	fieldMiddleName      = "middle_name"
	fieldPhone           = "phone"
	fieldEmail           = "email"
	fieldAcceptTerms     = "accept_terms"
	fieldCode            = "code"
	fieldPassword        = "password"
	fieldPasswordConfirm = "password_confirm"
	fieldFlow            = "flow"
	fieldReg             = "reg"
	fieldAction          = "action"
)

// registration is a registration in progress.
type registration struct {
	ID      string `json:"id"`
	Browser string `json:"browser"`
	// Flow is the login flow the registration started from, if any: it
	// continues once the account exists.
	Flow       string               `json:"flow,omitempty"`
	LastName   string               `json:"last_name"`
	FirstName  string               `json:"first_name"`
	MiddleName string               `json:"middle_name,omitempty"`
	Kind       store.IdentifierKind `json:"kind"`
	Identifier string               `json:"identifier"`
	// Confirmed: the code sent to Identifier was entered; the password
	// step is open.
	Confirmed bool `json:"confirmed,omitempty"`
}

func regKey(id string) string { return "reg:" + id }

// maxRegID bounds a registration id worth looking up.
const maxRegID = 64

func (p *Pages) saveReg(ctx context.Context, g *registration) error {
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return p.State.PutEntry(ctx, regKey(g.ID), b, p.lifetime())
}

var errRegGone = &web.PageError{Status: http.StatusNotFound, Key: "register.expired"}

// loadReg loads the registration named by the request's "reg" parameter,
// made in this browser, or renders the "start again" page.
func (p *Pages) loadReg(w http.ResponseWriter, r *http.Request) *registration {
	id := r.FormValue(fieldReg)
	if id == "" || len(id) > maxRegID {
		p.Pages.Error(w, r, errRegGone)
		return nil
	}
	b, err := p.State.GetEntry(r.Context(), regKey(id))
	if errors.Is(err, store.ErrNotFound) {
		p.Pages.Error(w, r, errRegGone)
		return nil
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return nil
	}
	var g registration
	if err := json.Unmarshal(b, &g); err != nil || g.ID != id {
		p.Pages.Error(w, r, errRegGone)
		return nil
	}
	if !p.CSRF.SameBrowser(r, g.Browser) {
		p.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.other_browser"})
		return nil
	}
	return &g
}

// regCSRF binds a form's token to the registration (or, on the first
// page, to the login flow it came from).
func regCSRF(id string) string { return "register:" + id }

// The first step: name, phone or e-mail, terms.

// registerPage is what /register shows besides the form.
type registerPage struct {
	ClientName string
	LoginURL   string
}

var registerOrder = []string{fieldLastName, fieldFirstName, fieldMiddleName, fieldPhone, fieldEmail, fieldAcceptTerms}

func (p *Pages) registerForm(w http.ResponseWriter, r *http.Request, flow string) web.Form {
	page := registerPage{LoginURL: "/account"}
	if flow != "" {
		name, ok := p.Login.FlowClient(r, flow)
		if !ok {
			flow = "" // gone: register standalone
		} else {
			page.ClientName = name
			page.LoginURL = "/login?flow=" + url.QueryEscape(flow)
		}
	}
	f := web.Form{CSRF: p.CSRF.Token(w, r, regCSRF(flow)), Order: registerOrder, Values: map[string]string{}, Page: page}
	if flow != "" {
		f.Hidden = []web.Hidden{{Name: fieldFlow, Value: flow}}
	}
	return f
}

func (p *Pages) handleRegisterPage(w http.ResponseWriter, r *http.Request) {
	f := p.registerForm(w, r, r.URL.Query().Get(fieldFlow))
	p.Pages.FormPage(w, r, http.StatusOK, "register", f)
}

func (p *Pages) handleRegister(w http.ResponseWriter, r *http.Request) {
	flow := r.PostFormValue(fieldFlow)
	if len(flow) > maxRegID || !p.checkCSRF(w, r, regCSRF(flow)) {
		return
	}
	ctx := r.Context()
	form := p.registerForm(w, r, flow)
	if len(form.Hidden) == 0 {
		flow = ""
	}
	errs := map[string]web.Msg{}
	for _, name := range registerOrder {
		form.Values[name] = r.PostFormValue(name)
	}
	g := &registration{ID: p.NewID(), Flow: flow}
	name := func(field string, required bool) string {
		raw := form.Values[field]
		if raw == "" {
			if required {
				errs[field] = web.M("register." + field + "_required")
			}
			return ""
		}
		v, err := account.NormalizeName(raw, false)
		if err != nil {
			errs[field] = web.M(messageKey(err, "register.name_invalid"))
			return ""
		}
		form.Values[field] = v
		return v
	}
	g.LastName = name(fieldLastName, true)
	g.FirstName = name(fieldFirstName, true)
	g.MiddleName = name(fieldMiddleName, false)

	g.Kind, g.Identifier = contact(form.Values[fieldPhone], form.Values[fieldEmail], "register.contact_required", errs)
	if r.PostFormValue(fieldAcceptTerms) != "on" {
		errs[fieldAcceptTerms] = web.M("register.terms_required")
	}
	if len(errs) > 0 {
		form.Errors = errs
		p.Pages.FormPage(w, r, http.StatusBadRequest, "register", form)
		return
	}

	// Bound to this browser from here on; no account is looked up yet.
	g.Browser = p.CSRF.Browser(w, r)
	if retry, err := p.sendCode(ctx, r, g); err != nil {
		var le *codes.LimitError
		if errors.As(err, &le) {
			form.FormError = web.M("register.send_limited")
			form.RetryAfter = retry
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Sub(p.now()).Seconds()))))
			p.Pages.FormPage(w, r, http.StatusTooManyRequests, "register", form)
			return
		}
		p.Pages.Error(w, r, err)
		return
	}
	if err := p.saveReg(ctx, g); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/register/code?reg="+url.QueryEscape(g.ID), http.StatusSeeOther)
}

// contact reads the form's phone or e-mail (one of them, normalized): the
// kind and value, or a message next to the field in errs (missing: the
// message key none).
func contact(phone, email, none string, errs map[string]web.Msg) (store.IdentifierKind, string) {
	switch {
	case phone != "" && email != "":
		errs[fieldEmail] = web.M("register.one_contact")
	case phone != "":
		v, err := identifier.NormalizePhone(phone)
		if err != nil {
			errs[fieldPhone] = web.M(messageKey(err, "identifier.invalid_phone"))
		}
		return store.IdentifierPhone, v
	case email != "":
		v, err := identifier.NormalizeEmail(email)
		if err != nil {
			errs[fieldEmail] = web.M(messageKey(err, "identifier.invalid_email"))
		}
		return store.IdentifierEmail, v
	default:
		errs[fieldPhone] = web.M(none)
	}
	return "", ""
}

// messageKey is the catalog key of a validator's error (anything with a
// Key or Code method), or fallback.
func messageKey(err error, fallback string) string {
	var keyed interface{ Key() string }
	if errors.As(err, &keyed) && web.HasMessage(keyed.Key()) {
		return keyed.Key()
	}
	var ie *identifier.Error
	if errors.As(err, &ie) && web.HasMessage("identifier."+ie.Code()) {
		return "identifier." + ie.Code()
	}
	return fallback
}

// sendCode issues a registration code for g and sends it. A send limit is
// a *codes.LimitError, with the time the next send is allowed.
func (p *Pages) sendCode(ctx context.Context, r *http.Request, g *registration) (time.Time, error) {
	code, err := p.Codes.Issue(ctx, codes.PurposeRegister, g.ID, g.Identifier, p.ClientIP(r))
	if err != nil {
		var le *codes.LimitError
		if errors.As(err, &le) {
			return le.RetryAt, err
		}
		return time.Time{}, err
	}
	lang := p.Pages.Lang(r)
	m := notify.Message{To: g.Identifier, Code: code, Body: p.Pages.T(lang, "register.code_text", code)}
	switch g.Kind {
	case store.IdentifierPhone:
		m.Channel = notify.SMS
	default:
		m.Channel = notify.Email
		m.Subject = p.Pages.T(lang, "register.code_subject")
	}
	if p.Notify != nil {
		p.Notify(ctx, m)
	}
	return time.Time{}, nil
}

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
	if next := p.Codes.NextSend(r.Context(), codes.PurposeRegister, g.ID); !next.IsZero() {
		if s := int(next.Sub(p.now()).Seconds()); s > 0 {
			page.ResendIn = strconv.Itoa(s)
		}
	}
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
		retry, err := p.sendCode(ctx, r, g)
		form := p.codeForm(w, r, g)
		if err != nil {
			var le *codes.LimitError
			if !errors.As(err, &le) {
				p.Pages.Error(w, r, err)
				return
			}
			form.FormError = web.M("register.send_limited")
			form.RetryAfter = retry
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Sub(p.now()).Seconds()))))
			p.Pages.FormPage(w, r, http.StatusTooManyRequests, "register_code", form)
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

// The third step: the password.

// passwordPage is what /register/password shows besides the form.
type passwordPage struct {
	// Generated is a password the server made, shown once for the citizen
	// to keep.
	Generated string
}

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
	if r.PostFormValue(fieldAction) == "generate" {
		pw := password.Generate()
		form.Values[fieldPassword], form.Values[fieldPasswordConfirm] = pw, pw
		form.Page = passwordPage{Generated: pw}
		p.Pages.FormPage(w, r, http.StatusOK, "register_password", form)
		return
	}
	pw, confirm := r.PostFormValue(fieldPassword), r.PostFormValue(fieldPasswordConfirm)
	personal := password.Personal{Names: []string{g.LastName, g.FirstName, g.MiddleName}}
	if g.Kind == store.IdentifierPhone {
		personal.Phone = g.Identifier
	} else {
		personal.Email = g.Identifier
	}
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
		p.Pages.FormPage(w, r, http.StatusBadRequest, "register_password", form)
		return
	}

	hash, err := p.Passwords.Hash(ctx, pw)
	if errors.Is(err, password.ErrBusy) {
		w.Header().Set("Retry-After", "5")
		form.FormError = web.M("login.busy")
		p.Pages.FormPage(w, r, http.StatusServiceUnavailable, "register_password", form)
		return
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	// The registration is used once: of two submissions only one goes on.
	if _, err := p.State.TakeEntry(ctx, regKey(g.ID)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errRegGone
		}
		p.Pages.Error(w, r, err)
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

// mask shows enough of a phone or e-mail for the citizen to recognise it.
func mask(kind store.IdentifierKind, id string) string {
	switch kind {
	case store.IdentifierPhone:
		if len(id) == 12 { // +7XXXXXXXXXX
			return id[:2] + " " + id[2:5] + " ***-**-" + id[10:]
		}
	case store.IdentifierEmail:
		for i := 0; i < len(id); i++ {
			if id[i] == '@' {
				if i <= 2 {
					return id[:1] + "***" + id[i:]
				}
				return id[:2] + "***" + id[i:]
			}
		}
	}
	return id
}

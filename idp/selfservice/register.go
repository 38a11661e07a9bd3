package selfservice

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/factors/codes"
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
	return p.saveState(ctx, regKey(g.ID), g, p.lifetime())
}

var errRegGone = &web.PageError{Status: http.StatusNotFound, Key: "register.expired"}

// loadReg loads the registration named by the request's "reg" parameter,
// made in this browser, or renders the "start again" page.
func (p *Pages) loadReg(w http.ResponseWriter, r *http.Request) *registration {
	var g registration
	if !p.loadBrowserState(w, r, fieldReg, regKey, errRegGone, &g, func() string { return g.ID }, func() string { return g.Browser }) {
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
	if err := p.sendCode(ctx, r, g); err != nil {
		p.notSent(w, r, "register", form, err)
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
// a *codes.LimitError.
func (p *Pages) sendCode(ctx context.Context, r *http.Request, g *registration) error {
	code, err := p.Codes.Issue(ctx, codes.PurposeRegister, g.ID, g.Identifier, p.ClientIP(r))
	if err != nil {
		return err
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
	return nil
}

// mask shows enough of a phone or e-mail for the citizen to recognise it.
func mask(kind store.IdentifierKind, id string) string { return identifier.Mask(kind, id) }

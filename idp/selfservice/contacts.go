package selfservice

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Changing the phone or the e-mail (/account/contacts): the password
// again, then a code sent to the new contact. The old contact is told.
// The change is bound to the session that asked for it.

// contactChange is a change waiting for its code, under "contact:"+ID.
type contactChange struct {
	ID        string               `json:"id"`
	AccountID string               `json:"account_id"`
	SID       string               `json:"sid"`
	Kind      store.IdentifierKind `json:"kind"`
	Value     string               `json:"value"`
}

func contactKey(id string) string { return "contact:" + id }

// contactsPage is what /account/contacts shows besides the form.
type contactsPage struct {
	Phone, Email string
	// Recipient is where the code went (masked), on the code step.
	Recipient string
}

func (p *Pages) contactsForm(w http.ResponseWriter, r *http.Request, s *session.Session, a *store.Account) web.Form {
	return web.Form{
		Action: "/account/contacts",
		CSRF:   p.CSRF.Token(w, r, "contacts:"+s.ID),
		Order:  []string{fieldPhone, fieldEmail, fieldPassword},
		Values: map[string]string{},
		Page:   contactsPage{Phone: a.Phone, Email: a.Email},
	}
}

// signedIn returns the session's account, or starts a local login that
// comes back to returnTo and returns nil.
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request, returnTo string) (*store.Account, *session.Session) {
	a, s, err := p.currentAccount(r)
	if err != nil {
		p.Pages.Error(w, r, err)
		return nil, nil
	}
	if a == nil {
		if r.Method != http.MethodGet {
			p.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.csrf"})
			return nil, nil
		}
		p.Login.StartLocal(w, r, returnTo)
		return nil, nil
	}
	return a, s
}

func (p *Pages) handleContactsPage(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/contacts")
	if a == nil {
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "contacts", p.contactsForm(w, r, s, a))
}

func (p *Pages) handleContacts(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/contacts")
	if a == nil || !p.checkCSRF(w, r, "contacts:"+s.ID) {
		return
	}
	ctx := r.Context()
	form := p.contactsForm(w, r, s, a)
	phone, email := r.PostFormValue(fieldPhone), r.PostFormValue(fieldEmail)
	form.Values[fieldPhone], form.Values[fieldEmail] = phone, email
	ch := &contactChange{ID: p.NewID(), AccountID: a.ID, SID: s.ID}
	errs := map[string]web.Msg{}
	ch.Kind, ch.Value = contact(phone, email, "contacts.new_required", errs)
	if ch.Value != "" && ch.Value == a.Identifier(ch.Kind) {
		errs[string(ch.Kind)] = web.M("contacts.same")
	}
	pw := r.PostFormValue(fieldPassword)
	if pw == "" {
		errs[fieldPassword] = passwordRequired(a)
	}
	if len(errs) > 0 {
		form.Errors = errs
		p.Pages.FormPage(w, r, http.StatusBadRequest, "contacts", form)
		return
	}
	if ok := p.passwordAgain(w, r, a, pw, "contacts", &form); !ok {
		return
	}
	if err := p.sendChangeCode(ctx, r, ch); err != nil {
		p.notSent(w, r, "contacts", form, err)
		return
	}
	if err := p.saveState(ctx, contactKey(ch.ID), ch, p.Codes.Policy().TTL); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/contacts/code?change="+url.QueryEscape(ch.ID), http.StatusSeeOther)
}

// sendChangeCode issues the code of a contact change and sends it to the
// new contact. A send limit is a *codes.LimitError.
func (p *Pages) sendChangeCode(ctx context.Context, r *http.Request, ch *contactChange) error {
	code, err := p.Codes.Issue(ctx, codes.PurposeContact, ch.ID, ch.Value, p.ClientIP(r))
	if err != nil {
		return err
	}
	lang := p.Pages.Lang(r)
	m := notify.Message{To: ch.Value, Code: code, Body: p.Pages.T(lang, "contacts.code_text", code), Channel: notify.SMS}
	if ch.Kind == store.IdentifierEmail {
		m.Channel, m.Subject = notify.Email, p.Pages.T(lang, "contacts.code_subject")
	}
	if p.Notify != nil {
		p.Notify(ctx, m)
	}
	return nil
}

// passwordAgain checks the account's password for a sensitive change,
// counting failures towards the account's login lockout. On failure it
// renders page with the form's error and returns false.
func (p *Pages) passwordAgain(w http.ResponseWriter, r *http.Request, a *store.Account, pw, page string, form *web.Form) bool {
	return p.passwordAgainIn(w, r, a, pw, fieldPassword, page, form)
}

// passwordRequired is the message for a password left out: that one is
// set through recovery, for an account without one (made through a bank).
func passwordRequired(a *store.Account) web.Msg {
	if a.PasswordHash == "" {
		return web.M("password_change.none")
	}
	return web.M("login.password_required")
}

// passwordAgainIn is passwordAgain for a password posted in field. An
// account without a password (made through a bank) is told, next to the
// field, that one is set through recovery; nothing is counted.
func (p *Pages) passwordAgainIn(w http.ResponseWriter, r *http.Request, a *store.Account, pw, field, page string, form *web.Form) bool {
	if a.PasswordHash == "" {
		form.Errors = map[string]web.Msg{field: web.M("password_change.none")}
		p.Pages.FormPage(w, r, http.StatusConflict, page, *form)
		return false
	}
	chk, _ := p.beginCheck(w, r, p.Limiter.Account(a.ID), aPassword, page, *form)
	if chk == nil {
		return false
	}
	defer chk.Close()
	ctx := r.Context()
	ok, err := p.Passwords.Verify(ctx, pw, a.PasswordHash)
	if err != nil {
		if errors.Is(err, password.ErrBusy) {
			w.Header().Set("Retry-After", "5")
			form.FormError = web.M("login.busy")
			p.Pages.FormPage(w, r, http.StatusServiceUnavailable, page, *form)
			return false
		}
		p.Pages.Error(w, r, err)
		return false
	}
	if !ok {
		if _, ok := p.failCheck(w, r, chk, aPassword, page, *form); !ok {
			return false
		}
		form.Errors = map[string]web.Msg{field: web.M("contacts.wrong_password")}
		p.Pages.FormPage(w, r, http.StatusUnauthorized, page, *form)
		return false
	}
	if err := chk.Succeed(); err != nil {
		p.Pages.Error(w, r, err)
		return false
	}
	return true
}

// loadChange loads the change named by the request, made by this session.
func (p *Pages) loadChange(w http.ResponseWriter, r *http.Request, s *session.Session) *contactChange {
	gone := &web.PageError{Status: http.StatusNotFound, Key: "contacts.expired"}
	var ch contactChange
	if !p.loadState(w, r, "change", contactKey, gone, &ch, func() string { return ch.ID }) {
		return nil
	}
	if ch.SID != s.ID {
		p.Pages.Error(w, r, gone)
		return nil
	}
	return &ch
}

func (p *Pages) changeCodeForm(w http.ResponseWriter, r *http.Request, s *session.Session, ch *contactChange) web.Form {
	return web.Form{
		Action: "/account/contacts/code",
		CSRF:   p.CSRF.Token(w, r, "contacts:"+s.ID),
		Hidden: []web.Hidden{{Name: "change", Value: ch.ID}},
		Order:  []string{fieldCode},
		Values: map[string]string{},
		Page:   contactsPage{Recipient: mask(ch.Kind, ch.Value)},
	}
}

func (p *Pages) handleChangeCodePage(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/contacts")
	if a == nil {
		return
	}
	ch := p.loadChange(w, r, s)
	if ch == nil {
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "contacts_code", p.changeCodeForm(w, r, s, ch))
}

func (p *Pages) handleChangeCode(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/contacts")
	if a == nil || !p.checkCSRF(w, r, "contacts:"+s.ID) {
		return
	}
	ch := p.loadChange(w, r, s)
	if ch == nil {
		return
	}
	ctx := r.Context()
	form := p.changeCodeForm(w, r, s, ch)
	if r.PostFormValue(fieldCode) == "" {
		// An empty field costs no try.
		form.Errors = map[string]web.Msg{fieldCode: web.M("register.code_required")}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "contacts_code", form)
		return
	}
	err := p.Codes.Check(ctx, codes.PurposeContact, ch.ID, r.PostFormValue(fieldCode))
	var wrong *codes.WrongError
	switch {
	case errors.As(err, &wrong):
		form.Errors = map[string]web.Msg{fieldCode: web.M("register.code_wrong", wrong.Left)}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "contacts_code", form)
		return
	case errors.Is(err, codes.ErrExpired):
		form.Errors = map[string]web.Msg{fieldCode: web.M("contacts.code_expired")}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "contacts_code", form)
		return
	case err != nil:
		p.Pages.Error(w, r, err)
		return
	}
	if err := p.State.DeleteEntry(ctx, contactKey(ch.ID)); err != nil {
		p.logger().WarnContext(ctx, "delete a contact change", "err", err)
	}
	old := *a
	now := p.now().UTC()
	_, err = p.Accounts.UpdateAccount(ctx, a.ID, func(acct *store.Account) error {
		switch ch.Kind {
		case store.IdentifierPhone:
			acct.Phone, acct.PhoneVerified = ch.Value, true
		case store.IdentifierEmail:
			acct.Email, acct.EmailVerified = ch.Value, true
		}
		acct.UpdatedAt = now
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		form.FormError = web.M("contacts.taken")
		p.Pages.FormPage(w, r, http.StatusConflict, "contacts_code", form)
		return
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "contact changed", "account", a.ID, "kind", string(ch.Kind))
	p.event(ctx, a.ID, "contact.change", map[string]string{"contact": string(ch.Kind)})
	// The old contact hears of it: a stolen session cannot quietly take
	// the account's recovery channel.
	lang := p.Pages.Lang(r)
	switch prev := old.Identifier(ch.Kind); {
	case prev != "" && ch.Kind == store.IdentifierPhone:
		p.notify(ctx, notify.Message{Channel: notify.SMS, To: prev, Body: p.Pages.T(lang, "contacts.changed_phone")})
	case prev != "":
		p.notify(ctx, notify.Message{Channel: notify.Email, To: prev, Subject: p.Pages.T(lang, "contacts.changed_subject"), Body: p.Pages.T(lang, "contacts.changed_email")})
	}
	http.Redirect(w, r, "/account?changed="+string(ch.Kind), http.StatusSeeOther)
}

func (p *Pages) notify(ctx context.Context, m notify.Message) {
	if p.Notify != nil {
		p.Notify(ctx, m)
	}
}

package selfservice

import (
	"context"
	"errors"
	"net/http"

	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Deleting the account (/account/delete): the password again and a tick.
// Every code, access and refresh token of the account is revoked, the
// account and its consents go (its identifiers are free again), every
// session of it ends, an audit event without personal data stays, and the
// contacts are told.

func (p *Pages) deleteForm(w http.ResponseWriter, r *http.Request, sid string) web.Form {
	return web.Form{
		Action: "/account/delete",
		CSRF:   p.CSRF.Token(w, r, "delete:"+sid),
		Order:  []string{fieldPassword, "confirm_delete"},
		Values: map[string]string{},
	}
}

func (p *Pages) handleDeletePage(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/delete")
	if a == nil {
		return
	}
	p.Pages.FormPage(w, r, http.StatusOK, "delete", p.deleteForm(w, r, s.ID))
}

func (p *Pages) handleDelete(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/delete")
	if a == nil || !p.checkCSRF(w, r, "delete:"+s.ID) {
		return
	}
	ctx := r.Context()
	form := p.deleteForm(w, r, s.ID)
	errs := map[string]web.Msg{}
	pw := r.PostFormValue(fieldPassword)
	if pw == "" {
		errs[fieldPassword] = passwordRequired(a)
	}
	if r.PostFormValue("confirm_delete") != "on" {
		errs["confirm_delete"] = web.M("delete.confirm_required")
	}
	if len(errs) > 0 {
		form.Errors = errs
		p.Pages.FormPage(w, r, http.StatusBadRequest, "delete", form)
		return
	}
	if !p.passwordAgain(w, r, a, pw, "delete", &form) {
		return
	}
	// Every token of the account is revoked first: if that fails, nothing
	// is deleted and the citizen may try again. A token issued meanwhile
	// descends from one of the sessions that end below, which revoke
	// their grants again.
	if p.Revoke != nil {
		if err := p.Revoke(ctx, a.ID, ""); err != nil {
			p.Pages.Error(w, r, err)
			return
		}
	}
	err := p.Atomic.Atomically(ctx, func(ctx context.Context) error {
		if err := p.Accounts.DeleteAccount(ctx, a.ID); err != nil {
			return err
		}
		return p.Audit.AppendAudit(ctx, &store.AuditEvent{Actor: "citizen:" + a.ID, Action: "account.delete", AccountID: a.ID})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.Pages.Error(w, r, err)
		return
	}
	// Every session of the account ends; this browser's cookie goes too.
	sessions, err := p.Sessions.List(ctx, a.ID)
	if err != nil {
		p.logger().ErrorContext(ctx, "list the deleted account's sessions", "err", err)
	}
	for _, other := range sessions {
		if _, err := p.Sessions.EndByID(ctx, a.ID, other.ID); err != nil && !errors.Is(err, session.ErrNoSession) {
			p.logger().ErrorContext(ctx, "end a deleted account's session", "err", err)
		}
	}
	p.Sessions.End(w, r)
	p.CSRF.Rotate(w)
	p.logger().InfoContext(ctx, "account deleted", "account", a.ID)
	lang := p.Pages.Lang(r)
	text := p.Pages.T(lang, "delete.notice")
	for _, m := range notify.ToContacts(a, text, p.Pages.T(lang, "delete.subject"), text) {
		p.notify(ctx, m)
	}
	p.Pages.FormPage(w, r, http.StatusOK, "deleted", web.Form{})
}

package login

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The consent step: the citizen allows the scopes that need consent; the
// decision is remembered per account and client.

func (l *Login) handleConsentPage(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	if !l.signedIn(r, f) {
		http.Redirect(w, r, "/login?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return
	}
	acct, err := l.Accounts.GetAccount(r.Context(), f.AccountID)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	lang := l.Pages.Lang(r)
	var scopes []web.ScopeView
	for _, s := range consent.NeedsQuestion(consent.Grantable(acct.Level, f.Needs.Scopes)) {
		scopes = append(scopes, web.ScopeView{Name: s, Description: l.Pages.T(lang, "scope."+s)})
	}
	l.Pages.Consent(w, r, http.StatusOK, web.ConsentData{
		Flow:       f.ID,
		CSRF:       l.CSRF.Token(w, r, f.ID),
		ClientName: l.clientName(r, f.ClientID),
		Scopes:     scopes,
	})
}

func (l *Login) handleConsent(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil || !l.checkCSRF(w, r, f.ID) {
		return
	}
	if !l.signedIn(r, f) {
		http.Redirect(w, r, "/login?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	switch r.PostFormValue("decision") {
	case "allow":
	case "deny":
		l.fail(w, r, f, ErrAccessDenied)
		return
	default:
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.invalid_request"})
		return
	}
	acct, err := l.Accounts.GetAccount(ctx, f.AccountID)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	scopes := consent.NeedsQuestion(consent.Grantable(acct.Level, f.Needs.Scopes))
	prev, err := l.Accounts.GetConsent(ctx, f.AccountID, f.ClientID)
	if err == nil {
		for _, s := range prev.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	if err := l.Accounts.PutConsent(ctx, &store.Consent{
		AccountID: f.AccountID, ClientID: f.ClientID, Scopes: scopes, GrantedAt: l.now().UTC(),
	}); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.event(ctx, f.AccountID, "consent.grant", map[string]string{"client": f.ClientID})
	f.Consented = true
	l.advance(w, r, f, nil)
}

package login

import (
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The level-up step: an account below the level the request needs is shown
// what is missing and how to raise it (personal data for standard; a
// letter by post or a service centre for confirmed), with links that keep
// the flow: once the level is raised, "continue" finishes the same
// authorization. Giving up tells the client
// unmet_authentication_requirements (RFC 9470).

// LevelUpPage is what the level-up page shows.
type LevelUpPage struct {
	ClientName string
	// Need and Have are the levels the request needs and the account has.
	Need, Have string
	// PersonalURL, LetterURL: where to raise the level, carrying the flow;
	// empty when that way does not apply.
	PersonalURL, LetterURL string
	// ServiceCentre: confirming in person is a way.
	ServiceCentre bool
	// SignatureURL: confirming with a qualified electronic signature, when
	// the signature login is on.
	SignatureURL string
	// ContinueURL finishes the authorization once the level is raised;
	// CancelURL gives up.
	ContinueURL, CancelURL string
}

// levelUp saves the flow and explains how to reach the level it needs.
func (l *Login) levelUp(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account) {
	if err := l.saveFlow(r.Context(), f); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	q := "?flow=" + url.QueryEscape(f.ID)
	page := LevelUpPage{
		ClientName:  l.clientName(r, f.ClientID),
		Need:        string(f.Needs.MinLevel),
		Have:        string(acct.Level),
		ContinueURL: "/login/resume" + q,
		CancelURL:   "/authorize/cancel" + q,
	}
	if acct.Level.Rank() < store.LevelStandard.Rank() {
		page.PersonalURL = "/account/personal" + q
	}
	if f.Needs.MinLevel == store.LevelConfirmed {
		page.LetterURL = "/account/confirm/letter" + q
		page.ServiceCentre = true
		if l.Signature != nil && acct.Level == store.LevelStandard {
			page.SignatureURL = "/login/signature" + q
		}
	}
	// 403: the authorization cannot go on until the level is raised.
	l.Pages.FormPage(w, r, http.StatusForbidden, "levelup", web.Form{Page: page})
}

// handleResume takes a flow up again where it stopped (after the citizen
// raised their level on the account pages).
func (l *Login) handleResume(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	l.advance(w, r, f, nil)
}

// handleCancel gives up a flow and sends the citizen back to the client
// with unmet_authentication_requirements.
func (l *Login) handleCancel(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	l.fail(w, r, f, ErrUnmetLevel)
}

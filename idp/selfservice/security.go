package selfservice

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The security page (/account/security): the account's live sessions, with
// the browser, the approximate network and when each began; "end this
// session" for any other one and "end all others". An ended session's
// clients are told by back-channel logout (the session manager's hook).
// The second factors (security_factors.go, security_totp.go) and the
// account's event history follow.

// sessionView is one session as the page lists it.
type sessionView struct {
	ID, Browser, Place, Started, LastUsed string
	Current                               bool
}

// securityPage is what /account/security shows.
type securityPage struct {
	Sessions []sessionView
	Others   bool
	Ended    string // "one" or "others": what was just ended
	Events   []eventView
	Factors  factorsView
	Consents []consentView
	Revoked  bool // a consent was just revoked
	Banks    []bankLinkView
	// Certificates are the bound signature certificates
	// (security_certificates.go).
	Certificates []certificateView
}

// consentView is one consent the account gave a service.
type consentView struct {
	ClientID, Client, Granted string
	Scopes                    []scopeView
}

// scopeView is a scope of a consent: Key is its catalog message, or empty
// when the catalog has none (then Name is shown).
type scopeView struct{ Name, Key string }

// eventView is one event of the account's history.
type eventView struct {
	At, Key    string
	ByOperator bool
}

// History is how far back the security page shows the account's events,
// and how many at most.
const (
	HistoryDays  = 90
	HistoryLimit = 100
)

// knownEvents are the actions the history names; others show as "event.other".
var knownEvents = map[string]bool{
	"login": true, "login.failed": true, "consent.grant": true, "account.create": true, "contact.change": true,
	"personal.save": true, "letter.order": true, "letter.confirm": true, "session.end": true,
	"account.view": true, "account.confirm": true, "account.unlock": true, "account.reject": true, "audit.read": true,
	"factor.add": true, "factor.remove": true, "factor.require_on": true, "factor.require_off": true, "factor.backup_used": true,
	"login.factor": true, "login.factor_failed": true, "recovery": true, "consent.revoke": true,
	"bank.login": true, "bank.link": true, "bank.unlink": true, "bank.confirm": true, "bank.mismatch": true,
	"login.signature": true, "signature.bind": true, "signature.remove": true, "signature.confirm": true,
	"signature.mismatch": true, "signature.confirm_refused": true, "password.change": true,
}

func (p *Pages) handleSecurityPage(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/security")
	if a == nil {
		return
	}
	form, err := p.securityForm(w, r, a, s, r.URL.Query().Get(fieldFlow))
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	switch r.URL.Query().Get("ended") {
	case "one", "others":
		form.Page.(*securityPage).Ended = r.URL.Query().Get("ended")
	}
	form.Page.(*securityPage).Revoked = r.URL.Query().Get("revoked") == "consent"
	if done := r.URL.Query().Get("done"); factorNotices[done] {
		form.Notice = web.M("security.done_" + done)
	}
	p.Pages.FormPage(w, r, http.StatusOK, "security", form)
}

// securityForm is the security page of the account a in session s: its
// sessions, second factors and history. flow, when a valid flow id, is a
// login waiting for a second factor that the factor forms carry.
func (p *Pages) securityForm(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session, flow string) (web.Form, error) {
	all, err := p.Sessions.List(r.Context(), a.ID)
	if err != nil {
		return web.Form{}, err
	}
	fv, err := p.factorsView(r.Context(), a, s)
	if err != nil {
		return web.Form{}, err
	}
	page := &securityPage{Factors: fv, Banks: p.banksView(r, a), Certificates: p.certificatesView(a)}
	if page.Consents, err = p.consentsView(r.Context(), a.ID); err != nil {
		return web.Form{}, err
	}
	for _, x := range all {
		page.Sessions = append(page.Sessions, sessionView{
			ID: x.ID, Browser: web.BrowserName(x.UserAgent), Place: x.Place,
			Started:  x.CreatedAt.In(moscow).Format("02.01.2006 15:04"),
			LastUsed: x.LastUsed.In(moscow).Format("02.01.2006 15:04"), Current: x.ID == s.ID,
		})
		page.Others = page.Others || x.ID != s.ID
	}
	events, err := p.Audit.ListAudit(r.Context(), store.AuditQuery{AccountID: a.ID, Limit: HistoryLimit})
	if err != nil {
		return web.Form{}, err
	}
	since := p.now().Add(-HistoryDays * 24 * time.Hour)
	for _, e := range events {
		if e.At.Before(since) {
			break // newest first
		}
		key := "event." + e.Action
		if !knownEvents[e.Action] {
			key = "event.other"
		} else if f := e.Details["factor"]; f != "" && web.HasMessage(key+"."+f) {
			key += "." + f // which factor
		}
		page.Events = append(page.Events, eventView{
			At: e.At.In(moscow).Format("02.01.2006 15:04"), Key: key, ByOperator: strings.HasPrefix(e.Actor, "operator:"),
		})
	}
	form := web.Form{Action: "/account/security", CSRF: p.CSRF.Token(w, r, "security:"+s.ID), Page: page}
	if validFlow(flow) {
		page.Factors.Flow = flow
		form.Hidden = []web.Hidden{{Name: fieldFlow, Value: flow}}
	}
	return form, nil
}

func (p *Pages) handleSecurity(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/security")
	if a == nil || !p.checkCSRF(w, r, "security:"+s.ID) {
		return
	}
	ctx := r.Context()
	ended := ""
	switch r.PostFormValue(fieldAction) {
	case "end_session":
		sid := r.PostFormValue("sid")
		if sid == s.ID {
			// This browser's own session ends by logging out.
			http.Redirect(w, r, "/logout", http.StatusSeeOther)
			return
		}
		if _, err := p.Sessions.EndByID(ctx, a.ID, sid); err != nil && !errors.Is(err, session.ErrNoSession) {
			p.Pages.Error(w, r, err)
			return
		}
		ended = "one"
	case "end_others":
		all, err := p.Sessions.List(ctx, a.ID)
		if err != nil {
			p.Pages.Error(w, r, err)
			return
		}
		for _, x := range all {
			if x.ID == s.ID {
				continue
			}
			if _, err := p.Sessions.EndByID(ctx, a.ID, x.ID); err != nil && !errors.Is(err, session.ErrNoSession) {
				p.Pages.Error(w, r, err)
				return
			}
		}
		ended = "others"
	case "revoke_consent":
		p.revokeConsent(w, r, a)
		return
	case "remove_bank":
		p.removeBank(w, r, a, s)
		return
	case "remove_certificate":
		p.removeCertificate(w, r, a, s)
		return
	default:
		if !p.factorAction(w, r, a, s) {
			p.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.bad_request"})
		}
		return
	}
	p.logger().InfoContext(ctx, "sessions ended by the citizen", "account", a.ID, "which", ended)
	p.event(ctx, a.ID, "session.end", map[string]string{"which": ended})
	http.Redirect(w, r, "/account/security?ended="+ended, http.StatusSeeOther)
}

// consentsView lists the consents of the account, newest first, with the
// clients' names (the id when the client is gone) and the scopes described.
func (p *Pages) consentsView(ctx context.Context, accountID string) ([]consentView, error) {
	if p.Consents == nil {
		return nil, nil
	}
	list, err := p.Consents.ListConsents(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]consentView, 0, len(list))
	for _, c := range list {
		v := consentView{ClientID: c.ClientID, Client: c.ClientID, Granted: c.GrantedAt.In(moscow).Format("02.01.2006 15:04")}
		if p.Clients != nil {
			cl, err := p.Clients.GetClient(ctx, c.ClientID)
			switch {
			case err == nil && cl.Name != "":
				v.Client = cl.Name
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
		}
		for _, sc := range c.Scopes {
			sv := scopeView{Name: sc}
			if web.HasMessage("scope." + sc) {
				sv.Key = "scope." + sc
			}
			v.Scopes = append(v.Scopes, sv)
		}
		out = append(out, v)
	}
	return out, nil
}

// revokeConsent forgets the account's consent to the client of the form,
// so the client's next authorization asks again, and revokes every code,
// access and refresh token the client holds for the account (also when
// the consent was already gone: a retry after a failed revocation
// finishes it).
func (p *Pages) revokeConsent(w http.ResponseWriter, r *http.Request, a *store.Account) {
	ctx := r.Context()
	client := r.PostFormValue("client")
	if p.Consents == nil || client == "" {
		p.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.bad_request"})
		return
	}
	err := p.Consents.DeleteConsent(ctx, a.ID, client)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.Pages.Error(w, r, err)
		return
	}
	if p.Revoke != nil {
		if err := p.Revoke(ctx, a.ID, client); err != nil {
			p.Pages.Error(w, r, err)
			return
		}
	}
	if err == nil {
		p.logger().InfoContext(ctx, "consent revoked by the citizen", "account", a.ID, "client", client)
		p.event(ctx, a.ID, "consent.revoke", map[string]string{"client": client})
	}
	http.Redirect(w, r, "/account/security?revoked=consent#consents", http.StatusSeeOther)
}

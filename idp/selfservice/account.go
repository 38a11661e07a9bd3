package selfservice

import (
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// accountPage is what /account shows.
type accountPage struct {
	Name       string
	Level      string
	Registered bool
	// Changed is the kind of contact just changed ("phone", "email").
	Changed  string
	Phone    string
	Email    string
	SNILS    string
	Verified map[string]bool
	// Pending: a registry check of the personal data is running.
	Pending bool
	// Rejected is the reason the last check failed ("" when it did not).
	Rejected string
	// Saved: personal data were just saved; Confirmed: the identity was
	// just confirmed.
	Saved, Confirmed bool
	// LetterSent: a letter code is on its way (enter it on the code page).
	LetterSent bool
	// Standard: the level a letter or a service centre can raise
	// (confirmed) is next.
	Standard bool
	// ContinueURL takes up the login flow the citizen came from.
	ContinueURL string
}

// handleAccount shows the citizen's account: name, level, contacts. A
// browser without a session logs in first and comes back.
func (p *Pages) handleAccount(w http.ResponseWriter, r *http.Request) {
	acct, _, err := p.currentAccount(r)
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	if acct == nil {
		p.Login.StartLocal(w, r, "/account")
		return
	}
	page := accountPage{
		Name:       fullName(acct),
		Level:      string(acct.Level),
		Registered: r.URL.Query().Get("registered") == "1",
		Changed:    changedKind(r.URL.Query().Get("changed")),
		Phone:      acct.Phone,
		Email:      acct.Email,
		Verified:   map[string]bool{"phone": acct.PhoneVerified, "email": acct.EmailVerified},
	}
	if acct.SNILS != "" {
		page.SNILS = identifier.FormatSNILS(acct.SNILS)
	}
	page.Pending = pending(acct)
	if v := acct.Verification; v != nil && v.Status == store.VerificationRejected && v.Digest == account.CheckedDigest(acct) {
		page.Rejected = v.Reason
		if !web.HasMessage("account.reason_" + v.Reason) {
			page.Rejected = "rejected" // a reason the pages do not know
		}
	}
	page.Saved = r.URL.Query().Get("saved") == "1"
	page.Confirmed = r.URL.Query().Get("confirmed") == "1" && acct.Level == store.LevelConfirmed
	page.LetterSent = liveLetter(acct, p.now())
	page.Standard = acct.Level == store.LevelStandard
	if f := r.URL.Query().Get(fieldFlow); f != "" && len(f) <= maxRegID {
		if _, ok := p.Login.FlowClient(r, f); ok {
			page.ContinueURL = "/login/resume?flow=" + url.QueryEscape(f)
		}
	}
	p.Pages.FormPage(w, r, http.StatusOK, "account", web.Form{Page: page})
}

// fullName is "Last First Middle".
func fullName(a *store.Account) string {
	n := a.LastName
	for _, s := range []string{a.FirstName, a.MiddleName} {
		if s != "" {
			if n != "" {
				n += " "
			}
			n += s
		}
	}
	return n
}

func changedKind(s string) string {
	if s == string(store.IdentifierPhone) || s == string(store.IdentifierEmail) {
		return s
	}
	return ""
}

package selfservice

import (
	"net/http"
	"slices"

	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The linked banks on the security page: each bank whose login is linked
// to the account (idp/login/bank_account.go links them), with when, and
// "unlink", which takes the password again (counted towards the
// account's lockout). The history records link, use and removal
// (bank.link, bank.login, bank.unlink).

// bankLinkView is a linked bank as the page lists it.
type bankLinkView struct{ ID, Name, Since string }

// banksView lists the account's linked banks, named in the page's
// language (by id when the bank is no longer configured).
func (p *Pages) banksView(r *http.Request, a *store.Account) []bankLinkView {
	if a.Factors == nil {
		return nil
	}
	lang := p.Pages.Lang(r)
	var out []bankLinkView
	for _, l := range a.Factors.Banks {
		name := l.Connector
		if p.BankName != nil {
			if n := p.BankName(l.Connector, lang); n != "" {
				name = n
			}
		}
		out = append(out, bankLinkView{ID: l.Connector, Name: name, Since: l.LinkedAt.In(moscow).Format("02.01.2006")})
	}
	return out
}

// removeBank unlinks a bank after the password.
func (p *Pages) removeBank(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session) {
	id := r.PostFormValue("bank")
	if a.Factors.Bank(id) == nil {
		p.securityError(w, r, a, s, "", http.StatusConflict, web.M("security.bank_not_linked"))
		return
	}
	if a.PasswordHash == "" {
		p.securityError(w, r, a, s, "", http.StatusConflict, web.M("security.bank_no_password"))
		return
	}
	if !p.passwordFirst(w, r, a, s, "", "remove_bank") {
		return
	}
	ctx := r.Context()
	err := p.dropWayIn(ctx, a.ID, func(f *store.SecondFactors) {
		f.Banks = slices.DeleteFunc(f.Banks, func(l store.BankLink) bool { return l.Connector == id })
	})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "bank unlinked", "account", a.ID, "bank", id)
	p.event(ctx, a.ID, "bank.unlink", map[string]string{"bank": id})
	p.tellContacts(r, a, "security.removed_subject", "security.removed_text")
	http.Redirect(w, r, "/account/security?done=bank_removed", http.StatusSeeOther)
}

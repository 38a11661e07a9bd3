package login

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/esia-oidc/idp/factors/bank"
	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// After the bank: log in with a linked subject, link an existing account
// after its password, or register a new one from the bank's verified
// data; then, for a bank that identified its customers in person, the
// confirmed level when its data match the account's.

// RegistryChecker starts registry checks (idp/registry.Checker).
type RegistryChecker interface {
	Begin(a *store.Account, id string)
	Enqueue(ctx context.Context, accountID, id string) error
}

// bankIdentified takes up the flow with what the bank said.
func (l *Login) bankIdentified(w http.ResponseWriter, r *http.Request, f *Flow, up *bankUpstream) {
	ctx := r.Context()
	f.Bank = &BankIdentity{Upstream: *up, At: l.now().UTC()}
	acct, err := l.Accounts.FindAccountByBank(ctx, up.Factor, up.Subject)
	switch {
	case err == nil:
		l.bankLogin(w, r, f, acct, []string{"fed"})
		return
	case !errors.Is(err, store.ErrNotFound):
		l.Pages.Error(w, r, err)
		return
	}
	cand, err := l.bankCandidate(ctx, up)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if cand != nil {
		f.Bank.Candidate = cand.ID
		l.redirectToStep(w, r, f, "/login/bank/link")
		return
	}
	l.redirectToStep(w, r, f, "/login/bank/register")
}

// bankCandidate is the account holding the SNILS the bank vouches for,
// when that account's personal data were checked (a SNILS typed but never
// checked may be someone else's), else the phone it vouches for
// (confirmed on the account too); nil when neither matches.
func (l *Login) bankCandidate(ctx context.Context, up *bankUpstream) (*store.Account, error) {
	if snils, err := identifier.NormalizeSNILS(up.Verified(bank.FieldSNILS)); err == nil {
		a, err := l.Accounts.FindAccount(ctx, store.IdentifierSNILS, snils)
		if err == nil && account.Verified(a) {
			return a, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if phone, err := identifier.NormalizePhone(up.Verified(bank.FieldPhone)); err == nil {
		a, err := l.Accounts.FindAccount(ctx, store.IdentifierPhone, phone)
		if err == nil && a.PhoneVerified {
			return a, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return nil, nil
}

// bankFlow loads the flow named by the request, which must hold a bank's
// answer; otherwise it sends the browser back to the list of banks.
func (l *Login) bankFlow(w http.ResponseWriter, r *http.Request) *Flow {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return nil
	}
	if f.Bank == nil || l.bankByID(f.Bank.Upstream.Factor) == nil {
		http.Redirect(w, r, "/login/bank?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return nil
	}
	return f
}

// bankLogin signs the citizen in to acct, proven by the methods amr (the
// bank's "fed", and "pwd" when the password was typed to link), then
// tries the confirmed level and takes the flow on.
func (l *Login) bankLogin(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account, amr []string) {
	ctx := r.Context()
	id := f.Bank.Upstream
	sso, err := l.Sessions.Start(w, r, acct.ID, amr)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.outcome("success")
	l.event(ctx, acct.ID, "bank.login", map[string]string{"bank": id.Factor, "client": f.ClientID})
	l.noticeNewDevice(ctx, acct, sso)
	f.Browser = l.CSRF.Rotate(w)
	f.AccountID, f.SID, f.Bank = sso.AccountID, sso.ID, nil
	f.Proofs = nil
	for _, m := range amr {
		f.Proofs = append(f.Proofs, Proof{Method: m, At: sso.AuthTime})
	}
	mismatches, err := l.bankConfirm(ctx, acct, &id)
	if err != nil {
		l.logger().ErrorContext(ctx, "confirm through a bank", "err", err)
	}
	if len(mismatches) > 0 {
		l.bankMismatch(w, r, f, &id, mismatches)
		return
	}
	l.advance(w, r, f, sso)
}

// bankPersonOf is what the bank vouches for, for account.BankMismatches.
func bankPersonOf(up *bankUpstream) account.BankPerson {
	p := account.BankPerson{
		LastName: up.Verified(bank.FieldLastName), FirstName: up.Verified(bank.FieldFirstName), MiddleName: up.Verified(bank.FieldMiddleName),
		PassportSeries: up.Verified(bank.FieldPassportSeries), PassportNumber: up.Verified(bank.FieldPassportNumber),
	}
	if s, err := identifier.NormalizeSNILS(up.Verified(bank.FieldSNILS)); err == nil {
		p.SNILS = s
	}
	if t, err := account.ParseDate(up.Verified(bank.FieldBirthdate)); err == nil {
		p.Birthdate = t.Format(account.DateLayoutISO)
	}
	if t, err := account.ParseDate(up.Verified(bank.FieldPassportIssued)); err == nil {
		p.PassportIssueDate = t.Format(account.DateLayoutISO)
	}
	return p
}

// errBankDataChanged: the account's data changed between the comparison
// and the update.
var errBankDataChanged = errors.New("login: the account's data changed")

// bankConfirm raises the account to confirmed when the bank identified
// its customers in person and its data match the account's checked ones.
// It returns the mismatches when they do not match (nothing changes);
// none when they do, or when the bank or the account's level has nothing
// to confirm.
func (l *Login) bankConfirm(ctx context.Context, acct *store.Account, up *bankUpstream) ([]account.Mismatch, error) {
	c := l.bankByID(up.Factor)
	if c == nil || !c.IdentifiesInPerson() || acct.Level != store.LevelStandard || !account.Verified(acct) {
		return nil, nil
	}
	person := bankPersonOf(up)
	if m := account.BankMismatches(acct, person, c.ConfirmGroups()); len(m) > 0 {
		var groups []string
		for _, x := range m {
			groups = append(groups, x.Group)
		}
		l.logger().InfoContext(ctx, "bank data do not match the account", "account", acct.ID, "bank", up.Factor, "groups", groups)
		l.event(ctx, acct.ID, "bank.mismatch", map[string]string{"bank": up.Factor, "groups": strings.Join(groups, ",")})
		return m, nil
	}
	now := l.now().UTC()
	_, err := l.Accounts.UpdateAccount(ctx, acct.ID, func(a *store.Account) error {
		if len(account.BankMismatches(a, person, c.ConfirmGroups())) > 0 {
			return errBankDataChanged
		}
		return account.ConfirmByBank(a, "bank:"+up.Factor, now)
	})
	if errors.Is(err, account.ErrNotConfirmable) || errors.Is(err, errBankDataChanged) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l.logger().InfoContext(ctx, "identity confirmed by a bank", "account", acct.ID, "bank", up.Factor)
	l.event(ctx, acct.ID, "bank.confirm", map[string]string{"bank": up.Factor})
	return nil, nil
}

// bankMismatchPage explains why the bank did not confirm the account.
type bankMismatchPage struct {
	Bank        string
	Reasons     []string // message keys
	ContinueURL string
}

func (l *Login) bankMismatch(w http.ResponseWriter, r *http.Request, f *Flow, up *bankUpstream, m []account.Mismatch) {
	if err := l.saveFlow(r.Context(), f); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	page := bankMismatchPage{ContinueURL: "/login/resume?flow=" + url.QueryEscape(f.ID)}
	if c := l.bankByID(up.Factor); c != nil {
		page.Bank = c.DisplayName(l.Pages.Lang(r))
	}
	for _, x := range m {
		key := "bank.mismatch_" + x.Group
		if x.Missing {
			key += "_missing"
		}
		page.Reasons = append(page.Reasons, key)
	}
	l.Pages.FormPage(w, r, http.StatusOK, "bank_mismatch", web.Form{Page: page})
}

// bankLinkPage is what /login/bank/link shows: the bank, and what of the
// account it matched (masked).
type bankLinkPage struct {
	Bank, Matched, MatchedKind string
	RecoverURL, BackURL        string
}

func (l *Login) bankLinkForm(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account) web.Form {
	page := bankLinkPage{
		Bank:       l.bankByID(f.Bank.Upstream.Factor).DisplayName(l.Pages.Lang(r)),
		RecoverURL: "/recover?flow=" + url.QueryEscape(f.ID),
		BackURL:    "/login?flow=" + url.QueryEscape(f.ID),
	}
	page.MatchedKind, page.Matched = "phone", identifier.Mask(store.IdentifierPhone, acct.Phone)
	if s := bankPersonOf(&f.Bank.Upstream).SNILS; s != "" && s == acct.SNILS && account.Verified(acct) {
		page.MatchedKind, page.Matched = "snils", maskSNILS(acct.SNILS)
	}
	return web.Form{
		Action: "/login/bank/link",
		CSRF:   l.CSRF.Token(w, r, f.ID),
		Hidden: []web.Hidden{{Name: "flow", Value: f.ID}},
		Order:  []string{"password"},
		Page:   page,
	}
}

// bankCandidateOf loads the flow's candidate account; nil (and the
// browser sent on) when there is none any more.
func (l *Login) bankCandidateOf(w http.ResponseWriter, r *http.Request, f *Flow) *store.Account {
	if f.Bank.Candidate == "" {
		l.redirectToStep(w, r, f, "/login/bank/register")
		return nil
	}
	acct, err := l.Accounts.GetAccount(r.Context(), f.Bank.Candidate)
	if errors.Is(err, store.ErrNotFound) {
		f.Bank.Candidate = ""
		l.redirectToStep(w, r, f, "/login/bank/register")
		return nil
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return nil
	}
	return acct
}

func (l *Login) handleBankLinkPage(w http.ResponseWriter, r *http.Request) {
	f := l.bankFlow(w, r)
	if f == nil {
		return
	}
	acct := l.bankCandidateOf(w, r, f)
	if acct == nil {
		return
	}
	l.Pages.FormPage(w, r, http.StatusOK, "bank_link", l.bankLinkForm(w, r, f, acct))
}

// handleBankLink checks the account's password (counted towards its
// lockout as a login is) and links the bank to it.
func (l *Login) handleBankLink(w http.ResponseWriter, r *http.Request) {
	f := l.bankFlow(w, r)
	if f == nil || !l.checkCSRF(w, r, f.ID) {
		return
	}
	acct := l.bankCandidateOf(w, r, f)
	if acct == nil {
		return
	}
	ctx := r.Context()
	form := l.bankLinkForm(w, r, f, acct)
	pw := r.PostFormValue("password")
	if pw == "" {
		form.Errors = map[string]web.Msg{"password": web.M("login.password_required")}
		l.Pages.FormPage(w, r, http.StatusBadRequest, "bank_link", form)
		return
	}
	if !l.passwordOnce(w, r, acct, pw, "bank_link", &form) {
		return
	}
	up := f.Bank.Upstream
	if err := l.linkableTo(ctx, acct, &up); err != nil {
		if errors.Is(err, errLinkedElsewhere) {
			form.FormError = web.M("bank.linked_elsewhere")
			l.Pages.FormPage(w, r, http.StatusConflict, "bank_link", form)
			return
		}
		l.Pages.Error(w, r, err)
		return
	}
	if l.wantsSecondFactor(f, acct) && len(l.Factors.Enrolled(acct)) > 0 {
		// The bank is linked only once the account's second factor is
		// proven too: signed in by the password, the factor step, then
		// the link (advance, bankLinkAfterFactor).
		l.passwordThenLink(w, r, f, acct, &up)
		return
	}
	linked, err := l.linkBankTo(r, acct, &up)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.bankLogin(w, r, f, linked, []string{"fed", "pwd"})
}

// errLinkedElsewhere: the bank's subject is linked to another account.
var errLinkedElsewhere = errors.New("login: the bank login is linked to another account")

// linkableTo checks that the bank's subject is linked to no other account
// than acct (errLinkedElsewhere).
func (l *Login) linkableTo(ctx context.Context, acct *store.Account, up *bankUpstream) error {
	other, err := l.Accounts.FindAccountByBank(ctx, up.Factor, up.Subject)
	switch {
	case err == nil && other.ID != acct.ID:
		return errLinkedElsewhere
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	return nil
}

// linkBankTo links the bank's subject to acct, tells the account's
// confirmed contacts, and returns the account as it is now.
func (l *Login) linkBankTo(r *http.Request, acct *store.Account, up *bankUpstream) (*store.Account, error) {
	ctx := r.Context()
	linked, err := l.Accounts.UpdateAccount(ctx, acct.ID, func(a *store.Account) error {
		linkBank(a, up.Factor, up.Subject, l.now().UTC())
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.logger().InfoContext(ctx, "bank linked", "account", acct.ID, "bank", up.Factor)
	l.event(ctx, acct.ID, "bank.link", map[string]string{"bank": up.Factor})
	name := up.Factor
	if c := l.bankByID(up.Factor); c != nil {
		name = c.DisplayName(l.Pages.Lang(r))
	}
	l.tellContacts(r, linked, "bank.linked_subject", "bank.linked_text", name)
	return linked, nil
}

// passwordThenLink signs the citizen in to acct by the password just
// checked and keeps the bank's answer in the flow, to be linked after the
// second factor (bankLinkAfterFactor).
func (l *Login) passwordThenLink(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account, up *bankUpstream) {
	ctx := r.Context()
	sso, err := l.Sessions.Start(w, r, acct.ID, []string{"pwd"})
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.outcome("success")
	l.event(ctx, acct.ID, "login", map[string]string{"client": f.ClientID})
	l.noticeNewDevice(ctx, acct, sso)
	f.Browser = l.CSRF.Rotate(w)
	f.AccountID, f.SID, f.Bank, f.BankLink = sso.AccountID, sso.ID, nil, up
	f.Proofs = []Proof{{Method: "pwd", At: sso.AuthTime}}
	l.advance(w, r, f, sso)
}

// bankLinkAfterFactor is the engine's step for a bank waiting to be
// linked (Flow.BankLink): once the flow has proven the password and, when
// the login wants one, the second factor, the bank is linked, its proof
// added, and the confirmed level tried. False when it has written the
// response.
func (l *Login) bankLinkAfterFactor(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account, sso *session.Session) bool {
	ctx := r.Context()
	up := f.BankLink
	f.BankLink = nil
	if sso == nil || sso.ID != f.SID || !slices.ContainsFunc(f.Proofs, func(pr Proof) bool { return pr.Method == "pwd" }) {
		return true // the login that proved the password is gone
	}
	if l.secondFactorFirst(f, acct) {
		f.BankLink = up
		return true
	}
	if err := l.linkableTo(ctx, acct, up); err != nil {
		if errors.Is(err, errLinkedElsewhere) {
			err = &web.PageError{Status: http.StatusConflict, Key: "bank.linked_elsewhere", Cause: err}
		}
		l.Pages.Error(w, r, err)
		return false
	}
	linked, err := l.linkBankTo(r, acct, up)
	if err != nil {
		l.Pages.Error(w, r, err)
		return false
	}
	*acct = *linked
	raised, err := l.Sessions.Raise(ctx, sso, "fed")
	if errors.Is(err, session.ErrNoSession) {
		return true
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return false
	}
	f.Proofs = append(f.Proofs, Proof{Method: "fed", At: raised.AuthTime})
	mismatches, err := l.bankConfirm(ctx, acct, up)
	if err != nil {
		l.logger().ErrorContext(ctx, "confirm through a bank", "err", err)
	}
	if len(mismatches) > 0 {
		l.bankMismatch(w, r, f, up, mismatches)
		return false
	}
	if updated, err := l.Accounts.GetAccount(ctx, acct.ID); err == nil {
		*acct = *updated // the level the bank may have confirmed
	}
	return true
}

// linkBank links the connector's subject to a, replacing the connector's
// earlier link (a new customer record at the same bank).
func linkBank(a *store.Account, connector, subject string, now time.Time) {
	if a.Factors == nil {
		a.Factors = &store.SecondFactors{}
	}
	link := store.BankLink{Connector: connector, Subject: subject, LinkedAt: now}
	if l := a.Factors.Bank(connector); l != nil {
		*l = link
	} else {
		a.Factors.Banks = append(a.Factors.Banks, link)
	}
	a.UpdatedAt = now
}

// passwordOnce checks a password typed for acct as a login does (through
// lockout.Guard: counted towards the account's lockout and the address's
// limit, one check at a time); on a wrong or locked one it renders page
// with the error and returns false.
func (l *Login) passwordOnce(w http.ResponseWriter, r *http.Request, acct *store.Account, pw, page string, form *web.Form) bool {
	ctx := r.Context()
	chk, d, err := l.guard().Begin(ctx, l.Limiter.Account(acct.ID), l.ClientIP(r))
	busy := func(status int, retry string) bool {
		w.Header().Set("Retry-After", retry)
		form.FormError = web.M("login.busy")
		l.Pages.FormPage(w, r, status, page, *form)
		return false
	}
	switch {
	case errors.Is(err, lockout.ErrBusy):
		return busy(http.StatusTooManyRequests, "1")
	case err != nil:
		l.Pages.Error(w, r, err)
		return false
	case chk == nil:
		form.FormError, form.RetryAfter = web.M("login.locked_short"), d.RetryAt
		l.Pages.FormPage(w, r, http.StatusTooManyRequests, page, *form)
		return false
	}
	defer chk.Close()
	vctx := chk.Context()
	ok := false
	if acct.PasswordHash != "" {
		ok, err = l.Passwords.Verify(ctx, pw, acct.PasswordHash)
	} else {
		_, err = l.Passwords.VerifyDummy(ctx, pw)
	}
	if err != nil && ctx.Err() != nil {
		ok, err = false, nil
	}
	switch {
	case errors.Is(err, password.ErrBusy):
		return busy(http.StatusServiceUnavailable, "5")
	case err != nil:
		l.Pages.Error(w, r, err)
		return false
	case !ok:
		d, err := chk.Fail()
		if err != nil {
			l.Pages.Error(w, r, err)
			return false
		}
		l.event(vctx, acct.ID, "login.failed", nil)
		status := http.StatusUnauthorized
		form.Errors = map[string]web.Msg{"password": web.M("bank.wrong_password")}
		if d.Locked {
			form.Errors, form.FormError, form.RetryAfter, status = nil, web.M("login.locked_short"), d.RetryAt, http.StatusTooManyRequests
		}
		l.Pages.FormPage(w, r, status, page, *form)
		return false
	}
	if err := chk.Succeed(); err != nil {
		l.Pages.Error(w, r, err)
		return false
	}
	l.rehash(vctx, acct, pw)
	return true
}

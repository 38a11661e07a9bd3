package login

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/bank"
	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Registering a new account from what the bank vouches for (no account
// here holds its SNILS or phone).

// bankRegisterPage is what /login/bank/register shows: the data the bank
// vouches for that the new account takes (masked where they identify).
type bankRegisterPage struct {
	Bank     string
	Name     string
	Birth    string
	SNILS    string
	Phone    string
	Email    string
	Passport string
	// Missing: the bank does not vouch for a name and a phone or e-mail;
	// no account can be made from its data.
	Missing bool
	BackURL string
}

func (l *Login) bankRegisterForm(w http.ResponseWriter, r *http.Request, f *Flow) web.Form {
	up := &f.Bank.Upstream
	n, _ := bankNewAccount(up, l.now())
	page := bankRegisterPage{
		Bank:    l.bankByID(up.Factor).DisplayName(l.Pages.Lang(r)),
		Name:    strings.Join(strings.Fields(n.LastName+" "+n.FirstName+" "+n.MiddleName), " "),
		Birth:   up.Verified(bank.FieldBirthdate),
		Missing: n.LastName == "" || n.FirstName == "" || (n.Phone == "" && n.Email == ""),
		BackURL: "/login?flow=" + url.QueryEscape(f.ID),
	}
	if n.SNILS != "" {
		page.SNILS = maskSNILS(n.SNILS)
	}
	if n.Phone != "" {
		page.Phone = identifier.Mask(store.IdentifierPhone, n.Phone)
	}
	if n.Email != "" {
		page.Email = identifier.Mask(store.IdentifierEmail, n.Email)
	}
	if n.Passport != nil {
		page.Passport = n.Passport.Series + " ******"
	}
	return web.Form{
		Action: "/login/bank/register",
		CSRF:   l.CSRF.Token(w, r, f.ID),
		Hidden: []web.Hidden{{Name: "flow", Value: f.ID}},
		Order:  []string{"accept_terms"},
		Values: map[string]string{},
		Page:   page,
	}
}

func (l *Login) handleBankRegisterPage(w http.ResponseWriter, r *http.Request) {
	f := l.bankFlow(w, r)
	if f == nil {
		return
	}
	if f.Bank.Candidate != "" {
		l.redirectToStep(w, r, f, "/login/bank/link")
		return
	}
	l.Pages.FormPage(w, r, http.StatusOK, "bank_register", l.bankRegisterForm(w, r, f))
}

// bankNewAccount is the account the bank's verified data make: names, a
// confirmed phone and e-mail, and the personal data when they pass the
// personal-data form's rules (else none: the citizen fills them in; bad
// names the fields that did not pass).
func bankNewAccount(up *bankUpstream, now time.Time) (a *store.Account, bad []string) {
	v := up.Verified
	a = &store.Account{Level: store.LevelSimplified}
	if p, err := identifier.NormalizePhone(v(bank.FieldPhone)); err == nil {
		a.Phone, a.PhoneVerified = p, true
	}
	if e, err := identifier.NormalizeEmail(v(bank.FieldEmail)); err == nil {
		a.Email, a.EmailVerified = e, true
	}
	p := account.Personal{
		LastName: v(bank.FieldLastName), FirstName: v(bank.FieldFirstName), MiddleName: v(bank.FieldMiddleName),
		BirthDate: v(bank.FieldBirthdate), Gender: v(bank.FieldGender), BirthPlace: up.Fields[bank.FieldBirthplace].Value, // not among the checked data
		Citizenship: v(bank.FieldCitizenship), SNILS: v(bank.FieldSNILS), INN: v(bank.FieldINN),
		PassportSeries: v(bank.FieldPassportSeries), PassportNumber: v(bank.FieldPassportNumber),
		PassportIssueDate: v(bank.FieldPassportIssued), PassportIssuer: v(bank.FieldPassportIssuer),
		PassportDepartmentCode: v(bank.FieldPassportDept), DocType: account.DocTypePassport,
	}
	norm, errs := account.ValidatePersonal(p, now)
	if len(errs) == 0 {
		norm.Apply(a)
		return a, nil
	}
	// Names alone, where they pass.
	if _, bad := errs[account.FieldLastName]; !bad {
		a.LastName = norm.LastName
	}
	if _, bad := errs[account.FieldFirstName]; !bad {
		a.FirstName = norm.FirstName
	}
	if _, bad := errs[account.FieldMiddleName]; !bad {
		a.MiddleName = norm.MiddleName
	}
	return a, slices.Sorted(maps.Keys(errs))
}

// handleBankRegister makes the account from the bank's verified data,
// links the bank and signs the citizen in. Personal data start the
// registry check; a bank that identified the citizen in person leaves its
// evidence, which confirms the account when the check passes
// (account.ConfirmWaiting).
func (l *Login) handleBankRegister(w http.ResponseWriter, r *http.Request) {
	f := l.bankFlow(w, r)
	if f == nil || !l.checkCSRF(w, r, f.ID) {
		return
	}
	if f.Bank.Candidate != "" {
		l.redirectToStep(w, r, f, "/login/bank/link")
		return
	}
	ctx := r.Context()
	form := l.bankRegisterForm(w, r, f)
	page := form.Page.(bankRegisterPage)
	if page.Missing {
		form.FormError = web.M("bank.register_missing")
		l.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "bank_register", form)
		return
	}
	if r.PostFormValue("accept_terms") != "on" {
		form.Errors = map[string]web.Msg{"accept_terms": web.M("register.terms_required")}
		l.Pages.FormPage(w, r, http.StatusBadRequest, "bank_register", form)
		return
	}
	up := f.Bank.Upstream
	c := l.bankByID(up.Factor)
	now := l.now().UTC()
	a, bad := bankNewAccount(&up, now)
	if len(bad) > 0 {
		l.logger().InfoContext(ctx, "the bank's personal data do not pass the form's rules: the account is made without them", "bank", up.Factor, "fields", bad)
	}
	a.ID, a.CreatedAt, a.UpdatedAt = l.NewAccountID(), now, now
	if a.Email != "" {
		// An e-mail another account holds stays with it.
		if _, err := l.Accounts.FindAccount(ctx, store.IdentifierEmail, a.Email); err == nil {
			a.Email, a.EmailVerified = "", false
		}
	}
	linkBank(a, up.Factor, up.Subject, now)
	checkID := ""
	if a.SNILS != "" && l.Registry != nil {
		checkID = l.NewAccountID()
		l.Registry.Begin(a, checkID)
		if c.IdentifiesInPerson() {
			a.Evidence = append(a.Evidence, store.Evidence{Kind: store.EvidenceBank, At: now, Ref: "bank:" + up.Factor, Digest: account.CheckedDigest(a)})
		}
	}
	err := l.Atomic.Atomically(ctx, func(ctx context.Context) error {
		if err := l.Accounts.CreateAccount(ctx, a); err != nil {
			return err
		}
		if checkID != "" {
			return l.Registry.Enqueue(ctx, a.ID, checkID)
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		form.FormError = web.M("bank.register_taken")
		l.Pages.FormPage(w, r, http.StatusConflict, "bank_register", form)
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.logger().InfoContext(ctx, "account registered through a bank", "account", a.ID, "bank", up.Factor, "check", checkID != "")
	l.event(ctx, a.ID, "account.create", map[string]string{"bank": up.Factor})
	l.event(ctx, a.ID, "bank.link", map[string]string{"bank": up.Factor})
	l.bankLogin(w, r, f, a, []string{"fed"})
}

// maskSNILS shows a SNILS (11 digits) as the pages may name it:
// ***-***-789 64.
func maskSNILS(s string) string {
	if len(s) != 11 {
		return "***"
	}
	return "***-***-" + s[6:9] + " " + s[9:]
}

// bankUpstream is what a bank said.
type bankUpstream = factors.Upstream

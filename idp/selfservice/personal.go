package selfservice

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/registry"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Personal data and documents (/account/personal). Saving data that a
// registry check vouches for (names, birth date, gender, citizenship,
// SNILS, INN, the identity document) starts a new check in the same
// transaction, and the level falls back to what is verified now; while a
// check runs those data are locked.

// personalPage is what /account/personal shows besides the form.
type personalPage struct {
	// Locked: a check runs; the checked data cannot change until it ends.
	Locked bool
	// Checks: saving starts a registry check (a registry is configured).
	Checks                          bool
	Citizenships, CitizenshipLabels []string
	GenderValues, GenderLabels      []string
	DocValues, DocLabels            []string
	// Flow is the login flow the citizen came from (level-up), if any.
	Flow string
}

// Values of the gender and doc_type drop-downs, and their labels' keys.
var (
	genderValues = []string{"", account.GenderMale, account.GenderFemale}
	genderLabels = []string{"personal.gender_none", "personal.gender_m", "personal.gender_f"}
	docValues    = []string{account.DocTypePassport, account.DocTypeForeign}
	docLabels    = []string{"personal.doc_passport", "personal.doc_foreign"}
)

func (p *Pages) personalForm(w http.ResponseWriter, r *http.Request, s *session.Session, a *store.Account) web.Form {
	page := personalPage{
		Locked: pending(a), Checks: p.Checker != nil,
		GenderValues: genderValues, GenderLabels: genderLabels, DocValues: docValues, DocLabels: docLabels,
	}
	lang := p.Pages.Lang(r)
	for _, c := range account.Citizenships() {
		page.Citizenships = append(page.Citizenships, c.Code)
		label := c.NameRU
		if lang == web.LangEN {
			label = c.NameEN
		}
		page.CitizenshipLabels = append(page.CitizenshipLabels, label)
	}
	if f := r.FormValue(fieldFlow); f != "" && len(f) <= maxRegID {
		if _, ok := p.Login.FlowClient(r, f); ok {
			page.Flow = f
		}
	}
	form := web.Form{
		Action: "/account/personal",
		CSRF:   p.CSRF.Token(w, r, "personal:"+s.ID),
		Order:  account.FieldNames(),
		Values: map[string]string{},
		Page:   page,
	}
	if page.Flow != "" {
		form.Hidden = []web.Hidden{{Name: fieldFlow, Value: page.Flow}}
	}
	return form
}

// pending reports whether a check of the account's current data runs.
func pending(a *store.Account) bool {
	v := a.Verification
	return v != nil && v.Status == store.VerificationPending && v.Digest == account.CheckedDigest(a)
}

func values(p account.Personal) map[string]string {
	out := map[string]string{}
	for k, v := range p.Form() {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

func (p *Pages) handlePersonalPage(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/personal")
	if a == nil {
		return
	}
	form := p.personalForm(w, r, s, a)
	form.Values = values(account.PersonalOf(a))
	p.Pages.FormPage(w, r, http.StatusOK, "personal", form)
}

// Errors of saving personal data.
var (
	errLocked = errors.New("selfservice: the checked data are locked while a check runs")
)

func (p *Pages) handlePersonal(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/personal")
	if a == nil || !p.checkCSRF(w, r, "personal:"+s.ID) {
		return
	}
	ctx := r.Context()
	form := p.personalForm(w, r, s, a)
	typed := account.PersonalFromForm(r.PostForm)
	norm, errs := account.ValidatePersonal(typed, p.now())
	form.Values = values(norm)
	if len(errs) > 0 {
		form.Errors = map[string]web.Msg{}
		for field, key := range errs {
			form.Errors[field] = web.M(key)
		}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "personal", form)
		return
	}

	// New SNILS, INN or passport numbers are counted, taken or not: an
	// account cannot claim identifiers one after another, nor use the
	// "already in another account" answer to probe who is registered.
	if identifiersChange(a, norm) && p.Counters != nil {
		key := "personal-ids:" + a.ID
		c, err := p.Counters.GetCounter(ctx, key)
		if err != nil {
			p.Pages.Error(w, r, err)
			return
		}
		if c.N >= IdentifierChangesPerDay {
			form.FormError = web.M("personal.too_many")
			form.RetryAfter = c.ExpiresAt
			p.Pages.FormPage(w, r, http.StatusTooManyRequests, "personal", form)
			return
		}
		if _, err := p.Counters.Incr(ctx, key, 24*time.Hour); err != nil {
			p.Pages.Error(w, r, err)
			return
		}
	}

	verID := p.NewID()
	var check bool
	err := p.Atomic.Atomically(ctx, func(ctx context.Context) error {
		check = false
		saved, err := p.Accounts.UpdateAccount(ctx, a.ID, func(acct *store.Account) error {
			before := account.CheckedDigest(acct)
			wasPending := pending(acct)
			norm.Apply(acct)
			after := account.CheckedDigest(acct)
			if wasPending && after != before {
				return errLocked
			}
			if after != before {
				// The data a check vouched for changed: the level is what
				// is verified now, which is nothing yet.
				if acct.Level.Rank() > store.LevelSimplified.Rank() {
					acct.Level = store.LevelSimplified
				}
				acct.ConfirmationMethod = ""
				acct.Verification = nil
				if acct.Letter != nil {
					acct.Letter.CodeHash = nil // a letter confirms the data it was ordered for
				}
			}
			v := acct.Verification
			if p.Checker != nil && (v == nil || v.Status == store.VerificationRejected) {
				p.Checker.Begin(acct, verID)
				check = true
			}
			acct.UpdatedAt = p.now().UTC()
			return nil
		})
		if err != nil {
			return err
		}
		if check {
			return p.Checker.Enqueue(ctx, saved.ID, verID)
		}
		return nil
	})
	switch {
	case errors.Is(err, errLocked):
		form.FormError = web.M("personal.locked")
		p.Pages.FormPage(w, r, http.StatusConflict, "personal", form)
		return
	case errors.Is(err, store.ErrConflict):
		form.FormError = web.M("personal.taken")
		p.Pages.FormPage(w, r, http.StatusConflict, "personal", form)
		return
	case err != nil:
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "personal data saved", "account", a.ID, "check", check)
	p.event(ctx, a.ID, "personal.save", nil)
	target := "/account?saved=1"
	if page := form.Page.(personalPage); page.Flow != "" {
		target += "&flow=" + url.QueryEscape(page.Flow)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// Checker starts registry checks (idp/registry); nil when none is
// configured.
type Checker interface {
	Begin(a *store.Account, id string)
	Enqueue(ctx context.Context, accountID, id string) error
}

var _ Checker = (*registry.Checker)(nil)

// IdentifierChangesPerDay bounds the saves of personal data that set a new
// SNILS, INN or passport number on one account in 24 hours.
const IdentifierChangesPerDay = 10

// identifiersChange reports whether saving p would set a SNILS, INN or
// passport number the account does not hold.
func identifiersChange(a *store.Account, p account.Personal) bool {
	passport := ""
	if a.Passport != nil {
		passport = a.Passport.Series + a.Passport.Number
	}
	return p.SNILS != a.SNILS || p.INN != a.INN || (p.PassportSeries+p.PassportNumber != "" && p.PassportSeries+p.PassportNumber != passport)
}

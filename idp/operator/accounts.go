package operator

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// searchPage is what /operator shows.
type searchPage struct {
	Operator   string
	Supervisor bool
	Query      string
	Searched   bool
	Found      []accountRow
	LogoutCSRF string
}

type accountRow struct {
	ID, Name, Level, Match string
}

// lookups turns a search into the identifiers it may be: a phone, an
// e-mail or a SNILS as the login reads them, or ten digits of a passport's
// series and number (also ten digits of an INN), or twelve of an INN.
func lookups(q string) []struct {
	kind  store.IdentifierKind
	value string
} {
	type lookup = struct {
		kind  store.IdentifierKind
		value string
	}
	var out []lookup
	if kind, v, err := identifier.Parse(q); err == nil {
		out = append(out, lookup{kind, v})
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		if r == ' ' || r == '-' || r == '№' {
			return -1
		}
		return 'x'
	}, q)
	if !strings.Contains(digits, "x") {
		switch len(digits) {
		case 10:
			out = append(out, lookup{store.IdentifierPassport, digits}, lookup{store.IdentifierINN, digits})
		case 12:
			out = append(out, lookup{store.IdentifierINN, digits})
		}
	}
	return out
}

func (c *Console) handleSearch(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page := searchPage{Operator: op.Name, Supervisor: op.HasRole(store.RoleSupervisor), Query: q, LogoutCSRF: c.CSRF.Token(w, r, csrfBind(op))}
	form := web.Form{Action: "/operator", Values: map[string]string{"q": q}, Order: []string{"q"}}
	if q != "" {
		page.Searched = true
		looks := lookups(q)
		if len(q) > 200 || len(looks) == 0 {
			form.Errors = map[string]web.Msg{"q": web.M("operator.query_invalid")}
		}
		var kinds []string
		for _, l := range looks {
			a, err := c.Store.FindAccount(ctx, l.kind, l.value)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				c.Pages.Error(w, r, err)
				return
			}
			kinds = append(kinds, string(l.kind))
			if !slices.ContainsFunc(page.Found, func(row accountRow) bool { return row.ID == a.ID }) {
				page.Found = append(page.Found, accountRow{ID: a.ID, Name: fullName(a), Level: string(a.Level), Match: string(l.kind)})
			}
		}
		// What was searched for is personal data: the trail keeps only
		// which kinds of identifier matched.
		if err := c.audit(ctx, op, "account.search", "", map[string]string{"matched": strings.Join(kinds, ",")}); err != nil {
			c.Pages.Error(w, r, err)
			return
		}
	}
	form.Page = page
	c.Pages.FormPage(w, r, http.StatusOK, "operator", form)
}

// accountPage is what /operator/accounts/{id} shows.
type accountPage struct {
	Operator     string
	Account      accountView
	CanConfirm   bool
	Done         string // message key of the action just done
	RejectReason []string
	RejectLabels []string // message keys of RejectReason
	LogoutCSRF   string
}

// accountView is the citizen's data as the operator reads them.
type accountView struct {
	ID, Name, Level, Birthdate, Gender, Birthplace, Citizenship string
	Phone, Email, SNILS, INN                                    string
	Passport                                                    *store.Document
	ForeignDocument                                             *store.Document
	Verification                                                string
	ConfirmationMethod                                          string
}

func viewOf(a *store.Account) accountView {
	v := accountView{
		ID: a.ID, Name: fullName(a), Level: string(a.Level), Birthdate: a.Birthdate, Gender: a.Gender,
		Birthplace: a.Birthplace, Citizenship: a.Citizenship, Phone: a.Phone, Email: a.Email, INN: a.INN,
		Passport: a.Passport, ForeignDocument: a.ForeignDocument, ConfirmationMethod: string(a.ConfirmationMethod),
	}
	if a.SNILS != "" {
		v.SNILS = identifier.FormatSNILS(a.SNILS)
	}
	if a.Verification != nil {
		v.Verification = string(a.Verification.Status)
	}
	return v
}

// Reasons an operator may give for refusing a confirmation (a fixed list:
// the audit trail holds no free text).
var rejectReasons = []string{"document_mismatch", "document_invalid", "not_present"}

func reasonLabels() []string {
	out := make([]string, len(rejectReasons))
	for i, r := range rejectReasons {
		out[i] = "operator.reason_" + r
	}
	return out
}

func (c *Console) accountForm(w http.ResponseWriter, r *http.Request, op *store.Operator, a *store.Account) web.Form {
	return web.Form{
		Action: "/operator/accounts/" + url.PathEscape(a.ID),
		CSRF:   c.CSRF.Token(w, r, csrfBind(op)),
		// The data the card shows: a confirmation applies to them only.
		Hidden: []web.Hidden{{Name: "digest", Value: account.CheckedDigest(a)}},
		Values: map[string]string{},
		Order:  []string{"document_checked", "reason"},
		Page: accountPage{
			Operator: op.Name, Account: viewOf(a), RejectReason: rejectReasons, RejectLabels: reasonLabels(),
			CanConfirm: a.Level == store.LevelStandard && account.Verified(a),
			LogoutCSRF: c.CSRF.Token(w, r, csrfBind(op)),
		},
	}
}

func (c *Console) handleAccount(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	ctx := r.Context()
	a, err := c.Store.GetAccount(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		c.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "operator.no_account"})
		return
	}
	if err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	if err := c.audit(ctx, op, "account.view", a.ID, nil); err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	form := c.accountForm(w, r, op, a)
	if done := r.URL.Query().Get("done"); slices.Contains([]string{"confirm", "unlock", "reject"}, done) {
		p := form.Page.(accountPage)
		p.Done = "operator.done_" + done
		form.Page = p
	}
	c.Pages.FormPage(w, r, http.StatusOK, "operator_account", form)
}

// errNotConfirmable: only an account whose personal data the registries
// approved (standard) can be confirmed in person.
var errNotConfirmable = errors.New("operator: the account is not at the standard level")

// errDataChanged: the account's checked data are not those on the card
// the operator confirmed.
var errDataChanged = errors.New("operator: the account's data changed since the card was shown")

func (c *Console) handleAction(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !c.checkCSRF(w, r, op) {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	a, err := c.Store.GetAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		c.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "operator.no_account"})
		return
	}
	if err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	form := c.accountForm(w, r, op, a)
	action := r.PostFormValue("action")
	switch action {
	case "confirm":
		if r.PostFormValue("document_checked") != "on" {
			form.Errors = map[string]web.Msg{"document_checked": web.M("operator.document_unchecked")}
			c.Pages.FormPage(w, r, http.StatusBadRequest, "operator_account", form)
			return
		}
		if a.Level != store.LevelStandard || !account.Verified(a) {
			form.FormError = web.M("operator.not_confirmable")
			c.Pages.FormPage(w, r, http.StatusConflict, "operator_account", form)
			return
		}
		seen := r.PostFormValue("digest")
		now := c.now().UTC()
		// The confirmation and its audit event are one transaction, and
		// apply to the data the operator saw on the card, as checked.
		err = c.Store.Atomically(ctx, func(ctx context.Context) error {
			updated, err := c.Store.UpdateAccount(ctx, a.ID, func(acct *store.Account) error {
				switch {
				case account.CheckedDigest(acct) != seen:
					return errDataChanged
				case acct.Level != store.LevelStandard || !account.Verified(acct):
					return errNotConfirmable
				}
				acct.Level = store.LevelConfirmed
				acct.ConfirmationMethod = store.EvidenceOperator
				acct.Evidence = append(acct.Evidence, store.Evidence{Kind: store.EvidenceOperator, At: now, Ref: op.ID, Digest: seen})
				acct.UpdatedAt = now
				return nil
			})
			if err != nil {
				return err
			}
			a = updated
			return c.audit(ctx, op, "account.confirm", a.ID, nil)
		})
		switch {
		case errors.Is(err, errNotConfirmable):
			form.FormError = web.M("operator.not_confirmable")
			c.Pages.FormPage(w, r, http.StatusConflict, "operator_account", form)
			return
		case errors.Is(err, errDataChanged):
			fresh, gerr := c.Store.GetAccount(ctx, a.ID)
			if gerr != nil {
				c.Pages.Error(w, r, gerr)
				return
			}
			form = c.accountForm(w, r, op, fresh)
			form.FormError = web.M("operator.data_changed")
			c.Pages.FormPage(w, r, http.StatusConflict, "operator_account", form)
			return
		case err != nil:
			c.Pages.Error(w, r, err)
			return
		}
		c.tell(ctx, r, a, "operator.notify_confirmed")
	case "unlock":
		if err := c.audit(ctx, op, "account.unlock", a.ID, nil); err != nil {
			c.Pages.Error(w, r, err)
			return
		}
		if err := c.Unlock(ctx, a.ID); err != nil {
			c.Pages.Error(w, r, err)
			return
		}
	case "reject":
		reason := r.PostFormValue("reason")
		if !slices.Contains(rejectReasons, reason) {
			form.Errors = map[string]web.Msg{"reason": web.M("operator.reason_required")}
			c.Pages.FormPage(w, r, http.StatusBadRequest, "operator_account", form)
			return
		}
		if err := c.audit(ctx, op, "account.reject", a.ID, map[string]string{"reason": reason}); err != nil {
			c.Pages.Error(w, r, err)
			return
		}
		c.tell(ctx, r, a, "operator.notify_rejected_"+reason)
	default:
		form.FormError = web.M("operator.unknown_action")
		c.Pages.FormPage(w, r, http.StatusBadRequest, "operator_account", form)
		return
	}
	http.Redirect(w, r, "/operator/accounts/"+url.PathEscape(a.ID)+"?done="+action, http.StatusSeeOther)
}

// tell sends the citizen a notification to their confirmed phone, else
// their confirmed e-mail.
func (c *Console) tell(ctx context.Context, r *http.Request, a *store.Account, key string) {
	if c.Notify == nil {
		return
	}
	lang := web.LangRU
	text := c.Pages.T(lang, key)
	switch {
	case a.Phone != "" && a.PhoneVerified:
		c.Notify(ctx, notify.Message{Channel: notify.SMS, To: a.Phone, Body: text})
	case a.Email != "" && a.EmailVerified:
		c.Notify(ctx, notify.Message{Channel: notify.Email, To: a.Email, Subject: c.Pages.T(lang, "operator.notify_subject"), Body: text})
	}
}

// fullName is "Last First Middle".
func fullName(a *store.Account) string {
	return strings.Join(slices.DeleteFunc([]string{a.LastName, a.FirstName, a.MiddleName}, func(s string) bool { return s == "" }), " ")
}

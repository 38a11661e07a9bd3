package selfservice

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Confirming identity by a letter by post (/account/confirm/letter, then
// /account/confirm/code): a standard account (its personal data checked)
// asks for a code to its address; the letter goes out through the
// notifier's letter channel, from a job enqueued with the code's record;
// the code is valid 90 days, takes LetterAttempts wrong tries, and an
// account has one live code at a time. Only the code's keyed hash is kept.

// Limits of letter codes.
const (
	LetterTTL      = 90 * 24 * time.Hour
	LetterAttempts = 5
	// LetterResendAfter is how long after a letter another may be asked
	// for (the first may be on its way).
	LetterResendAfter = 30 * 24 * time.Hour
	letterCodeDigits  = 8
	maxAddress        = 300
)

// Notices enqueues a notification in the transaction of ctx (the server's
// durable notification job).
type Notices func(ctx context.Context, m notify.Message) error

// letterPage is what the letter pages show.
type letterPage struct {
	// Sent: a live code exists; SentAt and ExpiresAt as DD.MM.YYYY, Address masked.
	Sent              bool
	SentAt, ExpiresAt string
	Address           string
	CanResend         bool
	Flow              string
}

func (p *Pages) letterForm(w http.ResponseWriter, r *http.Request, s *session.Session, a *store.Account, action string) web.Form {
	page := letterPage{CanResend: true}
	if l := a.Letter; l != nil {
		if liveLetter(a, p.now()) {
			page.Sent = true
			page.SentAt, page.ExpiresAt = account.FormatDate(l.SentAt.In(moscow)), account.FormatDate(l.ExpiresAt.In(moscow))
			page.Address = l.Address
		}
		page.CanResend = !p.now().Before(l.SentAt.Add(LetterResendAfter))
	}
	form := web.Form{Action: action, CSRF: p.CSRF.Token(w, r, "letter:"+s.ID), Values: map[string]string{}, Page: page}
	if f := r.FormValue(fieldFlow); f != "" && len(f) <= maxRegID {
		if _, ok := p.Login.FlowClient(r, f); ok {
			page.Flow = f
			form.Page = page
			form.Hidden = []web.Hidden{{Name: fieldFlow, Value: f}}
		}
	}
	return form
}

var moscow = time.FixedZone("MSK", 3*60*60)

// liveLetter reports whether the account has a code that may still
// confirm it: not voided, not expired, and ordered for the checked data as
// they are now.
func liveLetter(a *store.Account, now time.Time) bool {
	l := a.Letter
	return l != nil && l.CodeHash != nil && now.Before(l.ExpiresAt) && l.Attempts < LetterAttempts && l.Digest == account.CheckedDigest(a)
}

// letterAllowed answers the pages of an account that cannot confirm by
// letter (below standard: the data must be checked first; confirmed
// already) and reports whether it may.
func (p *Pages) letterAllowed(w http.ResponseWriter, r *http.Request, a *store.Account) bool {
	switch {
	case a.Level == store.LevelConfirmed:
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return false
	case a.Level != store.LevelStandard || !account.Verified(a):
		p.Pages.Error(w, r, &web.PageError{Status: http.StatusConflict, Key: "letter.needs_standard", BackURL: "/account/personal"})
		return false
	}
	return true
}

func (p *Pages) handleLetterPage(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/confirm/letter")
	if a == nil || !p.letterAllowed(w, r, a) {
		return
	}
	form := p.letterForm(w, r, s, a, "/account/confirm/letter")
	form.Values["address"] = a.RegistrationAddress
	p.Pages.FormPage(w, r, http.StatusOK, "letter", form)
}

var errTooSoon = errors.New("selfservice: a letter was sent recently")

func (p *Pages) handleLetter(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/confirm/letter")
	if a == nil || !p.checkCSRF(w, r, "letter:"+s.ID) || !p.letterAllowed(w, r, a) {
		return
	}
	ctx := r.Context()
	form := p.letterForm(w, r, s, a, "/account/confirm/letter")
	raw := r.PostFormValue("address")
	form.Values["address"] = raw
	address, err := account.NormalizeText(raw, maxAddress)
	if err != nil || len([]rune(address)) < 10 {
		key := "letter.address_invalid"
		if strings.TrimSpace(raw) == "" {
			key = "letter.address_required"
		}
		form.Errors = map[string]web.Msg{"address": web.M(key)}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "letter", form)
		return
	}
	code := letterCode()
	now := p.now().UTC()
	lang := p.Pages.Lang(r)
	err = p.Atomic.Atomically(ctx, func(ctx context.Context) error {
		_, err := p.Accounts.UpdateAccount(ctx, a.ID, func(acct *store.Account) error {
			// One letter a month, whatever became of the last one (voided
			// codes keep their record for this).
			if l := acct.Letter; l != nil && now.Before(l.SentAt.Add(LetterResendAfter)) {
				return errTooSoon
			}
			if acct.Level != store.LevelStandard || !account.Verified(acct) {
				return errLetterGone
			}
			// One live code: this one replaces any other, and confirms the
			// data as they are now only.
			acct.Letter = &store.LetterCode{CodeHash: p.letterHash(acct.ID, code), Digest: account.CheckedDigest(acct), Address: address, SentAt: now, ExpiresAt: now.Add(LetterTTL)}
			if acct.RegistrationAddress == "" {
				acct.RegistrationAddress = address
			}
			acct.UpdatedAt = now
			return nil
		})
		if err != nil {
			return err
		}
		return p.Notices(ctx, notify.Message{
			Channel: notify.Letter, To: address, Code: code,
			Subject: p.Pages.T(lang, "letter.subject"),
			Body:    p.Pages.T(lang, "letter.text", fullName(a), code, account.FormatDate(now.Add(LetterTTL).In(moscow))),
		})
	})
	if errors.Is(err, errLetterGone) {
		p.letterAllowed(w, r, a) // the level changed meanwhile
		return
	}
	if errors.Is(err, errTooSoon) {
		form.FormError = web.M("letter.too_soon")
		p.Pages.FormPage(w, r, http.StatusTooManyRequests, "letter", form)
		return
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "confirmation letter ordered", "account", a.ID)
	p.event(ctx, a.ID, "letter.order", nil)
	target := "/account/confirm/code?sent=1"
	if page := form.Page.(letterPage); page.Flow != "" {
		target += "&flow=" + url.QueryEscape(page.Flow)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// letterCode is a random code of letterCodeDigits digits.
func letterCode() string {
	var b strings.Builder
	for range letterCodeDigits {
		n, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + n.Int64()))
	}
	return b.String()
}

// letterHash is the keyed hash of a letter code, bound to the account.
func (p *Pages) letterHash(accountID, code string) []byte {
	m := hmac.New(sha256.New, p.LetterKey)
	m.Write([]byte(accountID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

func (p *Pages) handleLetterCodePage(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/confirm/code")
	if a == nil || !p.letterAllowed(w, r, a) {
		return
	}
	form := p.letterForm(w, r, s, a, "/account/confirm/code")
	if r.URL.Query().Get("sent") == "1" {
		form.Notice = web.M("letter.sent")
	}
	p.Pages.FormPage(w, r, http.StatusOK, "letter_code", form)
}

// Outcomes of a letter code typed.
var (
	errLetterWrong = errors.New("selfservice: wrong letter code")
	errLetterGone  = errors.New("selfservice: no live letter code")
)

func (p *Pages) handleLetterCode(w http.ResponseWriter, r *http.Request) {
	a, s := p.signedIn(w, r, "/account/confirm/code")
	if a == nil || !p.checkCSRF(w, r, "letter:"+s.ID) || !p.letterAllowed(w, r, a) {
		return
	}
	ctx := r.Context()
	form := p.letterForm(w, r, s, a, "/account/confirm/code")
	code := strings.Join(strings.Fields(r.PostFormValue(fieldCode)), "")
	if code == "" {
		form.Errors = map[string]web.Msg{fieldCode: web.M("register.code_required")}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "letter_code", form)
		return
	}
	now := p.now().UTC()
	left := 0
	// The try is counted and the code compared in one transaction on the
	// account's record: parallel tries on any replica are counted exactly.
	var wrong bool
	_, err := p.Accounts.UpdateAccount(ctx, a.ID, func(acct *store.Account) error {
		wrong = false
		l := acct.Letter
		if !liveLetter(acct, now) || acct.Level != store.LevelStandard || !account.Verified(acct) {
			return errLetterGone
		}
		if subtle.ConstantTimeCompare(p.letterHash(acct.ID, code), l.CodeHash) != 1 {
			l.Attempts++
			left = LetterAttempts - l.Attempts
			if left <= 0 {
				l.CodeHash = nil // void; the record stays for the monthly limit
			}
			wrong = true
			return nil
		}
		l.CodeHash = nil // used
		acct.Level = store.LevelConfirmed
		acct.ConfirmationMethod = store.EvidenceLetter
		acct.Evidence = append(acct.Evidence, store.Evidence{Kind: store.EvidenceLetter, At: now, Ref: "letter:" + l.SentAt.Format("20060102"), Digest: account.CheckedDigest(acct)})
		acct.UpdatedAt = now
		return nil
	})
	switch {
	case errors.Is(err, errLetterGone):
		form.Errors = map[string]web.Msg{fieldCode: web.M("letter.code_gone")}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "letter_code", form)
		return
	case err != nil:
		p.Pages.Error(w, r, err)
		return
	case wrong && left > 0:
		form.Errors = map[string]web.Msg{fieldCode: web.M("register.code_wrong", left)}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "letter_code", form)
		return
	case wrong:
		form.Errors = map[string]web.Msg{fieldCode: web.M("letter.code_gone")}
		p.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "letter_code", form)
		return
	}
	p.logger().InfoContext(ctx, "identity confirmed by letter", "account", a.ID)
	p.event(ctx, a.ID, "letter.confirm", nil)
	target := "/account?confirmed=1"
	if page := form.Page.(letterPage); page.Flow != "" {
		target += "&flow=" + url.QueryEscape(page.Flow)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

package selfservice_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/store"
)

// makeStandard gives the taken account checked personal data.
func (p *idp) makeStandard(t *testing.T) {
	t.Helper()
	_, err := p.srv.Durable.UpdateAccount(context.Background(), p.taken.ID, func(a *store.Account) error {
		a.Birthdate, a.Gender, a.Citizenship, a.SNILS = "1990-05-17", "F", "RUS", "11223344595"
		a.Passport = &store.Document{Type: store.DocPassport, Series: "4510", Number: "123456", IssueDate: "2010-06-01", Issuer: "ОВД", DepartmentCode: "770-001"}
		now := time.Now().UTC()
		d := account.CheckedDigest(a)
		a.Verification = &store.Verification{ID: "ver-1", Status: store.VerificationApproved, Digest: d, RequestedAt: now, DecidedAt: now}
		a.Evidence = []store.Evidence{{Kind: store.EvidenceRegistry, At: now, Ref: "ver-1", Digest: d}}
		a.Level = store.LevelStandard
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

const postalAddress = "123456, г. Москва, ул. Тверская, д. 1, кв. 2"

// A standard citizen orders a letter; its code, typed back, confirms the
// account; wrong codes are counted.
func TestLetterConfirms(t *testing.T) {
	p := newIDP(t)
	p.makeStandard(t)
	a := p.loggedIn(t)
	page := get(t, a, "/account/confirm/letter")
	wantStatus(t, page, http.StatusOK)
	wantStatus(t, submit(t, a, page, "/account/confirm/letter", url.Values{"address": {"дом"}}), http.StatusBadRequest)
	sent := submit(t, a, page, "/account/confirm/letter", url.Values{"address": {postalAddress}})
	if loc := sent.Location(); loc == nil || loc.Path != "/account/confirm/code" {
		t.Fatalf("order: %d\n%s", sent.Status, sent.Body)
	}
	msgs := p.WaitMessages(t, postalAddress, 1)
	letter := msgs[0]
	if letter.Channel != "letter" || len(letter.Code) != 8 || !strings.Contains(letter.Body, letter.Code) || !strings.Contains(letter.Body, "Петрова Анна") {
		t.Fatalf("the letter %+v", letter)
	}
	acct, _ := p.srv.Durable.GetAccount(context.Background(), p.taken.ID)
	if acct.Letter == nil || strings.Contains(string(acct.Letter.CodeHash), letter.Code) || acct.Letter.ExpiresAt.Sub(acct.Letter.SentAt) != 90*24*time.Hour {
		t.Fatalf("the stored letter %+v", acct.Letter)
	}
	// A second letter is refused while the first is on its way.
	again := get(t, a, "/account/confirm/letter")
	if len(again.Forms()) != 0 || !strings.Contains(again.Body, "Письмо отправлено") {
		t.Errorf("the letter page still offers a second letter:\n%s", again.Body)
	}
	// Posted anyway (an old tab): refused.
	wantStatus(t, submit(t, a, page, "/account/confirm/letter", url.Values{"address": {postalAddress}}), http.StatusTooManyRequests)
	if n := len(p.Messages(postalAddress)); n != 1 {
		t.Errorf("%d letters sent", n)
	}

	codePage := follow(t, a, sent)
	wrongCode := "00000000"
	if letter.Code == wrongCode {
		wrongCode = "11111111"
	}
	wrong := submit(t, a, codePage, "/account/confirm/code", url.Values{"code": {wrongCode}})
	wantStatus(t, wrong, http.StatusUnprocessableEntity)
	if !strings.Contains(fieldError(wrong, "code"), "Осталось попыток: 4") {
		t.Errorf("wrong code: %q", fieldError(wrong, "code"))
	}
	done := submit(t, a, codePage, "/account/confirm/code", url.Values{"code": {letter.Code[:4] + " " + letter.Code[4:]}})
	if loc := done.Location(); loc == nil || loc.Path != "/account" {
		t.Fatalf("the right code: %d\n%s", done.Status, done.Body)
	}
	acct, _ = p.srv.Durable.GetAccount(context.Background(), p.taken.ID)
	last := acct.Evidence[len(acct.Evidence)-1]
	if acct.Level != store.LevelConfirmed || acct.ConfirmationMethod != store.EvidenceLetter || last.Kind != store.EvidenceLetter || last.Digest != acct.Verification.Digest || acct.Letter.CodeHash != nil {
		t.Fatalf("after the code: level %s method %s evidence %+v letter %+v", acct.Level, acct.ConfirmationMethod, last, acct.Letter)
	}
	if page := follow(t, a, done); !strings.Contains(page.Body, `data-level="confirmed"`) {
		t.Errorf("the account page after confirmation:\n%s", page.Body)
	}
}

// Five wrong codes void the letter's code; an account below standard
// cannot order one.
func TestLetterLimits(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	wantStatus(t, get(t, a, "/account/confirm/letter"), http.StatusConflict)
	p.makeStandard(t)
	page := get(t, a, "/account/confirm/letter")
	codePage := follow(t, a, submit(t, a, page, "/account/confirm/letter", url.Values{"address": {postalAddress}}))
	code := p.WaitMessages(t, postalAddress, 1)[0].Code
	wrongCode := "00000000"
	if code == wrongCode {
		wrongCode = "11111111"
	}
	for i := range 5 {
		wrong := submit(t, a, codePage, "/account/confirm/code", url.Values{"code": {wrongCode}})
		wantStatus(t, wrong, http.StatusUnprocessableEntity)
		if i == 4 && !strings.Contains(fieldError(wrong, "code"), "Закажите новое письмо") {
			t.Errorf("the fifth wrong code: %q", fieldError(wrong, "code"))
		}
	}
	wantStatus(t, submit(t, a, codePage, "/account/confirm/code", url.Values{"code": {code}}), http.StatusUnprocessableEntity)
	if acct, _ := p.srv.Durable.GetAccount(context.Background(), p.taken.ID); acct.Level != store.LevelStandard || acct.Letter.CodeHash != nil {
		t.Errorf("after five wrong codes: level %s, letter %+v", acct.Level, acct.Letter)
	}
	// A voided code does not open the way to another letter at once: the
	// monthly limit counts from the last letter sent.
	if page := get(t, a, "/account/confirm/letter"); len(page.Forms()) != 0 {
		t.Errorf("a new letter is offered right after voiding the code")
	}
	wantStatus(t, submit(t, a, page, "/account/confirm/letter", url.Values{"address": {postalAddress}}), http.StatusTooManyRequests)
	if n := len(p.Messages(postalAddress)); n != 1 {
		t.Errorf("%d letters sent", n)
	}
}

// A letter confirms the data it was ordered for: once the checked data
// change (and pass a new check), the old code confirms nothing.
func TestLetterBoundToData(t *testing.T) {
	p := newIDP(t)
	p.makeStandard(t)
	a := p.loggedIn(t)
	codePage := follow(t, a, submit(t, a, get(t, a, "/account/confirm/letter"), "/account/confirm/letter", url.Values{"address": {postalAddress}}))
	code := p.WaitMessages(t, postalAddress, 1)[0].Code
	// Someone else's passport, and (say) a check that passed.
	_, err := p.srv.Durable.UpdateAccount(context.Background(), p.taken.ID, func(acct *store.Account) error {
		acct.Passport.Number = "999999"
		d := account.CheckedDigest(acct)
		acct.Verification.Digest = d
		acct.Evidence = append(acct.Evidence, store.Evidence{Kind: store.EvidenceRegistry, At: time.Now(), Digest: d})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, submit(t, a, codePage, "/account/confirm/code", url.Values{"code": {code}}), http.StatusUnprocessableEntity)
	if acct, _ := p.srv.Durable.GetAccount(context.Background(), p.taken.ID); acct.Level != store.LevelStandard {
		t.Fatalf("the old letter confirmed other data: %s", acct.Level)
	}
}

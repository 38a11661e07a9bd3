package selfservice_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/selfservice"
	"github.com/esia-oidc/idp/store"
)

// personalForm is a valid personal-data form of the taken citizen.
func personalForm(passportNumber string) url.Values {
	return url.Values{
		"last_name": {"Петрова"}, "first_name": {"Анна"}, "middle_name": {"Сергеевна"},
		"birth_date": {"17.05.1990"}, "gender": {"F"}, "birth_place": {"г. Тула"}, "citizenship": {"RUS"},
		"snils": {"112-233-445 95"}, "inn": {""}, "doc_type": {"passport"},
		"passport_series": {"45 10"}, "passport_number": {passportNumber}, "passport_issue_date": {"01.06.2010"},
		"passport_issuer": {"ОВД района Арбат г. Москвы"}, "passport_department_code": {"770001"},
	}
}

func simDelay(d time.Duration) func(*config.Config) {
	return func(c *config.Config) { c.RegistrySimDelay = d }
}

// waitAccount waits until cond holds for the taken account.
func (p *idp) waitAccount(t *testing.T, cond func(*store.Account) bool) *store.Account {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := p.srv.Durable.GetAccount(context.Background(), p.taken.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cond(a) {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("the account did not get there: level %s, verification %+v", a.Level, a.Verification)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Saving personal data starts the registry check; the simulator approves,
// the account becomes standard, and the citizen is told.
func TestPersonalDataToStandard(t *testing.T) {
	p := newIDP(t, simDelay(0))
	a := p.loggedIn(t)
	page := get(t, a, "/account/personal")
	wantStatus(t, page, http.StatusOK)
	if !strings.Contains(page.Body, `value="Петрова"`) || !strings.Contains(page.Body, `<option value="RUS" selected>`) {
		t.Errorf("the form is not filled from the account")
	}
	// Wrong values: a message next to each, and nothing typed is lost.
	bad := personalForm("123456")
	bad.Set("snils", "112-233-445 96")
	bad.Set("passport_issue_date", "01.06.2000")
	bad.Set("passport_department_code", "77-0001")
	wrong := submit(t, a, page, "/account/personal", bad)
	wantStatus(t, wrong, http.StatusBadRequest)
	for _, f := range []string{"snils", "passport_issue_date", "passport_department_code"} {
		if fieldError(wrong, f) == "" {
			t.Errorf("no message next to %s", f)
		}
	}
	for _, v := range []string{"112-233-445 96", "77-0001", "ОВД района Арбат г. Москвы", "г. Тула"} {
		if !strings.Contains(wrong.Body, `value="`+v+`"`) {
			t.Errorf("what was typed (%q) is lost", v)
		}
	}
	if acct, _ := p.srv.Durable.GetAccount(context.Background(), p.taken.ID); acct.SNILS != "" || acct.Verification != nil {
		t.Fatalf("an invalid form was saved: %+v", acct)
	}

	done := submit(t, a, page, "/account/personal", personalForm("123456"))
	if loc := done.Location(); loc == nil || loc.Path != "/account" {
		t.Fatalf("save: %d\n%s", done.Status, done.Body)
	}
	acct := p.waitAccount(t, func(a *store.Account) bool { return a.Level == store.LevelStandard })
	if acct.SNILS != "11223344595" || acct.Passport == nil || acct.Passport.Series != "4510" || acct.Passport.DepartmentCode != "770-001" ||
		acct.Birthdate != "1990-05-17" || acct.Verification.Status != store.VerificationApproved || acct.Evidence[0].Kind != store.EvidenceRegistry {
		t.Errorf("saved %+v, passport %+v, verification %+v", acct, acct.Passport, acct.Verification)
	}
	msgs := p.WaitMessages(t, takenPhone, 1)
	if !strings.Contains(msgs[len(msgs)-1].Body, "прошли проверку") {
		t.Errorf("the citizen was told %q", msgs[len(msgs)-1].Body)
	}
	account := get(t, a, "/account")
	if !strings.Contains(account.Body, `data-level="standard"`) || strings.Contains(account.Body, `data-verification=`) {
		t.Errorf("the account page after the check:\n%s", account.Body)
	}

	// Changing checked data later: back to simplified, and checked again.
	page = get(t, a, "/account/personal")
	changed := personalForm("123456")
	changed.Set("inn", "500100732259")
	if loc := submit(t, a, page, "/account/personal", changed).Location(); loc == nil {
		t.Fatal("the change was not saved")
	}
	acct = p.waitAccount(t, func(a *store.Account) bool {
		return a.INN == "500100732259" && a.Verification.Status == store.VerificationApproved
	})
	if acct.Level != store.LevelStandard || len(acct.Evidence) != 2 {
		t.Errorf("after the second check: level %s, evidence %d", acct.Level, len(acct.Evidence))
	}
}

// The simulator rejects passport 000000; the page says why.
func TestPersonalDataRejected(t *testing.T) {
	p := newIDP(t, simDelay(0))
	a := p.loggedIn(t)
	submit(t, a, get(t, a, "/account/personal"), "/account/personal", personalForm("000000"))
	acct := p.waitAccount(t, func(a *store.Account) bool {
		return a.Verification != nil && a.Verification.Status == store.VerificationRejected
	})
	if acct.Level != store.LevelSimplified || acct.Verification.Reason != "passport_not_found" {
		t.Errorf("rejected: level %s, %+v", acct.Level, acct.Verification)
	}
	page := get(t, a, "/account")
	if !strings.Contains(page.Body, "Паспорт с такими данными не найден") {
		t.Errorf("the account page does not say why:\n%s", page.Body)
	}
	// Corrected, it passes.
	submit(t, a, get(t, a, "/account/personal"), "/account/personal", personalForm("123456"))
	p.waitAccount(t, func(a *store.Account) bool { return a.Level == store.LevelStandard })
}

// While a check runs, the checked data are locked; other data may change.
// Someone else's SNILS is refused.
func TestPersonalDataLockedAndTaken(t *testing.T) {
	p := newIDP(t, simDelay(time.Hour))
	ctx := context.Background()
	a := p.loggedIn(t)
	submit(t, a, get(t, a, "/account/personal"), "/account/personal", personalForm("123456"))
	page := get(t, a, "/account")
	if !strings.Contains(page.Body, `data-verification="pending"`) {
		t.Fatalf("no pending check on the account page:\n%s", page.Body)
	}
	form := get(t, a, "/account/personal")
	other := personalForm("654321")
	locked := submit(t, a, form, "/account/personal", other)
	wantStatus(t, locked, http.StatusConflict)
	if acct, _ := p.srv.Durable.GetAccount(ctx, p.taken.ID); acct.Passport.Number != "123456" {
		t.Fatalf("a locked field changed: %+v", acct.Passport)
	}
	place := personalForm("123456")
	place.Set("birth_place", "г. Калуга")
	place.Set("oms_number", "1234567890123456")
	if loc := submit(t, a, form, "/account/personal", place).Location(); loc == nil {
		t.Fatal("an unchecked field could not change during the check")
	}
	if acct, _ := p.srv.Durable.GetAccount(ctx, p.taken.ID); acct.Birthplace != "г. Калуга" || acct.MedicalPolicy == nil {
		t.Errorf("unchecked fields not saved: %q %+v", acct.Birthplace, acct.MedicalPolicy)
	}

	// Another account holds SNILS 112-233-445 95 now; a second citizen
	// typing it is refused without anything saved.
	now := time.Now().UTC()
	hash, _ := p.srv.Passwords.Hash(ctx, takenPassword)
	if err := p.srv.Durable.CreateAccount(ctx, &store.Account{ID: "second", Level: store.LevelSimplified, LastName: "Орлова", FirstName: "Ольга",
		Phone: "+79990009999", PhoneVerified: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	b := p.agent()
	login := follow(t, b, get(t, b, "/account"))
	follow(t, b, submit(t, b, login, "", url.Values{"identifier": {"+79990009999"}, "password": {takenPassword}}))
	theirs := personalForm("111111")
	theirs.Set("last_name", "Орлова")
	theirs.Set("first_name", "Ольга")
	taken := submit(t, b, get(t, b, "/account/personal"), "/account/personal", theirs)
	wantStatus(t, taken, http.StatusConflict)
	if acct, _ := p.srv.Durable.GetAccount(ctx, "second"); acct.SNILS != "" {
		t.Errorf("someone else's SNILS was saved")
	}
}

// New SNILS, INN or passport numbers are limited per account and day,
// taken or not: no claiming one identifier after another, no probing who
// is registered.
func TestPersonalIdentifierChangesLimited(t *testing.T) {
	p := newIDP(t, simDelay(0))
	a := p.loggedIn(t)
	snils := []string{"112-233-445 95", "123-456-789 64", "987-654-321 83"}
	for i := 0; i < selfservice.IdentifierChangesPerDay; i++ {
		form := personalForm(fmt.Sprintf("%06d", 100000+i))
		form.Set("snils", snils[i%len(snils)])
		page := submit(t, a, get(t, a, "/account/personal"), "/account/personal", form)
		if page.Status == http.StatusTooManyRequests {
			t.Fatalf("save %d refused", i+1)
		}
	}
	form := personalForm("999999")
	page := submit(t, a, get(t, a, "/account/personal"), "/account/personal", form)
	wantStatus(t, page, http.StatusTooManyRequests)
	if !strings.Contains(page.Body, "Слишком много попыток") {
		t.Errorf("the refusal does not say why:\n%s", page.Body)
	}
	// Saving without a new number still works.
	same := personalForm("")
	acct, _ := p.srv.Durable.GetAccount(context.Background(), p.taken.ID)
	same.Set("snils", acct.SNILS)
	same.Set("passport_number", acct.Passport.Number)
	same.Set("birth_place", "г. Калуга")
	if got := submit(t, a, get(t, a, "/account/personal"), "/account/personal", same); got.Status == http.StatusTooManyRequests {
		t.Errorf("a save without new numbers was refused")
	}
}

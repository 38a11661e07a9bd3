package account

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func bankAccount() *store.Account {
	return &store.Account{
		Level: store.LevelStandard, LastName: "Иванов", FirstName: "Пётр", MiddleName: "Сергеевич",
		Birthdate: "1990-01-01", SNILS: "11223344595",
		Passport: &store.Document{Type: store.DocPassport, Series: "4510", Number: "123456", IssueDate: "2010-01-15"},
	}
}

func bankPerson() BankPerson {
	return BankPerson{
		LastName: "ИВАНОВ", FirstName: "Петр", MiddleName: "Сергеевич", Birthdate: "1990-01-01", SNILS: "11223344595",
		PassportSeries: "45 10", PassportNumber: "123456", PassportIssueDate: "2010-01-15",
	}
}

func TestBankMismatches(t *testing.T) {
	all := []string{MatchSNILS, MatchName, MatchBirthdate, MatchPassport}
	for _, c := range []struct {
		name   string
		acct   func(*store.Account)
		person func(*BankPerson)
		groups []string
		want   []Mismatch
	}{
		{name: "everything matches (case, ё, spaces)", groups: all},
		{name: "a new passport", person: func(p *BankPerson) { p.PassportNumber, p.PassportIssueDate = "654321", "2020-02-02" }, groups: all,
			want: []Mismatch{{Group: MatchPassport}}},
		{name: "another issue date", person: func(p *BankPerson) { p.PassportIssueDate = "2011-01-15" }, groups: all,
			want: []Mismatch{{Group: MatchPassport}}},
		{name: "no issue date from the bank", person: func(p *BankPerson) { p.PassportIssueDate = "" }, groups: all},
		{name: "the bank gives no passport", person: func(p *BankPerson) { p.PassportNumber = "" }, groups: all,
			want: []Mismatch{{Group: MatchPassport, Missing: true}}},
		{name: "the account has no passport", acct: func(a *store.Account) { a.Passport = nil }, groups: all,
			want: []Mismatch{{Group: MatchPassport}}},
		{name: "another SNILS and name", person: func(p *BankPerson) { p.SNILS, p.MiddleName = "98765432183", "" }, groups: all,
			want: []Mismatch{{Group: MatchSNILS}, {Group: MatchName}}},
		{name: "no birth date", person: func(p *BankPerson) { p.Birthdate = "" }, groups: all,
			want: []Mismatch{{Group: MatchBirthdate, Missing: true}}},
		{name: "only what is configured", person: func(p *BankPerson) { p.PassportNumber, p.Birthdate = "1", "" }, groups: []string{MatchSNILS, MatchName}},
		{name: "hyphenated names", acct: func(a *store.Account) { a.LastName = "Римский-Корсаков" }, person: func(p *BankPerson) { p.LastName = "римский - корсаков" }, groups: all},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, p := bankAccount(), bankPerson()
			if c.acct != nil {
				c.acct(a)
			}
			if c.person != nil {
				c.person(&p)
			}
			if got := BankMismatches(a, p, c.groups); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("BankMismatches = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestConfirmByBank(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a := bankAccount()
	if err := ConfirmByBank(a, "bank:sim", now); !errors.Is(err, ErrNotConfirmable) {
		t.Fatalf("unchecked data: %v", err)
	}
	a.Verification = &store.Verification{Status: store.VerificationApproved, Digest: CheckedDigest(a)}
	if err := ConfirmByBank(a, "bank:sim", now); err != nil {
		t.Fatal(err)
	}
	if a.Level != store.LevelConfirmed || a.ConfirmationMethod != store.EvidenceBank || len(a.Evidence) != 1 ||
		a.Evidence[0] != (store.Evidence{Kind: store.EvidenceBank, At: now, Ref: "bank:sim", Digest: CheckedDigest(a)}) {
		t.Fatalf("after ConfirmByBank: %+v", a)
	}
	if err := ConfirmByBank(a, "bank:sim", now); !errors.Is(err, ErrNotConfirmable) {
		t.Fatalf("already confirmed: %v", err)
	}
}

func TestConfirmWaiting(t *testing.T) {
	a := bankAccount()
	d := CheckedDigest(a)
	a.Evidence = []store.Evidence{{Kind: store.EvidenceBank, Ref: "bank:sim", Digest: d}}
	if ConfirmWaiting(a) {
		t.Fatal("confirmed before the check")
	}
	a.Verification = &store.Verification{Status: store.VerificationApproved, Digest: d}
	if !ConfirmWaiting(a) || a.Level != store.LevelConfirmed || a.ConfirmationMethod != store.EvidenceBank {
		t.Fatalf("after the check: %+v", a)
	}
	b := bankAccount()
	b.Evidence = []store.Evidence{{Kind: store.EvidenceBank, Ref: "bank:sim", Digest: "other data"}}
	b.Verification = &store.Verification{Status: store.VerificationApproved, Digest: CheckedDigest(b)}
	if ConfirmWaiting(b) || b.Level != store.LevelStandard {
		t.Fatal("confirmed by evidence for other data")
	}
}

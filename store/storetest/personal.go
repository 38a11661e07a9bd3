package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// withDocuments gives a the INN and Russian passport identifiers (the
// passport's series and number together are 10 digits) and a foreign
// document, and returns it.
func withDocuments(a *store.Account, inn, passport string) *store.Account {
	a.INN = inn
	a.Passport = nil
	if passport != "" {
		a.Passport = &store.Document{Type: store.DocPassport, Series: passport[:4], Number: passport[4:],
			IssueDate: "2000-03-01", Issuer: "ОВД района Арбат г. Москвы", DepartmentCode: "772-001"}
	}
	a.ForeignDocument = &store.Document{Type: store.DocForeign, Series: "AB", Number: "1234567",
		IssueDate: "2019-01-02", ExpiryDate: "2029-01-01", Issuer: "Republic of Kazakhstan"}
	return a
}

func personalTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"RoundTrip", testPersonalRoundTrip},
		{"ClearNested", testPersonalClear},
		{"DocumentIdentifiersUnique", testPersonalUnique},
		{"ConcurrentCreateEachIdentifier", testPersonalConcurrentCreate},
		{"CloneIsolation", testPersonalClone},
		{"StoreIsolation", testPersonalCopies},
		{"Delete", testAccountDelete},
		{"DeleteMissing", testAccountDeleteMissing},
	}
}

func testPersonalRoundTrip(t *testing.T, s store.Durable, clk *Clock) {
	a := withDocuments(newAccount(clk, "acc-1", "+79001234567", "a@example.ru", "12345678901"), "500100732259", "4510123456")
	mustCreateAccount(t, s, a)
	checkAccount(t, "GetAccount", mustGetAccount(t, s, "acc-1"), a)
	for _, kind := range store.IdentifierKinds {
		got, err := s.FindAccount(ctx(t), kind, a.Identifier(kind))
		if err != nil {
			t.Fatalf("FindAccount(%s): %v", kind, err)
		}
		checkAccount(t, "FindAccount "+string(kind), got, a)
	}
	if got := a.Identifier(store.IdentifierPassport); got != "4510123456" {
		t.Fatalf("Identifier(passport) = %q, want series+number 4510123456", got)
	}
	// Every field changed by an update is stored.
	clk.Advance(time.Hour)
	want := a.Clone()
	want.INN = "7707083893"
	want.Passport.Number, want.Passport.IssueDate, want.Passport.Issuer = "654321", "2010-05-05", "МВД"
	want.Birthplace, want.Citizenship = "г. Казань", "KAZ"
	want.RegistrationAddress, want.ResidenceAddress = "Казань", "Казань, ул. Баумана"
	want.ForeignDocument.ExpiryDate = "2030-12-31"
	want.DriversLicence.Number = "000001"
	want.MedicalPolicy.Issuer = "ТФОМС"
	want.ConfirmationMethod = store.EvidenceLetter
	want.Verification = &store.Verification{ID: "chk-2", Status: store.VerificationRejected, Reason: "passport_invalid",
		Digest: "sha256:ff", RequestedAt: clk.Now()}
	want.Evidence = append(want.Evidence, store.Evidence{Kind: store.EvidenceLetter, At: clk.Now(), Ref: "letter", Digest: "d"})
	want.Letter = &store.LetterCode{CodeHash: []byte("hash"), Digest: "d1", Address: "Казань", SentAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}
	want.Factors = &store.SecondFactors{Backup: &store.BackupCodes{Hashes: []string{"h3"}, CreatedAt: clk.Now()}, Codes: store.CodeChannelEmail}
	want.UpdatedAt = clk.Now()
	got, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error {
		*u = *want.Clone()
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	checkAccount(t, "UpdateAccount result", got, want)
	checkAccount(t, "GetAccount after update", mustGetAccount(t, s, "acc-1"), want)
	for _, kind := range []store.IdentifierKind{store.IdentifierINN, store.IdentifierPassport} {
		got, err := s.FindAccount(ctx(t), kind, want.Identifier(kind))
		if err != nil || got.ID != "acc-1" {
			t.Fatalf("FindAccount(new %s): got %v, %v", kind, got, err)
		}
		if _, err := s.FindAccount(ctx(t), kind, a.Identifier(kind)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindAccount(old %s): got %v, want ErrNotFound", kind, err)
		}
	}
}

func testPersonalClear(t *testing.T, s store.Durable, clk *Clock) {
	a := withDocuments(newAccount(clk, "acc-1", "+79001234567", "", ""), "500100732259", "4510123456")
	mustCreateAccount(t, s, a)
	want := &store.Account{ID: "acc-1", Level: store.LevelSimplified, Phone: a.Phone, CreatedAt: a.CreatedAt, UpdatedAt: clk.Now()}
	if _, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error {
		*u = *want.Clone()
		return nil
	}); err != nil {
		t.Fatalf("UpdateAccount(clear): %v", err)
	}
	checkAccount(t, "GetAccount after clearing", mustGetAccount(t, s, "acc-1"), want)
	for _, kind := range []store.IdentifierKind{store.IdentifierINN, store.IdentifierPassport} {
		if _, err := s.FindAccount(ctx(t), kind, a.Identifier(kind)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindAccount(cleared %s): got %v, want ErrNotFound", kind, err)
		}
	}
	// Empty identifiers of the new kinds never collide either.
	mustCreateAccount(t, s, newAccount(clk, "acc-2", "+79007654321", "", ""))
}

func testPersonalUnique(t *testing.T, s store.Durable, clk *Clock) {
	first := withDocuments(newAccount(clk, "acc-1", "+79001111111", "", ""), "500100732259", "4510123456")
	mustCreateAccount(t, s, first)
	second := withDocuments(newAccount(clk, "acc-2", "+79002222222", "", ""), "7707083893", "4511654321")
	mustCreateAccount(t, s, second)
	for _, kind := range []store.IdentifierKind{store.IdentifierINN, store.IdentifierPassport} {
		dup := withDocuments(newAccount(clk, "dup", "+79003333333", "", ""), "1111111111", "9999000000")
		switch kind {
		case store.IdentifierINN:
			dup.INN = first.INN
		case store.IdentifierPassport:
			dup.Passport.Series, dup.Passport.Number = first.Passport.Series, first.Passport.Number
		}
		if err := s.CreateAccount(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateAccount(taken %s): got %v, want ErrConflict", kind, err)
		}
		if _, err := s.GetAccount(ctx(t), "dup"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetAccount(rejected dup, %s): got %v, want ErrNotFound", kind, err)
		}
		if _, err := s.FindAccount(ctx(t), store.IdentifierPhone, dup.Phone); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindAccount(phone of rejected dup, %s): got %v, want ErrNotFound", kind, err)
		}
		_, err := s.UpdateAccount(ctx(t), "acc-2", func(u *store.Account) error {
			u.LastName = "Thief"
			switch kind {
			case store.IdentifierINN:
				u.INN = first.INN
			case store.IdentifierPassport:
				u.Passport.Series, u.Passport.Number = first.Passport.Series, first.Passport.Number
			}
			return nil
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("UpdateAccount(steal %s): got %v, want ErrConflict", kind, err)
		}
		checkAccount(t, "victim after steal "+string(kind), mustGetAccount(t, s, "acc-1"), first)
		checkAccount(t, "thief after steal "+string(kind), mustGetAccount(t, s, "acc-2"), second)
		got, err := s.FindAccount(ctx(t), kind, first.Identifier(kind))
		if err != nil || got.ID != "acc-1" {
			t.Fatalf("FindAccount(%s) after steal: got %v, %v; want acc-1", kind, got, err)
		}
	}
	// The same 10 digits as an INN and as a passport are different identifiers.
	third := withDocuments(newAccount(clk, "acc-3", "+79004444444", "", ""), first.Identifier(store.IdentifierPassport), "")
	mustCreateAccount(t, s, third)
}

func testPersonalConcurrentCreate(t *testing.T, s store.Durable, clk *Clock) {
	// Two registrations racing for one identifier never yield two accounts,
	// whichever identifier it is.
	shared := map[store.IdentifierKind]string{
		store.IdentifierPhone:    "+79001234567",
		store.IdentifierEmail:    "race@example.ru",
		store.IdentifierSNILS:    "12345678901",
		store.IdentifierINN:      "500100732259",
		store.IdentifierPassport: "4510123456",
	}
	for k, kind := range store.IdentifierKinds {
		const n = 2
		ids := func(i int) string { return fmt.Sprintf("acc-%d-%d", k, i) }
		errs := concurrently(n, func(i int) error {
			a := withDocuments(newAccount(clk, ids(i), fmt.Sprintf("+7900%d%02d0000", k, i), fmt.Sprintf("u%d-%d@example.ru", k, i), ""),
				fmt.Sprintf("%02d%02d000000", k, i), fmt.Sprintf("77%02d%02d0000", k, i))
			switch kind {
			case store.IdentifierPhone:
				a.Phone = shared[kind]
			case store.IdentifierEmail:
				a.Email = shared[kind]
			case store.IdentifierSNILS:
				a.SNILS = shared[kind]
			case store.IdentifierINN:
				a.INN = shared[kind]
			case store.IdentifierPassport:
				a.Passport.Series, a.Passport.Number = shared[kind][:4], shared[kind][4:]
			}
			return s.CreateAccount(ctx(t), a)
		})
		winner := exactlyOneNil(t, "CreateAccount(same "+string(kind)+")", errs, store.ErrConflict)
		got, err := s.FindAccount(ctx(t), kind, shared[kind])
		if err != nil || got.ID != ids(winner) {
			t.Fatalf("FindAccount(%s): got %v, %v; want %s", kind, got, err, ids(winner))
		}
		if _, err := s.GetAccount(ctx(t), ids(1-winner)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetAccount(loser of %s): got %v, want ErrNotFound", kind, err)
		}
	}
}

func testPersonalClone(t *testing.T, _ store.Durable, clk *Clock) {
	a := withDocuments(newAccount(clk, "acc-1", "+79001234567", "a@example.ru", "12345678901"), "500100732259", "4510123456")
	want := normAccount(a)
	c := a.Clone()
	checkAccount(t, "Clone", c, a)
	c.Passport.Number = "000000"
	c.ForeignDocument.Issuer = "x"
	c.DriversLicence.Series = "x"
	c.MedicalPolicy.Number = "x"
	c.Verification.Status = store.VerificationPending
	c.Evidence[0].Ref = "x"
	c.Letter.CodeHash[0] = 0xee
	c.Letter.Attempts = 9
	if c.Factors == nil {
		t.Fatal("the fixture has no factors to clone")
	}
	c.Factors.TOTP.Sealed[0] = 0xee
	c.Factors.Backup.Hashes[0] = "x"
	c.Factors.Required = false
	if got := normAccount(a); !equalAccounts(got, want) {
		t.Fatalf("mutating a Clone changed the original:\n got %+v\nwant %+v", got, want)
	}
	if (*store.Account)(nil).Clone() != nil {
		t.Fatal("nil.Clone() is not nil")
	}
}

func testPersonalCopies(t *testing.T, s store.Durable, clk *Clock) {
	a := withDocuments(newAccount(clk, "acc-1", "+79001234567", "", ""), "500100732259", "4510123456")
	want := a.Clone()
	mustCreateAccount(t, s, a)
	mutate := func(u *store.Account) {
		u.Passport.Number = "999999"
		u.DriversLicence.Number = "mutated"
		u.Verification.Reason = "mutated"
		u.Evidence[0].Ref = "mutated"
		u.Letter.CodeHash[0] = 0xee
	}
	mutate(a) // the caller reuses what it stored
	got := mustGetAccount(t, s, "acc-1")
	checkAccount(t, "GetAccount after mutating the input", got, want)
	mutate(got)
	checkAccount(t, "GetAccount after mutating a result", mustGetAccount(t, s, "acc-1"), want)
	found, err := s.FindAccount(ctx(t), store.IdentifierPassport, "4510123456")
	if err != nil {
		t.Fatalf("FindAccount(passport): %v", err)
	}
	mutate(found)
	var kept *store.Account
	upd, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error { kept = u; u.Gender = "F"; return nil })
	if err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	want.Gender = "F"
	mutate(kept)
	mutate(upd)
	checkAccount(t, "GetAccount after mutating update values", mustGetAccount(t, s, "acc-1"), want)
	if got, err := s.FindAccount(ctx(t), store.IdentifierPassport, "4510123456"); err != nil || got.ID != "acc-1" {
		t.Fatalf("FindAccount(passport) after mutations: %v, %v", got, err)
	}
}

func testAccountDelete(t *testing.T, s store.Durable, clk *Clock) {
	a := withDocuments(newAccount(clk, "acc-1", "+79001234567", "a@example.ru", "12345678901"), "500100732259", "4510123456")
	b := newAccount(clk, "acc-2", "+79007654321", "b@example.ru", "")
	mustCreateAccount(t, s, a)
	mustCreateAccount(t, s, b)
	for _, c := range []*store.Consent{
		{AccountID: "acc-1", ClientID: "rp-1", Scopes: []string{"openid"}, GrantedAt: clk.Now()},
		{AccountID: "acc-1", ClientID: "rp-2", Scopes: []string{"openid"}, GrantedAt: clk.Now()},
		{AccountID: "acc-2", ClientID: "rp-1", Scopes: []string{"openid"}, GrantedAt: clk.Now()},
	} {
		if err := s.PutConsent(ctx(t), c); err != nil {
			t.Fatalf("PutConsent: %v", err)
		}
	}
	if err := s.DeleteAccount(ctx(t), "acc-1"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if _, err := s.GetAccount(ctx(t), "acc-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAccount(deleted): got %v, want ErrNotFound", err)
	}
	for _, kind := range store.IdentifierKinds {
		if _, err := s.FindAccount(ctx(t), kind, a.Identifier(kind)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindAccount(%s of deleted): got %v, want ErrNotFound", kind, err)
		}
	}
	for _, client := range []string{"rp-1", "rp-2"} {
		if _, err := s.GetConsent(ctx(t), "acc-1", client); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetConsent(deleted account, %s): got %v, want ErrNotFound", client, err)
		}
	}
	if _, err := s.GetConsent(ctx(t), "acc-2", "rp-1"); err != nil {
		t.Fatalf("GetConsent(other account): %v", err)
	}
	checkAccount(t, "other account", mustGetAccount(t, s, "acc-2"), b)
	if _, err := s.UpdateAccount(ctx(t), "acc-1", func(*store.Account) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateAccount(deleted): got %v, want ErrNotFound", err)
	}
	// Its identifiers are free for a new account.
	c := withDocuments(newAccount(clk, "acc-3", a.Phone, a.Email, a.SNILS), a.INN, a.Identifier(store.IdentifierPassport))
	mustCreateAccount(t, s, c)
	for _, kind := range store.IdentifierKinds {
		got, err := s.FindAccount(ctx(t), kind, a.Identifier(kind))
		if err != nil || got.ID != "acc-3" {
			t.Fatalf("FindAccount(reused %s): got %v, %v; want acc-3", kind, got, err)
		}
	}
	// The ID is free as well.
	mustCreateAccount(t, s, newAccount(clk, "acc-1", "+79000000001", "", ""))
}

func testAccountDeleteMissing(t *testing.T, s store.Durable, clk *Clock) {
	if err := s.DeleteAccount(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteAccount(missing): got %v, want ErrNotFound", err)
	}
	mustCreateAccount(t, s, newAccount(clk, "acc-1", "+79001234567", "", ""))
	if err := s.DeleteAccount(ctx(t), "acc-1"); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	if err := s.DeleteAccount(ctx(t), "acc-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteAccount(twice): got %v, want ErrNotFound", err)
	}
}

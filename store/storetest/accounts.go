package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// errBoom is what updaters return to abort an update.
var errBoom = errors.New("storetest: updater refused")

var moscow = time.FixedZone("MSK", 3*60*60)

// newAccount returns a fully populated account with the given identifiers.
func newAccount(clk *Clock, id, phone, email, snils string) *store.Account {
	created := clk.Now().Add(-48*time.Hour + 123456*time.Microsecond)
	return &store.Account{
		ID:            id,
		Level:         store.LevelStandard,
		LastName:      "Иванов",
		FirstName:     "Иван",
		MiddleName:    "Иванович",
		Birthdate:     "1980-02-29",
		Gender:        "M",
		Phone:         phone,
		Email:         email,
		SNILS:         snils,
		PhoneVerified: phone != "",
		EmailVerified: false,
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2g",

		// Personal data that is not an identifier (see withDocuments for
		// the INN and the passport).
		Birthplace:          "г. Москва",
		Citizenship:         "RUS",
		RegistrationAddress: "г. Москва, ул. Тверская, д. 1, кв. 2",
		ResidenceAddress:    "г. Москва, ул. Арбат, д. 3",
		DriversLicence: &store.Document{Type: store.DocDriversLicence, Series: "7701", Number: "123456",
			IssueDate: "2015-06-01", ExpiryDate: "2025-06-01", Issuer: "ГИБДД 7701"},
		MedicalPolicy:      &store.Document{Type: store.DocMedicalPolicy, Number: "7700000000000000", IssueDate: "2011-01-01"},
		ConfirmationMethod: store.EvidenceOperator,
		Verification: &store.Verification{ID: "chk-" + id, Status: store.VerificationApproved, Digest: "sha256:0a1b",
			RequestedAt: created.Add(time.Minute).In(moscow), DecidedAt: created.Add(2*time.Minute + 5*time.Microsecond)},
		Evidence: []store.Evidence{
			{Kind: store.EvidenceRegistry, At: created.Add(2 * time.Minute), Ref: "chk-" + id, Digest: "sha256:0a1b"},
			{Kind: store.EvidenceOperator, At: created.Add(3 * time.Hour).In(moscow), Ref: "op-1"},
		},
		Letter: &store.LetterCode{CodeHash: []byte{0, 1, 2, 0xff}, Address: "г. Москва, ул. Арбат, д. 3",
			SentAt: created.Add(time.Hour), ExpiresAt: created.Add(90 * 24 * time.Hour), Attempts: 2},
		Factors: &store.SecondFactors{
			TOTP:     &store.TOTPFactor{Sealed: []byte{0, 's', 0xff}, EnrolledAt: created.Add(time.Minute).In(moscow)},
			Backup:   &store.BackupCodes{Hashes: []string{"h1", "h2"}, CreatedAt: created.Add(2 * time.Minute)},
			Codes:    store.CodeChannelSMS,
			Required: true,
		},

		CreatedAt: created,
		UpdatedAt: created.Add(time.Hour).In(moscow),
	}
}

// normAccount returns a deep copy of a with its times normalized (normTime)
// and empty slices nil, for reflect.DeepEqual.
func normAccount(a *store.Account) store.Account {
	n := *a.Clone()
	n.CreatedAt = normTime(n.CreatedAt)
	n.UpdatedAt = normTime(n.UpdatedAt)
	if v := n.Verification; v != nil {
		v.RequestedAt, v.DecidedAt = normTime(v.RequestedAt), normTime(v.DecidedAt)
	}
	if len(n.Evidence) == 0 {
		n.Evidence = nil
	}
	for i := range n.Evidence {
		n.Evidence[i].At = normTime(n.Evidence[i].At)
	}
	if l := n.Letter; l != nil {
		l.SentAt, l.ExpiresAt = normTime(l.SentAt), normTime(l.ExpiresAt)
		l.CodeHash = normBytes(l.CodeHash)
	}
	if f := n.Factors; f != nil {
		if f.TOTP != nil {
			f.TOTP.EnrolledAt = normTime(f.TOTP.EnrolledAt)
			f.TOTP.Sealed = normBytes(f.TOTP.Sealed)
		}
		if f.Backup != nil {
			f.Backup.CreatedAt = normTime(f.Backup.CreatedAt)
		}
		for i := range f.Banks {
			f.Banks[i].LinkedAt = normTime(f.Banks[i].LinkedAt)
		}
	}
	return n
}

// equalAccounts compares normalized accounts.
func equalAccounts(a, b store.Account) bool { return reflect.DeepEqual(a, b) }

func checkAccount(t *testing.T, what string, got, want *store.Account) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: got nil account", what)
	}
	if g, w := normAccount(got), normAccount(want); !equalAccounts(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func mustCreateAccount(t *testing.T, s store.Accounts, a *store.Account) {
	t.Helper()
	if err := s.CreateAccount(ctx(t), a); err != nil {
		t.Fatalf("CreateAccount(%s): %v", a.ID, err)
	}
}

func mustGetAccount(t *testing.T, s store.Accounts, id string) *store.Account {
	t.Helper()
	a, err := s.GetAccount(ctx(t), id)
	if err != nil {
		t.Fatalf("GetAccount(%s): %v", id, err)
	}
	return a
}

var identifierKinds = []store.IdentifierKind{store.IdentifierPhone, store.IdentifierEmail, store.IdentifierSNILS}

// setIdentifier sets the account's identifier of the kind.
func setIdentifier(a *store.Account, kind store.IdentifierKind, v string) {
	switch kind {
	case store.IdentifierPhone:
		a.Phone = v
	case store.IdentifierEmail:
		a.Email = v
	case store.IdentifierSNILS:
		a.SNILS = v
	}
}

func accountTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"CreateGet", testAccountCreateGet},
		{"GetMissing", testAccountGetMissing},
		{"DuplicateID", testAccountDuplicateID},
		{"DuplicateIdentifier", testAccountDuplicateIdentifier},
		{"EmptyIdentifiersNotUnique", testAccountEmptyIdentifiers},
		{"Find", testAccountFind},
		{"Update", testAccountUpdate},
		{"UpdateMissing", testAccountUpdateMissing},
		{"UpdaterError", testAccountUpdaterError},
		{"UpdateStealsIdentifier", testAccountUpdateSteal},
		{"UpdateReleasesIdentifier", testAccountUpdateRelease},
		{"UpdateImmutable", testAccountUpdateImmutable},
		{"Copies", testAccountCopies},
		{"ConcurrentCreate", testAccountConcurrentCreate},
		{"ConcurrentUpdate", testAccountConcurrentUpdate},
	}
}

func testAccountCreateGet(t *testing.T, s store.Durable, clk *Clock) {
	want := newAccount(clk, "acc-1", "+79001234567", "ivan@example.ru", "12345678901")
	mustCreateAccount(t, s, want)
	checkAccount(t, "GetAccount", mustGetAccount(t, s, "acc-1"), want)

	// A minimal account: only one identifier, no password, zero-ish fields.
	minimal := &store.Account{ID: "acc-2", Level: store.LevelSimplified, FirstName: "Пётр", Email: "petr@example.ru",
		CreatedAt: clk.Now(), UpdatedAt: clk.Now()}
	mustCreateAccount(t, s, minimal)
	checkAccount(t, "GetAccount minimal", mustGetAccount(t, s, "acc-2"), minimal)
}

func testAccountGetMissing(t *testing.T, s store.Durable, clk *Clock) {
	if _, err := s.GetAccount(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAccount(missing): got %v, want ErrNotFound", err)
	}
	mustCreateAccount(t, s, newAccount(clk, "acc-1", "+79001234567", "", ""))
	if _, err := s.GetAccount(ctx(t), "acc-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAccount(other id): got %v, want ErrNotFound", err)
	}
}

func testAccountDuplicateID(t *testing.T, s store.Durable, clk *Clock) {
	first := newAccount(clk, "acc-1", "+79001234567", "a@example.ru", "11111111111")
	mustCreateAccount(t, s, first)
	dup := newAccount(clk, "acc-1", "+79007654321", "b@example.ru", "22222222222")
	dup.LastName = "Петров"
	if err := s.CreateAccount(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateAccount(duplicate ID): got %v, want ErrConflict", err)
	}
	checkAccount(t, "GetAccount after conflict", mustGetAccount(t, s, "acc-1"), first)
	for _, kind := range identifierKinds {
		if _, err := s.FindAccount(ctx(t), kind, dup.Identifier(kind)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindAccount(%s of rejected account): got %v, want ErrNotFound", kind, err)
		}
	}
}

func testAccountDuplicateIdentifier(t *testing.T, s store.Durable, clk *Clock) {
	first := newAccount(clk, "acc-1", "+79001234567", "a@example.ru", "11111111111")
	mustCreateAccount(t, s, first)
	others := map[store.IdentifierKind]string{
		store.IdentifierPhone: "+79009999999",
		store.IdentifierEmail: "other@example.ru",
		store.IdentifierSNILS: "99999999999",
	}
	for i, kind := range identifierKinds {
		dup := newAccount(clk, fmt.Sprintf("dup-%d", i), others[store.IdentifierPhone], others[store.IdentifierEmail], others[store.IdentifierSNILS])
		setIdentifier(dup, kind, first.Identifier(kind))
		if err := s.CreateAccount(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateAccount(taken %s): got %v, want ErrConflict", kind, err)
		}
		if _, err := s.GetAccount(ctx(t), dup.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetAccount(rejected %s): got %v, want ErrNotFound", dup.ID, err)
		}
		for _, k := range identifierKinds {
			got, err := s.FindAccount(ctx(t), k, dup.Identifier(k))
			if k == kind {
				if err != nil || got.ID != first.ID {
					t.Fatalf("FindAccount(%s) after rejected create: got %v, %v; want %s", k, got, err, first.ID)
				}
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("FindAccount(%s of rejected account): got %v, want ErrNotFound", k, err)
			}
		}
	}
	// The free identifiers can still be used by a new account.
	ok := newAccount(clk, "acc-2", others[store.IdentifierPhone], others[store.IdentifierEmail], others[store.IdentifierSNILS])
	mustCreateAccount(t, s, ok)
	checkAccount(t, "GetAccount acc-2", mustGetAccount(t, s, "acc-2"), ok)
	checkAccount(t, "GetAccount acc-1", mustGetAccount(t, s, "acc-1"), first)
}

func testAccountEmptyIdentifiers(t *testing.T, s store.Durable, clk *Clock) {
	// Absent identifiers are empty strings; they never collide.
	a := newAccount(clk, "acc-1", "", "a@example.ru", "")
	b := newAccount(clk, "acc-2", "", "b@example.ru", "")
	c := newAccount(clk, "acc-3", "+79001234567", "", "")
	for _, acc := range []*store.Account{a, b, c} {
		mustCreateAccount(t, s, acc)
	}
	for _, acc := range []*store.Account{a, b, c} {
		checkAccount(t, "GetAccount "+acc.ID, mustGetAccount(t, s, acc.ID), acc)
	}
	for _, kind := range identifierKinds {
		if _, err := s.FindAccount(ctx(t), kind, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindAccount(%s, empty): got %v, want ErrNotFound", kind, err)
		}
	}
}

func testAccountFind(t *testing.T, s store.Durable, clk *Clock) {
	a := newAccount(clk, "acc-1", "+79001234567", "a@example.ru", "11111111111")
	b := newAccount(clk, "acc-2", "+79007654321", "b@example.ru", "22222222222")
	mustCreateAccount(t, s, a)
	mustCreateAccount(t, s, b)
	for _, want := range []*store.Account{a, b} {
		for _, kind := range identifierKinds {
			got, err := s.FindAccount(ctx(t), kind, want.Identifier(kind))
			if err != nil {
				t.Fatalf("FindAccount(%s, %s): %v", kind, want.Identifier(kind), err)
			}
			checkAccount(t, "FindAccount "+string(kind), got, want)
		}
	}
	// An identifier is looked up only under its own kind.
	if _, err := s.FindAccount(ctx(t), store.IdentifierEmail, a.Phone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindAccount(email, a phone number): got %v, want ErrNotFound", err)
	}
	if _, err := s.FindAccount(ctx(t), store.IdentifierPhone, "+79000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindAccount(unknown phone): got %v, want ErrNotFound", err)
	}
}

func testAccountUpdate(t *testing.T, s store.Durable, clk *Clock) {
	a := newAccount(clk, "acc-1", "+79001234567", "a@example.ru", "")
	mustCreateAccount(t, s, a)
	clk.Advance(time.Minute)
	want := *a
	want.Level = store.LevelConfirmed
	want.LastName = "Сидоров"
	want.Phone = "+79007777777"
	want.SNILS = "33333333333"
	want.EmailVerified = true
	want.PasswordHash = ""
	want.UpdatedAt = clk.Now().Add(789 * time.Microsecond)
	calls := 0
	got, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error {
		calls++
		checkAccount(t, "updater input", u, a)
		u.Level, u.LastName, u.Phone, u.SNILS = want.Level, want.LastName, want.Phone, want.SNILS
		u.EmailVerified, u.PasswordHash, u.UpdatedAt = want.EmailVerified, want.PasswordHash, want.UpdatedAt
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	if calls == 0 {
		t.Fatal("UpdateAccount did not call the updater")
	}
	checkAccount(t, "UpdateAccount result", got, &want)
	checkAccount(t, "GetAccount after update", mustGetAccount(t, s, "acc-1"), &want)
	for _, kind := range identifierKinds {
		got, err := s.FindAccount(ctx(t), kind, want.Identifier(kind))
		if err != nil {
			t.Fatalf("FindAccount(new %s): %v", kind, err)
		}
		checkAccount(t, "FindAccount(new "+string(kind)+")", got, &want)
	}
	if _, err := s.FindAccount(ctx(t), store.IdentifierPhone, a.Phone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindAccount(old phone): got %v, want ErrNotFound", err)
	}
}

func testAccountUpdateMissing(t *testing.T, s store.Durable, clk *Clock) {
	called := false
	_, err := s.UpdateAccount(ctx(t), "nobody", func(*store.Account) error { called = true; return nil })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateAccount(missing): got %v, want ErrNotFound", err)
	}
	if called {
		t.Fatal("UpdateAccount(missing) called the updater")
	}
	if _, err := s.GetAccount(ctx(t), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAccount after UpdateAccount(missing): got %v, want ErrNotFound", err)
	}
}

func testAccountUpdaterError(t *testing.T, s store.Durable, clk *Clock) {
	a := newAccount(clk, "acc-1", "+79001234567", "a@example.ru", "11111111111")
	mustCreateAccount(t, s, a)
	_, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error {
		u.LastName = "Changed"
		u.Phone = "+79005555555"
		u.Email = ""
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateAccount(updater fails): got %v, want the updater's error", err)
	}
	checkAccount(t, "GetAccount after failed update", mustGetAccount(t, s, "acc-1"), a)
	if _, err := s.FindAccount(ctx(t), store.IdentifierPhone, "+79005555555"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindAccount(phone of failed update): got %v, want ErrNotFound", err)
	}
	if got, err := s.FindAccount(ctx(t), store.IdentifierEmail, a.Email); err != nil || got.ID != a.ID {
		t.Fatalf("FindAccount(email kept): got %v, %v", got, err)
	}
}

func testAccountUpdateSteal(t *testing.T, s store.Durable, clk *Clock) {
	a := newAccount(clk, "acc-1", "+79001111111", "a@example.ru", "11111111111")
	b := newAccount(clk, "acc-2", "+79002222222", "b@example.ru", "22222222222")
	mustCreateAccount(t, s, a)
	mustCreateAccount(t, s, b)
	for _, kind := range identifierKinds {
		_, err := s.UpdateAccount(ctx(t), "acc-2", func(u *store.Account) error {
			u.LastName = "Thief"
			u.Email = "fresh@example.ru" // a free identifier changed in the same update
			setIdentifier(u, kind, a.Identifier(kind))
			return nil
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("UpdateAccount(steal %s): got %v, want ErrConflict", kind, err)
		}
		checkAccount(t, "GetAccount(victim) after steal "+string(kind), mustGetAccount(t, s, "acc-1"), a)
		checkAccount(t, "GetAccount(thief) after steal "+string(kind), mustGetAccount(t, s, "acc-2"), b)
		got, err := s.FindAccount(ctx(t), kind, a.Identifier(kind))
		if err != nil || got.ID != "acc-1" {
			t.Fatalf("FindAccount(%s) after steal: got %v, %v; want acc-1", kind, got, err)
		}
		if kind != store.IdentifierEmail {
			if _, err := s.FindAccount(ctx(t), store.IdentifierEmail, "fresh@example.ru"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("FindAccount(email of rejected update): got %v, want ErrNotFound", err)
			}
		}
	}
}

func testAccountUpdateRelease(t *testing.T, s store.Durable, clk *Clock) {
	a := newAccount(clk, "acc-1", "+79001111111", "a@example.ru", "")
	mustCreateAccount(t, s, a)
	if _, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error { u.Email = ""; return nil }); err != nil {
		t.Fatalf("UpdateAccount(clear email): %v", err)
	}
	if _, err := s.FindAccount(ctx(t), store.IdentifierEmail, "a@example.ru"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindAccount(released email): got %v, want ErrNotFound", err)
	}
	// The released identifier is free for another account.
	b := newAccount(clk, "acc-2", "", "a@example.ru", "")
	mustCreateAccount(t, s, b)
	got, err := s.FindAccount(ctx(t), store.IdentifierEmail, "a@example.ru")
	if err != nil {
		t.Fatalf("FindAccount(reused email): %v", err)
	}
	checkAccount(t, "FindAccount(reused email)", got, b)
	// Keeping one's own identifier is not a conflict.
	if _, err := s.UpdateAccount(ctx(t), "acc-2", func(u *store.Account) error { u.FirstName = "Same"; return nil }); err != nil {
		t.Fatalf("UpdateAccount(keep own identifiers): %v", err)
	}
}

func testAccountUpdateImmutable(t *testing.T, s store.Durable, clk *Clock) {
	a := newAccount(clk, "acc-1", "+79001111111", "", "")
	mustCreateAccount(t, s, a)
	got, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error {
		u.ID = "acc-other"
		u.CreatedAt = clk.Now().Add(time.Hour)
		u.FirstName = "Renamed"
		return nil
	})
	// The contract allows refusing the change or ignoring it; either way the
	// ID and CreatedAt stay.
	if err == nil {
		if got.ID != "acc-1" || !sameTime(got.CreatedAt, a.CreatedAt) {
			t.Fatalf("UpdateAccount result changed ID/CreatedAt: %s %v", got.ID, got.CreatedAt)
		}
	}
	stored := mustGetAccount(t, s, "acc-1")
	if !sameTime(stored.CreatedAt, a.CreatedAt) {
		t.Fatalf("stored CreatedAt changed: got %v, want %v", stored.CreatedAt, a.CreatedAt)
	}
	if stored.ID != "acc-1" {
		t.Fatalf("stored ID changed to %q", stored.ID)
	}
	if _, err := s.GetAccount(ctx(t), "acc-other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAccount(new ID): got %v, want ErrNotFound", err)
	}
	if got, err := s.FindAccount(ctx(t), store.IdentifierPhone, a.Phone); err != nil || got.ID != "acc-1" {
		t.Fatalf("FindAccount after ID change attempt: got %v, %v", got, err)
	}
}

func testAccountCopies(t *testing.T, s store.Durable, clk *Clock) {
	a := newAccount(clk, "acc-1", "+79001111111", "a@example.ru", "")
	want := *a
	mustCreateAccount(t, s, a)
	a.LastName, a.Phone = "Mutated", "+79000000000" // caller reuses its struct
	got := mustGetAccount(t, s, "acc-1")
	checkAccount(t, "GetAccount after mutating the input", got, &want)
	got.FirstName, got.Email = "Mutated", "m@example.ru"
	checkAccount(t, "GetAccount after mutating a result", mustGetAccount(t, s, "acc-1"), &want)
	var kept *store.Account
	upd, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error { kept = u; u.Gender = "F"; return nil })
	if err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	want.Gender = "F"
	kept.MiddleName, upd.MiddleName = "Mutated", "Mutated"
	checkAccount(t, "GetAccount after mutating update values", mustGetAccount(t, s, "acc-1"), &want)
}

func testAccountConcurrentCreate(t *testing.T, s store.Durable, clk *Clock) {
	const n = 32
	errs := concurrently(n, func(i int) error {
		return s.CreateAccount(ctx(t), newAccount(clk, fmt.Sprintf("acc-%d", i), "+79001234567", fmt.Sprintf("u%d@example.ru", i), ""))
	})
	winner := exactlyOneNil(t, "CreateAccount(same phone)", errs, store.ErrConflict)
	got, err := s.FindAccount(ctx(t), store.IdentifierPhone, "+79001234567")
	if err != nil || got.ID != fmt.Sprintf("acc-%d", winner) {
		t.Fatalf("FindAccount(phone): got %v, %v; want acc-%d", got, err, winner)
	}
	for i := range n {
		_, err := s.GetAccount(ctx(t), fmt.Sprintf("acc-%d", i))
		if i != winner && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetAccount(loser acc-%d): got %v, want ErrNotFound", i, err)
		}
	}
}

func testAccountConcurrentUpdate(t *testing.T, s store.Durable, clk *Clock) {
	// Read-modify-write in one transaction: no update is lost.
	const n = 16
	mustCreateAccount(t, s, newAccount(clk, "acc-1", "+79001234567", "", ""))
	errs := concurrently(n, func(i int) error {
		_, err := s.UpdateAccount(ctx(t), "acc-1", func(u *store.Account) error {
			u.MiddleName += "x"
			return nil
		})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("UpdateAccount #%d: %v", i, err)
		}
	}
	got := mustGetAccount(t, s, "acc-1")
	if want := "Иванович" + strings.Repeat("x", n); got.MiddleName != want {
		t.Fatalf("after %d concurrent updates MiddleName is %q, want %q: updates were lost", n, got.MiddleName, want)
	}
}

// exactlyOneNil checks that exactly one of errs is nil and every other is
// loser (errors.Is); it returns the index of the nil one.
func exactlyOneNil(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("%s: callers %d and %d both succeeded", what, winner, i)
			}
			winner = i
		case !errors.Is(err, loser):
			t.Fatalf("%s: caller %d got %v, want %v", what, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no caller succeeded", what)
	}
	return winner
}

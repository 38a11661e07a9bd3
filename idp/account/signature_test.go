package account_test

import (
	"errors"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/store"
)

func TestConfirmBySignature(t *testing.T) {
	checked := func(level store.Level) *store.Account {
		a := &store.Account{ID: "a", Level: level, LastName: "Ёлкина", FirstName: "Анна", MiddleName: "Сергеевна", SNILS: "11223344595"}
		a.Verification = &store.Verification{ID: "v", Status: store.VerificationApproved, Digest: account.CheckedDigest(a)}
		return a
	}
	match := account.SignedIdentity{SNILS: "11223344595", LastName: "ЕЛКИНА", FirstName: "анна", MiddleName: "Сергеевна", Fingerprint: "fp", Qualified: true}
	unchecked := checked(store.LevelStandard)
	unchecked.Verification.Digest = "stale"
	for _, tc := range []struct {
		name    string
		a       *store.Account
		id      account.SignedIdentity
		want    error
		changed bool
	}{
		{"match", checked(store.LevelStandard), match, nil, true},
		{"already confirmed", checked(store.LevelConfirmed), match, nil, false},
		{"software", checked(store.LevelStandard), account.SignedIdentity{SNILS: match.SNILS, LastName: match.LastName, FirstName: match.FirstName, MiddleName: match.MiddleName}, account.ErrSignatureNotQualified, false},
		{"simplified", checked(store.LevelSimplified), match, account.ErrSignatureUnchecked, false},
		{"data changed since the check", unchecked, match, account.ErrSignatureUnchecked, false},
		{"other snils", checked(store.LevelStandard), account.SignedIdentity{SNILS: "08765430300", LastName: match.LastName, FirstName: match.FirstName, MiddleName: match.MiddleName, Qualified: true}, account.ErrSignatureSNILS, false},
		{"other name", checked(store.LevelStandard), account.SignedIdentity{SNILS: match.SNILS, LastName: "Иванова", FirstName: match.FirstName, MiddleName: match.MiddleName, Qualified: true}, account.ErrSignatureName, false},
		{"no patronymic", checked(store.LevelStandard), account.SignedIdentity{SNILS: match.SNILS, LastName: match.LastName, FirstName: match.FirstName, Qualified: true}, account.ErrSignatureName, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.a.Level
			changed, err := account.ConfirmBySignature(tc.a, tc.id, time.Now())
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) || changed != tc.changed {
				t.Fatalf("changed %v err %v, want %v %v", changed, err, tc.changed, tc.want)
			}
			switch {
			case changed:
				if tc.a.Level != store.LevelConfirmed || tc.a.ConfirmationMethod != store.EvidenceSignature || len(account.CurrentEvidence(tc.a)) != 1 || tc.a.Evidence[0].Ref != "fp" {
					t.Errorf("confirmed as %+v", tc.a)
				}
			case tc.a.Level != before || len(tc.a.Evidence) != 0:
				t.Errorf("a refusal changed the account: %+v", tc.a)
			}
		})
	}
}

package account

import (
	"errors"
	"strings"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Confirming the identity with a qualified electronic signature: a
// qualified certificate whose SNILS and full name are those of the
// account's personal data, as a registry check verified them, raises a
// standard account to confirmed (confirmation method "signature"), with
// evidence naming the certificate (its fingerprint; the account's bound
// certificate gives issuer and serial). Anything else changes nothing.

// SignedIdentity is what a verified certificate says of its owner.
type SignedIdentity struct {
	SNILS, LastName, FirstName, MiddleName string
	Fingerprint                            string
	Qualified                              bool
}

// Why a signature does not confirm the account.
var (
	// ErrSignatureNotQualified: a software certificate proves a login,
	// not an identity.
	ErrSignatureNotQualified = errors.New("account: the certificate is not qualified")
	// ErrSignatureUnchecked: the account's personal data are not checked
	// (below standard, or changed since the check).
	ErrSignatureUnchecked = errors.New("account: personal data not checked")
	// ErrSignatureSNILS, ErrSignatureName: the certificate names another
	// SNILS, or another name, than the account's checked data.
	ErrSignatureSNILS = errors.New("account: the certificate's SNILS differs")
	ErrSignatureName  = errors.New("account: the certificate's name differs")
)

// CanConfirmBySignature reports why the identity cannot confirm the
// account, or nil when it can. An account already confirmed answers nil
// too: ConfirmBySignature then changes nothing.
func CanConfirmBySignature(a *store.Account, id SignedIdentity) error {
	switch {
	case a.Level == store.LevelConfirmed:
		return nil
	case !id.Qualified:
		return ErrSignatureNotQualified
	case a.Level != store.LevelStandard || !Verified(a):
		return ErrSignatureUnchecked
	case id.SNILS != a.SNILS:
		return ErrSignatureSNILS
	case !SameName(id.LastName, a.LastName) || !SameName(id.FirstName, a.FirstName) || !SameName(id.MiddleName, a.MiddleName):
		return ErrSignatureName
	}
	return nil
}

// ConfirmBySignature raises the account to confirmed when the identity
// may (CanConfirmBySignature), recording the evidence; it reports
// whether it changed the account. Run it inside UpdateAccount.
func ConfirmBySignature(a *store.Account, id SignedIdentity, now time.Time) (bool, error) {
	if err := CanConfirmBySignature(a, id); err != nil || a.Level == store.LevelConfirmed {
		return false, err
	}
	a.Level = store.LevelConfirmed
	a.ConfirmationMethod = store.EvidenceSignature
	a.Evidence = append(a.Evidence, store.Evidence{Kind: store.EvidenceSignature, At: now, Ref: id.Fingerprint, Digest: CheckedDigest(a)})
	a.UpdatedAt = now
	return true, nil
}

// SameName reports whether two name parts are the same but for case and
// ё written as е (registries and certification centres differ in both).
func SameName(a, b string) bool {
	fold := strings.NewReplacer("ё", "е", "Ё", "Е")
	return strings.EqualFold(fold.Replace(a), fold.Replace(b))
}

package account

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/esia-oidc/idp/store"
)

// CheckedDigest is a hash of the personal data that a registry check
// vouches for: names, birth date, gender, citizenship, SNILS, INN and the
// identity document. A check records the digest of what it checked
// (store.Verification.Digest, store.Evidence.Digest); the data stay
// verified while the account's digest is the same, and a change to any of
// them needs another check.
func CheckedDigest(a *store.Account) string {
	doc := func(d *store.Document) []string {
		if d == nil {
			return nil
		}
		return []string{d.Type, d.Series, d.Number, d.IssueDate, d.ExpiryDate, d.Issuer, d.DepartmentCode}
	}
	b, _ := json.Marshal([]any{
		"v1", a.LastName, a.FirstName, a.MiddleName, a.Birthdate, a.Gender, a.Citizenship,
		a.SNILS, a.INN, doc(a.Passport), doc(a.ForeignDocument),
	})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Verified reports whether the account's checked data are as a passed
// registry check saw them.
func Verified(a *store.Account) bool {
	v := a.Verification
	return v != nil && v.Status == store.VerificationApproved && v.Digest == CheckedDigest(a)
}

// CurrentEvidence lists the evidence that vouches for the account's data
// as they are now (its digest is the current one), oldest first.
func CurrentEvidence(a *store.Account) []store.Evidence {
	d := CheckedDigest(a)
	var out []store.Evidence
	for _, e := range a.Evidence {
		if e.Digest == d {
			out = append(out, e)
		}
	}
	return out
}

package oidc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/esia-oidc/idp/store"
)

// subjectFor returns the sub of an account as the client sees it (OpenID
// Connect Core §8): the account id for a client registered with the public
// subject type, and otherwise a pairwise identifier of the client's own,
// HMAC-SHA-256 of the account id under the client's random salt. Pairwise
// identifiers are stable (the salt never changes), opaque, and cannot be
// linked across clients without the salts. The sector of a pairwise
// identifier is the client itself: two clients that need the same sub for a
// citizen register the public type.
func subjectFor(c *store.Client, accountID string) string {
	if c == nil || !c.Pairwise() || len(c.SubjectSalt) == 0 || accountID == "" {
		return accountID
	}
	m := hmac.New(sha256.New, c.SubjectSalt)
	m.Write([]byte(accountID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

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
// identifiers are stable (the salt and the type never change), opaque, and
// cannot be linked across clients without the salts. The sector of a
// pairwise identifier is the client itself: two clients that need the same
// sub for a citizen register the public type. A pairwise client without a
// salt (a broken record) gets "", which no token or answer accepts: it
// fails closed rather than hand out the shared account id.
func subjectFor(c *store.Client, accountID string) string {
	if c == nil || !c.Pairwise() || accountID == "" {
		return accountID
	}
	return pairwise(c, "sub", accountID)
}

// sidFor returns the sid of an SSO session as the client sees it: for a
// pairwise client a value of its own, so that two relying parties cannot
// join their pairwise subs through the session they share; the session's
// sid for any other client.
func sidFor(c *store.Client, sid string) string {
	if c == nil || !c.Pairwise() || sid == "" {
		return sid
	}
	return pairwise(c, "sid", sid)
}

// pairwise is the client's keyed hash of value for the purpose, or "" when
// the client has no salt.
func pairwise(c *store.Client, purpose, value string) string {
	if len(c.SubjectSalt) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, c.SubjectSalt)
	if purpose != "sub" { // sub keeps the form it was issued in
		m.Write([]byte(purpose + "\x00"))
	}
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

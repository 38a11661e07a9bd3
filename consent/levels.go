package consent

import (
	"strings"

	"github.com/esia-oidc/idp/store"
)

// RequiredLevel is the lowest account level an authorization accepts: the
// client's own minimum, raised by the request's acr_values. acr_values lists
// acceptable levels (OpenID Connect Core §3.1.2.1), so the lowest level it
// names is what the request demands; unknown values are ignored.
func RequiredLevel(clientMin store.Level, acrValues string) store.Level {
	need := clientMin
	var lowest store.Level
	for _, v := range strings.Fields(acrValues) {
		l := store.Level(v)
		if l.Valid() && (lowest == "" || l.Rank() < lowest.Rank()) {
			lowest = l
		}
	}
	if lowest.Rank() > need.Rank() {
		need = lowest
	}
	return need
}

// Grantable returns the scopes an account of the level may release, in
// request order: a scope above the account's level is left out of the grant
// (the token response's scope shows what was granted).
func Grantable(level store.Level, scopes []string) []string {
	var out []string
	for _, name := range scopes {
		if s, ok := byName[name]; ok && s.MinLevel.Rank() > level.Rank() {
			continue
		}
		out = append(out, name)
	}
	return out
}

package consent

import (
	"strings"

	"github.com/esia-oidc/idp/store"
)

// The acr values are the level names ("simplified", "standard",
// "confirmed"), which a password alone asserts, and the same names with
// MFASuffix ("standard-mfa"), which a login with a second factor asserts.
// They are ordered: a higher level is stronger, and at one level the -mfa
// value is stronger than the plain one.
const MFASuffix = "-mfa"

// ParseACR reads an acr value: its level and whether it asks for a second
// factor; ok is false for a value this provider does not know.
func ParseACR(v string) (level store.Level, mfa, ok bool) {
	if base, found := strings.CutSuffix(v, MFASuffix); found {
		v, mfa = base, true
	}
	l := store.Level(v)
	if !l.Valid() {
		return "", false, false
	}
	return l, mfa, true
}

// ACR is the acr value of a login: the account's level, with MFASuffix when
// a second factor was proven.
func ACR(level store.Level, mfa bool) string {
	if mfa {
		return string(level) + MFASuffix
	}
	return string(level)
}

// ACRValues lists every acr value, weakest first.
func ACRValues() []string {
	var out []string
	for _, l := range []store.Level{store.LevelSimplified, store.LevelStandard, store.LevelConfirmed} {
		out = append(out, ACR(l, false), ACR(l, true))
	}
	return out
}

// RequiresMFA reports whether acrValues demands a second factor: it names
// values this provider knows, and each of them asks for one (acr_values
// lists acceptable values, OpenID Connect Core §3.1.2.1; a request that
// accepts a plain level accepts a password alone).
func RequiresMFA(acrValues string) bool {
	known := false
	for _, v := range strings.Fields(acrValues) {
		if _, mfa, ok := ParseACR(v); ok {
			if !mfa {
				return false
			}
			known = true
		}
	}
	return known
}

// RequiredLevel is the lowest account level an authorization accepts: the
// client's own minimum, raised by the request's acr_values. acr_values lists
// acceptable values (OpenID Connect Core §3.1.2.1), so the lowest level it
// names is what the request demands; unknown values are ignored.
func RequiredLevel(clientMin store.Level, acrValues string) store.Level {
	need := clientMin
	var lowest store.Level
	for _, v := range strings.Fields(acrValues) {
		l, _, ok := ParseACR(v)
		if ok && (lowest == "" || l.Rank() < lowest.Rank()) {
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

package web

import (
	"testing"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/account"
)

// TestAccountAndPasswordMessages: every code idp/account and the password
// policy give has its message, in both languages, so that the codes and
// what the citizen reads never drift apart.
func TestAccountAndPasswordMessages(t *testing.T) {
	codes := map[string]bool{}
	for _, e := range account.Errors {
		codes[e.Key()] = true
	}
	for _, r := range password.Reasons {
		codes[(&password.PolicyError{Reason: r}).Key()] = true
	}
	if len(codes) < len(account.Errors)+len(password.Reasons) {
		t.Fatalf("%d keys for %d codes: two codes share a key", len(codes), len(account.Errors)+len(password.Reasons))
	}
	for k := range codes {
		m, ok := messages[k]
		if !ok || m.ru == "" || m.en == "" {
			t.Errorf("catalog lacks %q in ru or en: %+v", k, m)
		}
	}
}

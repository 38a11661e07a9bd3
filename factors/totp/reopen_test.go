package totp_test

import (
	"errors"
	"testing"

	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/store/memory"
)

// Reopen shows again the secret Generate sealed, for its account only.
func TestReopen(t *testing.T) {
	clock := newClock()
	tp := totp.New(memory.New(clock.Now), newSealer(t), issuer, clock.Now)
	e, err := tp.Generate("acc", "+79990001122")
	if err != nil {
		t.Fatal(err)
	}
	again, err := tp.Reopen("acc", "+79990001122", e.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	if again.Secret != e.Secret || again.URI != e.URI {
		t.Fatalf("reopened %q %q, want %q %q", again.Secret, again.URI, e.Secret, e.URI)
	}
	if _, err := tp.Reopen("other", "+79990001122", e.Sealed); !errors.Is(err, totp.ErrSecret) {
		t.Fatalf("another account's sealed secret: %v, want ErrSecret", err)
	}
	if _, err := tp.Reopen("acc", "a:b", e.Sealed); err == nil {
		t.Fatal("a label with a colon: want an error")
	}
}

package factors_test

import (
	"testing"

	"github.com/esia-oidc/idp/factors"
)

func TestMultiFactor(t *testing.T) {
	for _, tc := range []struct {
		amr  []string
		want bool
	}{
		{nil, false},
		{[]string{"pwd"}, false},
		{[]string{"pwd", "otp"}, true},
		{[]string{"pwd", "sms"}, true},
		{[]string{"otp"}, false},                    // a code alone is one factor
		{[]string{"otp", "otp"}, false},             // twice the same
		{[]string{"hwk"}, true},                     // a token unlocked by a PIN
		{[]string{"swk"}, false},                    // a key file alone
		{[]string{"pwd", "swk"}, true},              // the file beside the password
		{[]string{"pwd", "hwk", "mfa"}, true},       // as a bind after the password says it
		{[]string{"fed"}, false},                    // a bank login: one factor here
		{[]string{"pwd", "fed"}, false},             // neither is a second factor of ours
		{[]string{"sms", "otp"}, true},              // two second factors
		{[]string{"mfa"}, false},                    // the marker proves nothing
		{[]string{"pwd", "pwd", "mfa", "x"}, false}, // unknown methods add nothing
	} {
		if got := factors.MultiFactor(tc.amr); got != tc.want {
			t.Errorf("MultiFactor(%v) = %v, want %v", tc.amr, got, tc.want)
		}
	}
}

package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		password string
		want     Reason // empty: accepted
	}{
		{"empty", "", ReasonTooShort},
		{"seven", "abcdefg", ReasonTooShort},
		{"eight", "abcdefgh", ""},
		{"eight cyrillic letters (16 bytes)", "абвгдежз", ""},
		{"seven cyrillic letters (14 bytes)", "абвгдеж", ReasonTooShort},
		{"256 bytes", strings.Repeat("a", 256), ""},
		{"257 bytes", strings.Repeat("a", 257), ReasonTooLong},
		{"129 cyrillic letters (258 bytes)", strings.Repeat("ж", 129), ReasonTooLong},
		{"spaces inside", "correct horse battery", ""},
		{"only spaces", "          ", ReasonBlank},
		{"tab", "abcd\tefgh", ReasonControl},
		{"newline", "abcdefgh\n", ReasonControl},
		{"NUL", "abcd\x00efgh", ReasonControl},
		{"DEL", "abcd\x7fefgh", ReasonControl},
		{"invalid UTF-8", "abcdefg\xff", ReasonInvalidUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.password)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check = %v, want a *PolicyError", err)
			}
			if pe.Reason != tc.want {
				t.Fatalf("reason = %q, want %q", pe.Reason, tc.want)
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Error("the error quotes the password")
			}
			if !slices.Contains(Reasons, pe.Reason) || err.Error() == "password: does not meet the password policy" {
				t.Errorf("reason %q is not listed or not described: %v", pe.Reason, err)
			}
		})
	}
}

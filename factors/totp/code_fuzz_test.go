package totp

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseCode: whatever is typed, ParseCode does not panic, and
//   - it accepts exactly the inputs of at most 64 bytes made of ASCII
//     digits, spaces, tabs and hyphens with six digits among them;
//   - what it accepts is those six digits in order, and parses to itself;
//   - a refusal is ErrMalformed itself, which repeats nothing typed.
func FuzzParseCode(f *testing.F) {
	for _, s := range []string{
		"123456", " 123 456 ", "123-456", "12345", "1234567", "12345a",
		"１２３４５６", "", "------", "1\t2\t3\t4\t5\t6", "123456\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCode(s)
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
		want := len(s) <= 64 && strings.Trim(s, "0123456789 \t-") == "" && len(digits) == Digits
		if !want {
			if err != ErrMalformed || got != "" {
				t.Fatalf("ParseCode(%q) = %q, %v; want ErrMalformed", s, got, err)
			}
			return
		}
		if err != nil || got != digits {
			t.Fatalf("ParseCode(%q) = %q, %v; want %q", s, got, err, digits)
		}
		if again, err := ParseCode(got); err != nil || again != got {
			t.Fatalf("ParseCode(%q) = %q, %v; want itself", got, again, err)
		}
		if errors.Is(err, ErrMalformed) {
			t.Fatal("accepted and malformed")
		}
	})
}

package backup

import (
	"strings"
	"testing"
)

// FuzzParseCode: whatever is typed, ParseCode does not panic, and
//   - a refusal is ErrMalformed itself, which repeats nothing typed;
//   - what it accepts is Length characters of the alphabet, parses to
//     itself, and parses the same grouped as Generate shows it;
//   - it accepts only inputs of at most 64 bytes of ASCII letters, digits,
//     spaces, tabs and hyphens, with no u.
func FuzzParseCode(f *testing.F) {
	for _, s := range []string{
		"abcde-23456", "ABCDE23456", "oooooiiiii", "abcde-2345u", "", "----------",
		"abcde-234567", "абвгд-23456", " a b c d e 2 3 4 5 6 ", "abcde\x0023456",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCode(s)
		if err != nil {
			if err != ErrMalformed || got != "" {
				t.Fatalf("ParseCode(%q) = %q, %v; want ErrMalformed", s, got, err)
			}
			return
		}
		if len(got) != Length || strings.Trim(got, alphabet) != "" {
			t.Fatalf("ParseCode(%q) = %q: not %d characters of the alphabet", s, got, Length)
		}
		if len(s) > 64 || strings.Trim(strings.ToLower(s), "0123456789abcdefghijklmnopqrstvwxyz \t-") != "" {
			t.Fatalf("ParseCode(%q) = %q: accepted what is no code", s, got)
		}
		for _, again := range []string{got, got[:5] + "-" + got[5:], strings.ToUpper(got)} {
			if p, err := ParseCode(again); err != nil || p != got {
				t.Fatalf("ParseCode(%q) = %q, %v; want %q", again, p, err, got)
			}
		}
	})
}

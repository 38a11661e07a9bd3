package account

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzNormalizeName: whatever is typed, NormalizeName does not panic, and
//   - a refusal is one of Errors with an empty result;
//   - a result is trimmed, at most MaxNameLength characters, starts and
//     ends with a letter, holds only letters, single spaces, hyphens and
//     apostrophes, Latin letters only when allowed, and normalizes to itself
//     (also when Latin is allowed, if it is accepted without).
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{
		"Иванова", " Анна  -  Мария ", "Д’Артаньян", "O'Neil", "Ивanова", "-", "--", "Я", "ё", "\xff",
		"Анна--Мария", "Müller", strings.Repeat("я", 101), "a\u00a0b", "Ив\u2014ан",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, latin bool) {
		n, err := NormalizeName(s, latin)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !slices.Contains(Errors, e) || n != "" {
				t.Fatalf("NormalizeName(%q) = %q, %v", s, n, err)
			}
			return
		}
		if n == "" || utf8.RuneCountInString(n) > MaxNameLength || strings.TrimSpace(n) != n || strings.Contains(n, "  ") {
			t.Fatalf("NormalizeName(%q) = %q", s, n)
		}
		first, _ := utf8.DecodeRuneInString(n)
		last, _ := utf8.DecodeLastRuneInString(n)
		if !unicode.IsLetter(first) || !unicode.IsLetter(last) {
			t.Fatalf("NormalizeName(%q) = %q: not letters at the ends", s, n)
		}
		for _, r := range n {
			if !(isRussianLetter(r) || (latin && isLatinLetter(r)) || r == ' ' || r == '-' || r == '\'') {
				t.Fatalf("NormalizeName(%q) = %q holds %q", s, n, r)
			}
		}
		if again, err := NormalizeName(n, latin); err != nil || again != n {
			t.Fatalf("NormalizeName(%q) = %q, then %q, %v", s, n, again, err)
		}
		if !latin {
			if again, err := NormalizeName(n, true); err != nil || again != n {
				t.Fatalf("NormalizeName(%q, true) = %q, %v; without Latin %q", n, again, err, n)
			}
		}
	})
}

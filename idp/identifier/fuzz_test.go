package identifier

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/esia-oidc/idp/store"
)

var (
	phoneForm = regexp.MustCompile(`^\+79[0-9]{9}$`)
	snilsForm = regexp.MustCompile(`^[0-9]{11}$`)
)

// FuzzParse: whatever a citizen types, Parse does not panic, and
//   - an error is one of the package's *Error values, with no kind and no
//     value;
//   - a result is in its kind's normalized form, and that form parses back
//     to itself (a SNILS in its printed layout, since bare digits starting
//     with 79 or 89 are read as a phone, as the package documents);
//   - the kind's own Normalize function agrees and leaves it unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", " ", "+7 (916) 123-45-67", "8 916 123 45 67", "89161234567", "79161234567",
		"9161234567", "+7916123456", "+1 202 555 0100", "(916)1234567", "8.916.123.45.67",
		"Citizen@Example.RU", " a@b.ru ", "Name <a@b.ru>", "\"q\"@b.ru", "a@[127.0.0.1]", "a@localhost",
		"112-233-445 95", "112 233 445 95", "11223344595", "112.233.445.95", "001-001-998 00",
		"000-000-000 00", "791-234-567 89", "12345678901", "+", "()", "-", "٩١٦١٢٣٤٥٦٧", "１２３",
		"+7 916 123\u201345\u201367", "a@b.ru\x00", "\xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, v, err := Parse(s)
		if err != nil {
			var ie *Error
			if !errors.As(err, &ie) || kind != "" || v != "" {
				t.Fatalf("Parse(%q) = %q, %q, %v; want an *Error and nothing else", s, kind, v, err)
			}
			return
		}
		switch kind {
		case store.IdentifierPhone:
			if !phoneForm.MatchString(v) {
				t.Fatalf("Parse(%q) = phone %q, not +79XXXXXXXXX", s, v)
			}
			if n, err := NormalizePhone(v); err != nil || n != v {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want it unchanged", v, n, err)
			}
			if k, again, err := Parse(v); err != nil || k != kind || again != v {
				t.Fatalf("Parse(%q) = %q, %q, %v; want the phone back", v, k, again, err)
			}
		case store.IdentifierEmail:
			if v != strings.ToLower(v) || !strings.Contains(v, "@") || len(v) > maxEmailLen || !utf8.ValidString(v) {
				t.Fatalf("Parse(%q) = e-mail %q, not a bare lower-case address", s, v)
			}
			if n, err := NormalizeEmail(v); err != nil || n != v {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want it unchanged", v, n, err)
			}
			if k, again, err := Parse(v); err != nil || k != kind || again != v {
				t.Fatalf("Parse(%q) = %q, %q, %v; want the e-mail back", v, k, again, err)
			}
		case store.IdentifierSNILS:
			if !snilsForm.MatchString(v) || !validSNILS(v) {
				t.Fatalf("Parse(%q) = SNILS %q, not 11 digits with a valid control number", s, v)
			}
			if n, err := NormalizeSNILS(v); err != nil || n != v {
				t.Fatalf("NormalizeSNILS(%q) = %q, %v; want it unchanged", v, n, err)
			}
			printed := FormatSNILS(v)
			if k, again, err := Parse(printed); err != nil || k != kind || again != v {
				t.Fatalf("Parse(%q) = %q, %q, %v; want the SNILS %s back", printed, k, again, err, v)
			}
		default:
			t.Fatalf("Parse(%q) = unknown kind %q", s, kind)
		}
	})
}

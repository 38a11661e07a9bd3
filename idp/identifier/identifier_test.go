package identifier

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/store"
)

func TestParse(t *testing.T) {
	const (
		phone = store.IdentifierPhone
		email = store.IdentifierEmail
		snils = store.IdentifierSNILS
	)
	for _, tc := range []struct {
		in   string
		kind store.IdentifierKind
		want string
		err  error
	}{
		// Phones in the common Russian forms.
		{"+7 (912) 345-67-89", phone, "+79123456789", nil},
		{"+7(912)345-67-89", phone, "+79123456789", nil},
		{"+79123456789", phone, "+79123456789", nil},
		{"8 912 345 67 89", phone, "+79123456789", nil},
		{"8 (912) 345 67 89", phone, "+79123456789", nil},
		{"89123456789", phone, "+79123456789", nil},
		{"79123456789", phone, "+79123456789", nil},
		{"9123456789", phone, "+79123456789", nil},
		{"912 345-67-89", phone, "+79123456789", nil},
		{"(912) 345-67-89", phone, "+79123456789", nil},
		{"8-912-345-67-89", phone, "+79123456789", nil},
		{"8.912.345.67.89", phone, "+79123456789", nil},
		{"+7 912 345 67 89", phone, "+79123456789", nil},
		{"+7\u00a0912\u00a0345\u201367\u201389", phone, "+79123456789", nil},
		{"  +7 912 345 67 89\t", phone, "+79123456789", nil},
		{"+7 999 000-00-00", phone, "+79990000000", nil},
		// Not mobile numbers, or the wrong length, with a phone's marks.
		{"+7 (495) 123-45-67", "", "", ErrPhone},
		{"+8 912 345 67 89", "", "", ErrPhone},
		{"+1 912 345 67 89", "", "", ErrPhone},
		{"+7 912 345 67 8", "", "", ErrPhone},
		{"+7 912 345 67 890", "", "", ErrPhone},
		{"(912) 345-67-8", "", "", ErrPhone},
		{"4951234567", "", "", ErrPhone},
		// E-mail addresses.
		{"user@example.com", email, "user@example.com", nil},
		{"User.Name@Example.COM", email, "user.name@example.com", nil},
		{"  ivan.petrov+esia@mail.ru ", email, "ivan.petrov+esia@mail.ru", nil},
		{"ИВАН@почта.рф", email, "иван@почта.рф", nil},
		{"a_b-c@sub.domain.example.org", email, "a_b-c@sub.domain.example.org", nil},
		{"Ivan Petrov <ivan@example.com>", "", "", ErrEmail},
		{"<ivan@example.com>", "", "", ErrEmail},
		{"ivan@example.com (Ivan)", "", "", ErrEmail},
		{`"ivan petrov"@example.com`, "", "", ErrEmail},
		{"ivan@[192.0.2.1]", "", "", ErrEmail},
		{"ivan@localhost", "", "", ErrEmail},
		{"ivan@@example.com", "", "", ErrEmail},
		{"ivan@", "", "", ErrEmail},
		{"@example.com", "", "", ErrEmail},
		{"iv an@example.com", "", "", ErrEmail},
		{"ivan..petrov@example.com", "", "", ErrEmail},
		{"ivan@example..com", "", "", ErrEmail},
		{"a@b.c, d@e.f", "", "", ErrEmail},
		{strings.Repeat("a", 65) + "@example.com", "", "", ErrEmail},
		{"a@" + strings.Repeat("b", 250) + ".ru", "", "", ErrEmail},
		// SNILS, with and without separators.
		{"123-456-789 64", snils, "12345678964", nil},
		{"123-456-789-64", snils, "12345678964", nil},
		{"123 456 789 64", snils, "12345678964", nil},
		{"12345678964", snils, "12345678964", nil},
		{"112-233-445 95", snils, "11223344595", nil},
		{"11223344595", snils, "11223344595", nil},
		{"123-456-789 65", "", "", ErrSNILSChecksum},
		{"12345678965", "", "", ErrSNILSChecksum},
		{"000-000-000 00", "", "", ErrSNILS},
		// Numbers up to 001-001-998 carry no control number.
		{"001-001-998 42", snils, "00100199842", nil},
		// A SNILS layout wins over a phone reading of its digits.
		{"891-234-567 89", "", "", ErrSNILSChecksum},
		{"791-234-567 89", "", "", ErrSNILSChecksum},
		// Eleven bare digits starting with 7 or 8 and not then 9: a SNILS
		// when its control number holds, unrecognized otherwise.
		{"81234567890", "", "", ErrUnrecognized},
		{"71234567890", "", "", ErrUnrecognized},
		// Unrecognized.
		{"", "", "", ErrEmpty},
		{"   ", "", "", ErrEmpty},
		{"ivan", "", "", ErrUnrecognized},
		{"12345", "", "", ErrUnrecognized},
		{"123456789012", "", "", ErrUnrecognized},
		{"8 912 345 67 89 ext 1", "", "", ErrUnrecognized},
		{"8 912 3456789x", "", "", ErrUnrecognized},
		{"8+9123456789", "", "", ErrUnrecognized},
		{"８９１２３４５６７８９", "", "", ErrUnrecognized},
	} {
		t.Run(tc.in, func(t *testing.T) {
			kind, got, err := Parse(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Parse(%q) = %q, %q, %v; want error %v", tc.in, kind, got, err, tc.err)
				}
				if kind != "" || got != "" {
					t.Errorf("Parse(%q) returned %q, %q with the error", tc.in, kind, got)
				}
				return
			}
			if err != nil || kind != tc.kind || got != tc.want {
				t.Fatalf("Parse(%q) = %q, %q, %v; want %q, %q", tc.in, kind, got, err, tc.kind, tc.want)
			}
		})
	}
}

// TestSNILSAmbiguity pins the documented rule: a valid SNILS whose digits
// also read as a mobile phone (7 or 8, then 9) is a phone when typed bare and
// a SNILS when typed with its separators.
func TestSNILSAmbiguity(t *testing.T) {
	const n = "891234567" // 9-digit number starting with 89
	d := n + snilsControl(n)
	if !validSNILS(d) {
		t.Fatalf("%s: constructed SNILS invalid", d)
	}
	if kind, v, err := Parse(d); err != nil || kind != store.IdentifierPhone || v != "+7"+d[1:] {
		t.Errorf("Parse(%s) = %q, %q, %v; want a phone", d, kind, v, err)
	}
	if kind, v, err := Parse(FormatSNILS(d)); err != nil || kind != store.IdentifierSNILS || v != d {
		t.Errorf("Parse(%s) = %q, %q, %v; want a SNILS", FormatSNILS(d), kind, v, err)
	}
	// Starting with 8 then not 9, a valid SNILS typed bare is a SNILS.
	const m = "812345678"
	e := m + snilsControl(m)
	if kind, v, err := Parse(e); err != nil || kind != store.IdentifierSNILS || v != e {
		t.Errorf("Parse(%s) = %q, %q, %v; want a SNILS", e, kind, v, err)
	}
}

func TestSNILSControl(t *testing.T) {
	// Every branch of the rule, with the weighted sums written out (and
	// checked, so that the table itself cannot be wrong).
	for _, tc := range []struct {
		number string
		sum    int
		want   string
	}{
		{"112233445", 95, "95"},  // below 100: the sum itself
		{"100582052", 99, "99"},  // the largest sum kept as is
		{"900000000", 81, "81"},  // below 100
		{"050234316", 100, "00"}, // 100: 00
		{"016103396", 101, "00"}, // 101: 00
		{"700201621", 102, "01"}, // above 101: 102 mod 101
		{"123456789", 165, "64"}, // 165 mod 101
		{"820981233", 201, "00"}, // 201 mod 101 = 100: 00
		{"368898975", 302, "00"}, // 302 mod 101 = 100: 00
		{"099999999", 324, "21"},
		{"999999992", 398, "95"},
		{"999999999", 405, "01"},
	} {
		sum := 0
		for i := 0; i < 9; i++ {
			sum += int(tc.number[i]-'0') * (9 - i)
		}
		if sum != tc.sum {
			t.Fatalf("test table: weighted sum of %s is %d, not %d", tc.number, sum, tc.sum)
		}
		if got := snilsControl(tc.number); got != tc.want {
			t.Errorf("snilsControl(%s) (sum %d) = %s, want %s", tc.number, sum, got, tc.want)
		}
		if got, err := NormalizeSNILS(tc.number + tc.want); err != nil || got != tc.number+tc.want {
			t.Errorf("NormalizeSNILS(%s%s) = %q, %v", tc.number, tc.want, got, err)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+7 (912) 345-67-89", "+79123456789"},
		{"8 912 345 67 89", "+79123456789"},
		{"89123456789", "+79123456789"},
		{"9123456789", "+79123456789"},
		{"+79123456789", "+79123456789"},
		{"7 912 345 67 89", "+79123456789"},
		{"", ""},
		{"+7 495 123 45 67", ""},
		{"8 800 555 35 35", ""},
		{"+79123456789 ", "+79123456789"},
		{"+7912345678", ""},
		{"+791234567890", ""},
		{"++79123456789", ""},
		{"phone", ""},
		{"123-456-789 64", ""},
	} {
		got, err := NormalizePhone(tc.in)
		if tc.want == "" {
			var ie *Error
			if err == nil || !errors.As(err, &ie) || got != "" {
				t.Errorf("NormalizePhone(%q) = %q, %v; want an *Error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Citizen@Example.Ru", "citizen@example.ru"},
		{" citizen@example.ru\n", "citizen@example.ru"},
		{"citizen", ""},
		{"Citizen <citizen@example.ru>", ""},
		{"", ""},
	} {
		got, err := NormalizeEmail(tc.in)
		if tc.want == "" {
			if err == nil || got != "" {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeSNILS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  error
	}{
		{"123-456-789 64", "12345678964", nil},
		{"123 456 789 64", "12345678964", nil},
		{"12345678964", "12345678964", nil},
		{" 112-233-445-95 ", "11223344595", nil},
		{"123-456-789 63", "", ErrSNILSChecksum},
		{"123.456.789 64", "", ErrSNILS},
		{"123-456-789 6", "", ErrSNILS},
		{"123-456-789 644", "", ErrSNILS},
		{"123-456-789 6a", "", ErrSNILS},
		{"00000000000", "", ErrSNILS},
		{"", "", ErrEmpty},
	} {
		got, err := NormalizeSNILS(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want || (tc.err == nil) != (err == nil) {
			t.Errorf("NormalizeSNILS(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFormatSNILS(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"12345678964", "123-456-789 64"},
		{"00100199842", "001-001-998 42"},
		{"1234567896", "1234567896"},
		{"1234567896a", "1234567896a"},
		{"", ""},
	} {
		if got := FormatSNILS(tc.in); got != tc.want {
			t.Errorf("FormatSNILS(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Format and normalize are inverse on valid values.
	for _, d := range []string{"12345678964", "11223344595"} {
		if got, err := NormalizeSNILS(FormatSNILS(d)); err != nil || got != d {
			t.Errorf("NormalizeSNILS(FormatSNILS(%s)) = %q, %v", d, got, err)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Errors {
		if e.Code() == "" || seen[e.Code()] {
			t.Errorf("%s: code %q empty or repeated", e, e.Code())
		}
		seen[e.Code()] = true
		if !strings.HasPrefix(e.Error(), "identifier: ") {
			t.Errorf("Error() = %q", e.Error())
		}
		if !errors.Is(fmt.Errorf("login: %w", e), e) {
			t.Errorf("%s does not survive wrapping", e)
		}
	}
}

package identifier

import (
	"errors"
	"reflect"
	"regexp"
	"testing"

	"github.com/esia-oidc/idp/store"
)

func TestParseRecovery(t *testing.T) {
	phone := func(v string) Candidate { return Candidate{store.IdentifierPhone, v} }
	passport := func(v string) Candidate { return Candidate{store.IdentifierPassport, v} }
	inn := func(v string) Candidate { return Candidate{store.IdentifierINN, v} }
	cases := []struct {
		in   string
		want []Candidate
		err  error
	}{
		{"+7 916 123-45-67", []Candidate{phone("+79161234567")}, nil},
		{"8 916 123 45 67", []Candidate{phone("+79161234567")}, nil},
		{" Citizen@Example.RU ", []Candidate{{store.IdentifierEmail, "citizen@example.ru"}}, nil},
		{"112-233-445 95", []Candidate{{store.IdentifierSNILS, "11223344595"}}, nil},
		{"11223344595", []Candidate{{store.IdentifierSNILS, "11223344595"}}, nil},
		{"45 06 123456", []Candidate{passport("4506123456")}, nil},
		{"4506 123456", []Candidate{passport("4506123456")}, nil},
		{"4506-123456", []Candidate{passport("4506123456")}, nil},
		{"9706 123456", []Candidate{passport("9706123456")}, nil}, // laid out: not a phone
		{"500100732259", []Candidate{inn("500100732259")}, nil},
		{"5001 0073 2259", []Candidate{inn("500100732259")}, nil},
		{"500100732258", nil, ErrINNChecksum},
		{"4506123456", []Candidate{passport("4506123456")}, nil},
		{"9161234568", []Candidate{phone("+79161234568"), passport("9161234568")}, nil},
		{"9161234567", []Candidate{phone("+79161234567"), passport("9161234567"), inn("9161234567")}, nil},
		{"7707083893", []Candidate{passport("7707083893"), inn("7707083893")}, nil},
		{"", nil, ErrEmpty},
		{"   ", nil, ErrEmpty},
		{"4506.123456", []Candidate{passport("4506123456")}, nil}, // ten digits, no layout
		{"12345", nil, ErrUnrecognized},
		{"паспорт 4506 123456", nil, ErrUnrecognized},
		{"+1 202 555 0100", nil, ErrPhone},
		{"1234567890123", nil, ErrUnrecognized},
	}
	for _, c := range cases {
		got, err := ParseRecovery(c.in)
		if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("ParseRecovery(%q) error %v, want %v", c.in, err, c.err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseRecovery(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestValidINN(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"500100732259", true}, {"7707083893", true}, {"7707083894", false}, {"500100732250", false},
		{"0000000000", false}, {"000000000000", false}, {"123", false}, {"77070838a3", false},
	} {
		if got := ValidINN(c.in); got != c.want {
			t.Errorf("ValidINN(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

var (
	digits10 = regexp.MustCompile(`^[0-9]{10}$`)
	innForm  = regexp.MustCompile(`^([0-9]{10}|[0-9]{12})$`)
)

// FuzzParseRecovery: whatever is typed, ParseRecovery does not panic; an
// error is an *Error and comes alone; every reading is in its kind's
// normalized form (an INN with valid control digits, a passport of ten
// digits), no kind is read twice, and a single reading that Parse also
// gives agrees with Parse.
func FuzzParseRecovery(f *testing.F) {
	for _, s := range []string{
		"", "+7 916 123-45-67", "9161234567", "4506 123456", "45 06 123456", "500100732259",
		"7707083893", "112-233-445 95", "a@b.ru", "4506.123456", "(4506) 123456", "+4506123456",
		"٤٥٠٦ ١٢٣٤٥٦", "\xff", "1234 567890 12",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseRecovery(s)
		if err != nil {
			var ie *Error
			if !errors.As(err, &ie) || got != nil {
				t.Fatalf("ParseRecovery(%q) = %v, %v; want an *Error alone", s, got, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("ParseRecovery(%q): no reading and no error", s)
		}
		seen := map[store.IdentifierKind]bool{}
		for _, c := range got {
			if seen[c.Kind] {
				t.Fatalf("ParseRecovery(%q) = %v: a kind twice", s, got)
			}
			seen[c.Kind] = true
			switch c.Kind {
			case store.IdentifierPhone:
				if n, err := NormalizePhone(c.Value); err != nil || n != c.Value {
					t.Fatalf("ParseRecovery(%q): phone %q not normalized", s, c.Value)
				}
			case store.IdentifierEmail:
				if n, err := NormalizeEmail(c.Value); err != nil || n != c.Value {
					t.Fatalf("ParseRecovery(%q): e-mail %q not normalized", s, c.Value)
				}
			case store.IdentifierSNILS:
				if n, err := NormalizeSNILS(c.Value); err != nil || n != c.Value {
					t.Fatalf("ParseRecovery(%q): SNILS %q not normalized", s, c.Value)
				}
			case store.IdentifierINN:
				if !innForm.MatchString(c.Value) || !ValidINN(c.Value) {
					t.Fatalf("ParseRecovery(%q): INN %q", s, c.Value)
				}
			case store.IdentifierPassport:
				if !digits10.MatchString(c.Value) {
					t.Fatalf("ParseRecovery(%q): passport %q", s, c.Value)
				}
			default:
				t.Fatalf("ParseRecovery(%q): kind %q", s, c.Kind)
			}
		}
		if len(got) == 1 {
			if k, v, err := Parse(s); err == nil && (k != got[0].Kind || v != got[0].Value) && got[0].Kind != store.IdentifierPassport && got[0].Kind != store.IdentifierINN {
				t.Fatalf("ParseRecovery(%q) = %v, Parse = %s %s", s, got, k, v)
			}
		}
	})
}

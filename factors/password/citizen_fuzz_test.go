package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheckNew: whatever a citizen types and whatever their personal data,
// CheckNew does not panic, and
//   - a refusal is a *PolicyError with a listed reason whose text does not
//     quote the password;
//   - an accepted password is valid UTF-8 of 8 characters to 256 bytes,
//     holds no personal token and no run;
//   - a generated password is accepted for these personal data.
func FuzzCheckNew(f *testing.F) {
	for _, s := range [][4]string{
		{"Vt7!kq-Zr", "", "", ""},
		{"Password123!", "Иванова", "+7 916 123-45-67", "a@b.ru"},
		{"Zx7!Ivanova", "Иванова", "", ""},
		{"Zx!5381729q", "", "8 916 538-17-29", ""},
		{"Фкеуьлф1!", "Ёж", "", "petrova85@example.ru"},
		{"\xff\xfe", "\xff", "\xff", "@"},
		{"Zx7!!!!q", "Anna-Maria O'Neil", "+1", "@@x"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, pw, name, phone, email string) {
		p := Personal{Names: []string{name}, Phone: phone, Email: email}
		err := CheckNew(pw, p)
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || !slices.Contains(Reasons, pe.Reason) {
				t.Fatalf("CheckNew = %v, want a *PolicyError with a listed reason", err)
			}
			if len(pw) >= 4 && strings.Contains(err.Error(), pw) {
				t.Fatal("the error quotes the password")
			}
		} else {
			if !utf8.ValidString(pw) || utf8.RuneCountInString(pw) < MinLength || len(pw) > MaxBytes {
				t.Fatalf("accepted %q", pw)
			}
			if holdsPersonal(pw, p) || hasRun(pw) || isCommon(pw) || composition(pw) != "" {
				t.Fatalf("accepted %q, which breaks a rule", pw)
			}
		}
		if g := Generate(); CheckNew(g, p) != nil {
			t.Fatalf("generated %q refused for %+v: %v", g, p, CheckNew(g, p))
		}
	})
}

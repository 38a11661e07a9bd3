package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
)

var ivanova = Personal{
	Names: []string{"Иванова", "Анна-Мария", "Ли"},
	Phone: "+7 (916) 123-45-67",
	Email: "a.petrova85@example.ru",
}

func TestCheckNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		pw   string
		p    Personal
		want Reason // empty: accepted
	}{
		// Accepted.
		{"all classes", "Vt7!kq-Zr", Personal{}, ""},
		{"cyrillic letters", "Сова!Ночь7", Personal{}, ""},
		{"space inside", "Dve sovy 7!", Personal{}, ""},
		{"symbol counts as a mark", "Tr7+mkZq", Personal{}, ""},
		{"three in a row is no run", "Abc!x7Qz", Personal{}, ""},
		{"four keys are no keyboard run", "Ziberty!8", Personal{}, ""},
		{"short name part is not refused", "Li!ght7Mz", ivanova, ""},
		{"six phone digits, no run", "Zx!381729q", Personal{Phone: "+7 916 538-17-29"}, ""},
		{"two-letter e-mail run", "Ab!9xQz7", Personal{Email: "ab@x.ru"}, ""},
		// Basic rules come first.
		{"short", "Ab1!", Personal{}, ReasonTooShort},
		{"control", "Abcd!1\tqz", Personal{}, ReasonControl},
		{"blank", "         ", Personal{}, ReasonBlank},
		// Composition.
		{"no lower", "VT7!KQ-ZR", Personal{}, ReasonNoLower},
		{"no upper", "vt7!kq-zr", Personal{}, ReasonNoUpper},
		{"no digit", "Vtx!kq-Zr", Personal{}, ReasonNoDigit},
		{"no mark", "Vt7xkqZr", Personal{}, ReasonNoPunct},
		{"space is no mark", "Vt7 kq Zr", Personal{}, ReasonNoPunct},
		{"combining accent is no mark", "Vt7\u0301kqZr", Personal{}, ReasonNoPunct},
		{"cyrillic without upper", "сова!ночь7", Personal{}, ReasonNoUpper},
		// Common passwords.
		{"common with classes", "P@ssw0rd", Personal{}, ReasonCommon},
		{"common core with digits and mark", "Password123!", Personal{}, ReasonCommon},
		{"common core cased", "Dragon77!", Personal{}, ReasonCommon},
		{"common core, mark first", "!Monkey2024", Personal{}, ReasonCommon},
		{"russian layout of a common word", "Фкеуьлф1!", Personal{}, ReasonCommon},     // "artemka" typed in ЙЦУКЕН
		{"пароль typed in the Russian layout", "Пароль123!", Personal{}, ReasonCommon}, // "gfhjkm"
		// Runs.
		{"digit run", "Xy!1234z", Personal{}, ReasonSequence},
		{"digit run down", "Xy!9876z", Personal{}, ReasonSequence},
		{"digit run over zero", "Xy!7890z", Personal{}, ReasonSequence},
		{"latin run", "Abcd!7Xz", Personal{}, ReasonSequence},
		{"latin run down, mixed case", "xDcBa!7Z", Personal{}, ReasonSequence},
		{"cyrillic run", "Абвг!7Шщ", Personal{}, ReasonSequence},
		{"repeat", "Zaaaa!7x", Personal{}, ReasonSequence},
		{"repeated marks", "Zx7!!!!q", Personal{}, ReasonSequence},
		{"qwerty row", "Zqwert!7", Personal{}, ReasonSequence},
		{"qwerty reversed", "Ytrewq!7z", Personal{}, ReasonSequence},
		{"asdfg", "ZasdfgK!7", Personal{}, ReasonSequence},
		{"йцукен", "Йцуке!7zq", Personal{}, ReasonSequence},
		{"фывап", "Xфывап7!", Personal{}, ReasonSequence},
		{"shifted digit row", "Zx7!@#$%q", Personal{}, ReasonSequence},
		// Personal data.
		{"last name", "Ivanova!Иванова7", ivanova, ReasonPersonal},
		{"last name, other case", "ИВАНОВА!x7", ivanova, ReasonPersonal},
		{"part of a hyphenated name", "Zx7!мария", ivanova, ReasonPersonal},
		{"name transliterated (ICAO)", "Zx7!Ivanova", ivanova, ReasonPersonal},
		{"name transliterated (common)", "Zx7!Mariya", ivanova, ReasonPersonal},
		{"ё and е alike", "Zx7!Федор", Personal{Names: []string{"Фёдор"}}, ReasonPersonal},
		{"latin name", "Zx7!SMITHy", Personal{Names: []string{"Smith"}}, ReasonPersonal},
		{"phone tail", "Zx!5381729q", Personal{Phone: "8 916 538-17-29"}, ReasonPersonal},
		{"e-mail local run", "Zx7!Petrova", ivanova, ReasonPersonal},
		{"e-mail local whole run", "Zx!petrova85", ivanova, ReasonPersonal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckNew(tc.pw, tc.p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckNew = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("CheckNew = %v, want a *PolicyError", err)
			}
			if pe.Reason != tc.want {
				t.Fatalf("reason = %q, want %q", pe.Reason, tc.want)
			}
			if pe.Key() != "password."+string(tc.want) {
				t.Errorf("Key = %q", pe.Key())
			}
			if strings.Contains(err.Error(), tc.pw) {
				t.Error("the error quotes the password")
			}
			if !slices.Contains(Reasons, pe.Reason) || err.Error() == "password: does not meet the password policy" {
				t.Errorf("reason %q is not listed or not described: %v", pe.Reason, err)
			}
		})
	}
}

func TestCommonList(t *testing.T) {
	set := commonSet()
	if len(set) != 10000 {
		t.Fatalf("common list has %d entries, want 10000", len(set))
	}
	for _, w := range []string{"123456", "password", "qwerty", "iloveyou"} {
		if _, ok := set[w]; !ok {
			t.Errorf("%q missing from the common list", w)
		}
	}
	for w := range set {
		if w != strings.ToLower(w) || strings.ContainsFunc(w, unicode.IsSpace) {
			t.Fatalf("entry %q is not lower case without spaces", w)
		}
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw := Generate()
		if seen[pw] {
			t.Fatalf("Generate repeated %q", pw)
		}
		seen[pw] = true
		if len(pw) != 17 {
			t.Fatalf("Generate = %q, %d characters, want 17", pw, len(pw))
		}
		// Personal data made of the password's own pieces are still no match.
		p := Personal{Names: []string{pw[0:2], pw[3:5] + pw[6:8]}, Phone: "+7 916 123-45-67", Email: pw[9:11] + "@x.ru"}
		if err := CheckNew(pw, p); err != nil {
			t.Fatalf("Generate = %q, refused: %v", pw, err)
		}
		if err := CheckNew(pw, ivanova); err != nil {
			t.Fatalf("Generate = %q, refused: %v", pw, err)
		}
	}
}

package account

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		latin bool
		want  string
		err   *Error
	}{
		{"plain", "Иванова", false, "Иванова", nil},
		{"trimmed", "  Иванова \t", false, "Иванова", nil},
		{"ё", "Фёдор", false, "Фёдор", nil},
		{"Ё first", "Ёлкин", false, "Ёлкин", nil},
		{"hyphenated", "Салтыков-Щедрин", false, "Салтыков-Щедрин", nil},
		{"spaces around hyphen", "Салтыков  -  Щедрин", false, "Салтыков-Щедрин", nil},
		{"en dash as hyphen", "Анна–Мария", false, "Анна-Мария", nil},
		{"inner spaces collapsed", "Мария   Тереза", false, "Мария Тереза", nil},
		{"apostrophe", "Д'Артаньян", false, "Д'Артаньян", nil},
		{"typographic apostrophe", "Д’Артаньян", false, "Д'Артаньян", nil},
		{"case kept", "иВАНОВА", false, "иВАНОВА", nil},
		{"one letter", "Я", false, "Я", nil},
		{"latin allowed", "O'Neil", true, "O'Neil", nil},
		{"latin with diacritics", "Müller-Lüdenscheidt", true, "Müller-Lüdenscheidt", nil},
		{"cyrillic with latin allowed", "Иванова", true, "Иванова", nil},
		{"100 letters", strings.Repeat("я", 100), false, strings.Repeat("я", 100), nil},

		{"empty", "", false, "", ErrRequired},
		{"spaces", "   ", false, "", ErrRequired},
		{"101 letters", strings.Repeat("я", 101), false, "", ErrTooLong},
		{"latin without foreign document", "Ivanova", false, "", ErrNameLatin},
		{"mixed scripts (latin o)", "Ивanова", true, "", ErrNameMixed},
		{"mixed scripts, latin refused", "Ивanова", false, "", ErrNameLatin},
		{"digit", "Иванова2", false, "", ErrNameChars},
		{"dot", "Иванова А.", false, "", ErrNameChars},
		{"ukrainian і", "Олексій", false, "", ErrNameChars},
		{"greek", "Αλέξης", true, "", ErrNameChars},
		{"control", "Ива\x00нова", false, "", ErrNameChars},
		{"invalid utf-8", "Ива\xffнова", false, "", ErrNameChars},
		{"starts with hyphen", "-Иванова", false, "", ErrNameEdges},
		{"ends with apostrophe", "Иванова'", false, "", ErrNameEdges},
		{"only a hyphen", "-", false, "", ErrNameEdges},
		{"double hyphen", "Анна--Мария", false, "", ErrNameSeparator},
		{"hyphen apostrophe", "Анна-'Мария", false, "", ErrNameSeparator},
		{"apostrophe space", "Д' Артаньян", false, "", ErrNameSeparator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeName(tc.in, tc.latin)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || got != "" {
					t.Fatalf("NormalizeName(%q) = %q, %v; want %v", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestErrorKeys(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Errors {
		if e.Key() != "personal."+e.Code() || e.Error() != "account: "+e.Code() {
			t.Errorf("%s: Key %q, Error %q", e.Code(), e.Key(), e.Error())
		}
		if seen[e.Code()] {
			t.Errorf("code %q listed twice", e.Code())
		}
		seen[e.Code()] = true
	}
}

package account

import (
	"errors"
	"strings"
	"testing"
)

type normCase struct {
	in, want string
	err      *Error
}

func runNorm(t *testing.T, name string, f func(string) (string, error), cases []normCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := f(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || got != "" {
				t.Errorf("%s(%q) = %q, %v; want %v", name, tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s(%q) = %q, %v; want %q", name, tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeSNILS(t *testing.T) {
	runNorm(t, "NormalizeSNILS", NormalizeSNILS, []normCase{
		{"112-233-445 95", "11223344595", nil},
		{"11223344595", "11223344595", nil},
		{" 112 233 445 95 ", "11223344595", nil},
		{"001-001-998 00", "00100199800", nil}, // below the checked range
		{"", "", ErrRequired},
		{"112-233-445 96", "", ErrSNILSChecksum},
		{"112-233-445 9", "", ErrSNILS},
		{"112.233.445.95", "", ErrSNILS},
		{"000-000-000 00", "", ErrSNILS},
		{"SNILS 11223344595", "", ErrSNILS},
	})
}

func TestNormalizeINN(t *testing.T) {
	runNorm(t, "NormalizeINN", NormalizeINN, []normCase{
		{"500100732259", "500100732259", nil},
		{" 5001 0073 2259 ", "500100732259", nil},
		{"7707083893", "7707083893", nil},
		{"7830002293", "7830002293", nil},
		{"", "", ErrRequired},
		{"500100732258", "", ErrINNChecksum}, // second control digit wrong
		{"500100732269", "", ErrINNChecksum}, // first control digit wrong
		{"7707083894", "", ErrINNChecksum},
		{"77070838", "", ErrINN},
		{"77070838931", "", ErrINN},
		{"5001007322590", "", ErrINN},
		{"0000000000", "", ErrINN},
		{"000000000000", "", ErrINN},
		{"7707-083893", "", ErrINN},
		{"77O7083893", "", ErrINN},
	})
}

func TestNormalizeOMS(t *testing.T) {
	runNorm(t, "NormalizeOMS", NormalizeOMS, []normCase{
		{"1234567890123456", "1234567890123456", nil},
		{"1234 5678 9012 3456", "1234567890123456", nil},
		{"1234-5678-9012-3456", "1234567890123456", nil},
		{"", "", ErrRequired},
		{"123456789012345", "", ErrOMS},
		{"12345678901234567", "", ErrOMS},
		{"0000000000000000", "", ErrOMS},
		{"123456789012345X", "", ErrOMS},
	})
}

func TestNormalizePassport(t *testing.T) {
	runNorm(t, "NormalizePassportSeries", NormalizePassportSeries, []normCase{
		{"4508", "4508", nil},
		{"45 08", "4508", nil},
		{" 4508 ", "4508", nil},
		{"", "", ErrRequired},
		{"450", "", ErrPassportSeries},
		{"45081", "", ErrPassportSeries},
		{"45-08", "", ErrPassportSeries},
		{"45O8", "", ErrPassportSeries},
		{"٤٥٠٨", "", ErrPassportSeries},
	})
	runNorm(t, "NormalizePassportNumber", NormalizePassportNumber, []normCase{
		{"123456", "123456", nil},
		{"123 456", "123456", nil},
		{"000000", "000000", nil},
		{"", "", ErrRequired},
		{"12345", "", ErrPassportNumber},
		{"1234567", "", ErrPassportNumber},
		{"№123456", "", ErrPassportNumber},
	})
	runNorm(t, "NormalizeDepartmentCode", NormalizeDepartmentCode, []normCase{
		{"770-001", "770-001", nil},
		{"770001", "770-001", nil},
		{"770 001", "770-001", nil},
		{"770 - 001", "770-001", nil},
		{"", "", ErrRequired},
		{"77-0001", "", ErrDepartmentCode},
		{"770--001", "", ErrDepartmentCode},
		{"770-01", "", ErrDepartmentCode},
		{"770-0011", "", ErrDepartmentCode},
		{"770.001", "", ErrDepartmentCode},
		{"77O-001", "", ErrDepartmentCode},
	})
}

func TestNormalizeForeignDocument(t *testing.T) {
	runNorm(t, "NormalizeDocSeries", NormalizeDocSeries, []normCase{
		{"", "", nil},
		{"  ", "", nil},
		{"ab", "AB", nil},
		{"MP-12", "MP12", nil},
		{"ЕК", "", ErrDocSeries},
		{"A/B", "", ErrDocSeries},
		{strings.Repeat("A", 11), "", ErrTooLong},
	})
	runNorm(t, "NormalizeDocNumber", NormalizeDocNumber, []normCase{
		{"N12345678", "N12345678", nil},
		{"n 1234 5678", "N12345678", nil},
		{strings.Repeat("9", 20), strings.Repeat("9", 20), nil},
		{"", "", ErrRequired},
		{" - ", "", ErrRequired},
		{strings.Repeat("9", 21), "", ErrTooLong},
		{"№12345", "", ErrDocNumber},
		{"Ü12345", "", ErrDocNumber},
	})
}

func TestNormalizeDriversLicence(t *testing.T) {
	runNorm(t, "NormalizeDriversLicence", NormalizeDriversLicence, []normCase{
		{"7712345678", "7712345678", nil},
		{"77 12 345678", "7712345678", nil},
		{"77 АВ 123456", "77АВ123456", nil},
		{"77ав123456", "77АВ123456", nil},
		{"77 AB 123456", "77АВ123456", nil}, // Latin twins taken as Cyrillic
		{"", "", ErrRequired},
		{"771234567", "", ErrLicence},
		{"77123456789", "", ErrLicence},
		{"77А1123456", "", ErrLicence}, // one letter, one digit
		{"77ДЖ123456", "", ErrLicence}, // letters without a Latin twin
		{"АВ77123456", "", ErrLicence},
		{"77АВ12345А", "", ErrLicence},
		{"77-12-345678", "", ErrLicence},
	})
}

func TestNormalizeText(t *testing.T) {
	issuer := func(s string) (string, error) { return NormalizeText(s, MaxIssuerLength) }
	runNorm(t, "NormalizeText", issuer, []normCase{
		{"ОВД района Марьино г. Москвы", "ОВД района Марьино г. Москвы", nil},
		{"  ОВД\r\n района   Марьино\t", "ОВД района Марьино", nil},
		{"Ministry of Interior № 5, \"Central\"", "Ministry of Interior № 5, \"Central\"", nil},
		{strings.Repeat("я", 250), strings.Repeat("я", 250), nil},
		{"", "", ErrRequired},
		{" \n ", "", ErrRequired},
		{strings.Repeat("я", 251), "", ErrTooLong},
		{"ОВД\x00", "", ErrTextChars},
		{"ОВД\u200bМарьино", "", ErrTextChars},
		{"ОВД\u202eМарьино", "", ErrTextChars},
		{"ОВД\xff", "", ErrTextChars},
	})
}

func TestCitizenships(t *testing.T) {
	list := Citizenships()
	if len(list) != 250 || list[0].Code != DefaultCitizenship || list[0].NameRU != "Россия" || list[0].NameEN != "Russia" {
		t.Fatalf("Citizenships: %d, first %+v", len(list), list[0])
	}
	seen := map[string]bool{}
	for _, c := range list {
		if len(c.Code) != 3 || strings.ToUpper(c.Code) != c.Code || c.NameRU == "" || c.NameEN == "" || seen[c.Code] {
			t.Errorf("bad entry %+v", c)
		}
		seen[c.Code] = true
	}
	for _, code := range []string{"UKR", "BLR", "KAZ", "DEU", "USA", "XXA"} {
		if !seen[code] {
			t.Errorf("%s missing", code)
		}
	}
	list[0].Code = "XXX" // a copy: the next call is unchanged
	if Citizenships()[0].Code != DefaultCitizenship {
		t.Fatal("Citizenships returned shared storage")
	}
	runNorm(t, "NormalizeCitizenship", NormalizeCitizenship, []normCase{
		{"RUS", "RUS", nil},
		{" rus ", "RUS", nil},
		{"kaz", "KAZ", nil},
		{"XXA", "XXA", nil},
		{"", "", ErrRequired},
		{"RU", "", ErrCitizenship},
		{"SUN", "", ErrCitizenship},
		{"Россия", "", ErrCitizenship},
	})
}

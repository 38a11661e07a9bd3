package account

import (
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/esia-oidc/idp/idp/identifier"
)

// checkNorm is what every fuzz target of a Normalize function asserts: no
// panic (the fuzzer sees it), a refusal is one of Errors with an empty
// result, an accepted value has the form of its kind and normalizes to
// itself.
func checkNorm(t *testing.T, f func(string) (string, error), in string, form *regexp.Regexp) {
	t.Helper()
	v, err := f(in)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || !slices.Contains(Errors, e) || v != "" {
			t.Fatalf("(%q) = %q, %v", in, v, err)
		}
		return
	}
	if !form.MatchString(v) {
		t.Fatalf("(%q) = %q, not of the form %s", in, v, form)
	}
	if again, err := f(v); err != nil || again != v {
		t.Fatalf("(%q) = %q, then %q, %v", in, v, again, err)
	}
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range append(seeds, "", " ", "\xff", "\x00", "٤٥٠٨", "１２３４") {
		f.Add(s)
	}
}

// FuzzParseDate: ParseDate and ParseBirthDate never panic, refuse with one
// of Errors, and an accepted date is midnight UTC that FormatDate and the
// ISO layout write back to the same day; a birth date is neither after
// today nor before MaxAge years ago.
func FuzzParseDate(f *testing.F) {
	addSeeds(f, "17.05.1990", "7.5.1990", "1990-05-17", "29.02.2001", "31.12.9999", "01.01.0000", "00.00.0000", "1.1.1")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !slices.Contains(Errors, e) || !d.IsZero() {
				t.Fatalf("ParseDate(%q) = %v, %v", s, d, err)
			}
			return
		}
		if d.Location() != time.UTC || d.Hour()+d.Minute()+d.Second()+d.Nanosecond() != 0 {
			t.Fatalf("ParseDate(%q) = %v", s, d)
		}
		for _, back := range []string{FormatDate(d), d.Format(DateLayoutISO)} {
			if again, err := ParseDate(back); err != nil || !again.Equal(d) {
				t.Fatalf("ParseDate(%q) = %v, written %q, read %v, %v", s, d, back, again, err)
			}
		}
		now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
		if b, err := ParseBirthDate(s, now); err == nil && (b.After(now.Add(24*time.Hour)) || b.Year() < now.Year()-MaxAge-1) {
			t.Fatalf("ParseBirthDate(%q) = %v", s, b)
		}
	})
}

func FuzzNormalizeSNILS(f *testing.F) {
	addSeeds(f, "112-233-445 95", "11223344595", "112-233-445 96", "000-000-000 00", "001-001-998 00")
	form := regexp.MustCompile(`^[0-9]{11}$`)
	f.Fuzz(func(t *testing.T, s string) { checkNorm(t, NormalizeSNILS, s, form) })
}

func FuzzNormalizeINN(f *testing.F) {
	addSeeds(f, "500100732259", "7707083893", "7707083894", "0000000000", " 5001 0073 2259 ")
	form := regexp.MustCompile(`^([0-9]{10}|[0-9]{12})$`)
	f.Fuzz(func(t *testing.T, s string) {
		checkNorm(t, NormalizeINN, s, form)
		if v, err := NormalizeINN(s); err == nil && !identifier.ValidINN(v) {
			t.Fatalf("NormalizeINN(%q) = %q with wrong control digits", s, v)
		}
	})
}

func FuzzNormalizeOMS(f *testing.F) {
	addSeeds(f, "1234567890123456", "1234 5678 9012 3456", "1234-5678-9012-3456", "0000000000000000")
	checkForm := regexp.MustCompile(`^[0-9]{16}$`)
	f.Fuzz(func(t *testing.T, s string) { checkNorm(t, NormalizeOMS, s, checkForm) })
}

// FuzzNormalizePassport covers the series, number and department code of
// a Russian passport.
func FuzzNormalizePassport(f *testing.F) {
	addSeeds(f, "4508", "45 08", "123456", "123 456", "770-001", "770001", "770 - 001", "77-0001")
	series, number, code := regexp.MustCompile(`^[0-9]{4}$`), regexp.MustCompile(`^[0-9]{6}$`), regexp.MustCompile(`^[0-9]{3}-[0-9]{3}$`)
	f.Fuzz(func(t *testing.T, s string) {
		checkNorm(t, NormalizePassportSeries, s, series)
		checkNorm(t, NormalizePassportNumber, s, number)
		checkNorm(t, NormalizeDepartmentCode, s, code)
	})
}

// FuzzNormalizeDocument covers foreign series and numbers and the driving
// licence.
func FuzzNormalizeDocument(f *testing.F) {
	addSeeds(f, "N12345678", "n 1234-5678", "MP", "77 АВ 123456", "77 AB 123456", "7712345678", "77ав123456", "ЕК")
	series, number := regexp.MustCompile(`^[A-Z0-9]{0,10}$`), regexp.MustCompile(`^[A-Z0-9]{1,20}$`)
	licence := regexp.MustCompile(`^[0-9]{2}([0-9]{2}|[АВЕКМНОРСТУХ]{2})[0-9]{6}$`)
	f.Fuzz(func(t *testing.T, s string) {
		checkNorm(t, NormalizeDocSeries, s, series)
		checkNorm(t, NormalizeDocNumber, s, number)
		checkNorm(t, NormalizeDriversLicence, s, licence)
	})
}

// FuzzNormalizeText: an accepted text is valid UTF-8 on one line, trimmed,
// within its bound, and normalizes to itself.
func FuzzNormalizeText(f *testing.F) {
	addSeeds(f, "ОВД района Марьино", "  a\r\n b  ", "a\u200bb", "a\u202eb", "\u00a0a\u3000")
	oneLine := regexp.MustCompile(`^\S(?:.*\S)?$`)
	f.Fuzz(func(t *testing.T, s string) {
		norm := func(s string) (string, error) { return NormalizeText(s, 20) }
		checkNorm(t, norm, s, oneLine)
		if v, err := norm(s); err == nil && (utf8.RuneCountInString(v) > 20 || !utf8.ValidString(v)) {
			t.Fatalf("NormalizeText(%q) = %q", s, v)
		}
	})
}

func FuzzNormalizeCitizenship(f *testing.F) {
	addSeeds(f, "RUS", "rus", "XXA", "SUN", "RU", "ß")
	form := regexp.MustCompile(`^[A-Z]{3}$`)
	f.Fuzz(func(t *testing.T, s string) { checkNorm(t, NormalizeCitizenship, s, form) })
}

// FuzzValidatePersonal: whatever is posted, ValidatePersonal does not
// panic; every error key is an account.Error's; a field with an error
// keeps what was typed; a form without errors validates to itself.
func FuzzValidatePersonal(f *testing.F) {
	p := typed()
	f.Add(p.LastName, p.BirthDate, p.Citizenship, p.DocType, p.PassportIssueDate, p.DocNumber, p.LicenceNumber)
	f.Add("Müller", "1990-05-17", "DEU", "", "", "N1", "")
	f.Add("Ivanova", "17.05.1990", "RUS", "foreign", "", "N1", "7712345678")
	f.Add("", "", "XYZ", "visa", "01.01.2000", "", "77")
	f.Fuzz(func(t *testing.T, last, birth, citizenship, docType, issued, docNumber, licence string) {
		in := typed()
		in.LastName, in.BirthDate, in.Citizenship, in.DocType = last, birth, citizenship, docType
		in.PassportIssueDate, in.DocNumber, in.LicenceNumber = issued, docNumber, licence
		if docNumber != "" {
			in.DocIssueDate, in.DocIssuer = issued, "Ministry"
		}
		if licence != "" {
			in.LicenceIssueDate, in.LicenceExpiryDate = issued, "01.01.2100"
		}
		out, errs := ValidatePersonal(in, now)
		gf, inf := out.Form(), in.Form()
		for field, key := range errs {
			if !slices.ContainsFunc(Errors, func(e *Error) bool { return e.Key() == key }) {
				t.Fatalf("%s: key %q", field, key)
			}
			if gf.Get(field) != inf.Get(field) {
				t.Fatalf("%s: returned %q, typed %q", field, gf.Get(field), inf.Get(field))
			}
		}
		if len(errs) == 0 {
			if again, errs := ValidatePersonal(out, now); len(errs) != 0 || again != out {
				t.Fatalf("valid %+v, then %+v, %v", out, again, errs)
			}
		}
	})
}

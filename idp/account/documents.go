package account

import (
	"errors"
	"regexp"
	"strings"
	"unicode"

	"github.com/esia-oidc/idp/idp/identifier"
)

// digitsOf returns the ASCII digits of s when s holds only digits and
// white space, hyphens or dots between them (as numbers are written on
// documents); ok is false for any other character.
func digitsOf(s string, seps string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case unicode.IsSpace(r) || strings.ContainsRune(seps, r):
		default:
			return "", false
		}
	}
	return b.String(), true
}

// NormalizeSNILS returns a SNILS as its 11 digits, checking its control
// number, by the rules of idp/identifier (which the login uses): white
// space and hyphens are allowed between the digits. Errors: ErrRequired,
// ErrSNILS, ErrSNILSChecksum.
func NormalizeSNILS(s string) (string, error) {
	v, err := identifier.NormalizeSNILS(s)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, identifier.ErrEmpty):
		return "", ErrRequired
	case errors.Is(err, identifier.ErrSNILSChecksum):
		return "", ErrSNILSChecksum
	}
	return "", ErrSNILS
}

// NormalizeINN returns a taxpayer number (INN) as its digits: 12 for a
// person, or 10 (an organisation's length, accepted as typed by some
// citizens), with white space allowed between them. The control digits
// must hold (the last for 10 digits, the last two for 12). Errors:
// ErrRequired, ErrINN, ErrINNChecksum.
func NormalizeINN(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrRequired
	}
	d, ok := digitsOf(s, "")
	if !ok || (len(d) != 10 && len(d) != 12) || strings.Trim(d, "0") == "" {
		return "", ErrINN
	}
	if !identifier.ValidINN(d) {
		return "", ErrINNChecksum
	}
	return d, nil
}

// NormalizeOMS returns the number of a compulsory medical insurance
// policy of the single form: 16 digits, white space and hyphens allowed
// between them. Errors: ErrRequired, ErrOMS.
func NormalizeOMS(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrRequired
	}
	d, ok := digitsOf(s, "-")
	if !ok || len(d) != 16 || strings.Trim(d, "0") == "" {
		return "", ErrOMS
	}
	return d, nil
}

// NormalizePassportSeries returns the series of a Russian passport: 4
// digits, white space allowed between them ("45 08"). Errors:
// ErrRequired, ErrPassportSeries.
func NormalizePassportSeries(s string) (string, error) {
	return fixedDigits(s, 4, ErrPassportSeries)
}

// NormalizePassportNumber returns the number of a Russian passport: 6
// digits, white space allowed between them. Errors: ErrRequired,
// ErrPassportNumber.
func NormalizePassportNumber(s string) (string, error) {
	return fixedDigits(s, 6, ErrPassportNumber)
}

func fixedDigits(s string, n int, bad *Error) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrRequired
	}
	d, ok := digitsOf(s, "")
	if !ok || len(d) != n {
		return "", bad
	}
	return d, nil
}

// departmentCode is NNN-NNN, NNN NNN or NNNNNN, with white space allowed
// around the hyphen.
var departmentCode = regexp.MustCompile(`^([0-9]{3})(?:\s*-\s*|\s+)?([0-9]{3})$`)

// NormalizeDepartmentCode returns the code of the department that issued a
// Russian passport as NNN-NNN, from NNN-NNN, NNN NNN or NNNNNN. Errors:
// ErrRequired, ErrDepartmentCode.
func NormalizeDepartmentCode(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrRequired
	}
	p := departmentCode.FindStringSubmatch(s)
	if p == nil {
		return "", ErrDepartmentCode
	}
	return p[1] + "-" + p[2], nil
}

// Foreign documents: series and number in Latin capital letters and
// digits, as printed in the machine-readable zone (ICAO Doc 9303 allows
// up to 9 characters for the number; national ID cards run longer).
const (
	MaxDocSeries = 10
	MaxDocNumber = 20
)

// NormalizeDocSeries returns the series of a foreign document: Latin
// letters and digits, upper-cased, with white space and hyphens dropped,
// at most MaxDocSeries. An empty series is valid (many documents have
// none) and returned as "". Errors: ErrDocSeries, ErrTooLong.
func NormalizeDocSeries(s string) (string, error) {
	v, err := docCode(s, MaxDocSeries, ErrDocSeries)
	if err == ErrRequired {
		return "", nil
	}
	return v, err
}

// NormalizeDocNumber returns the number of a foreign document as
// NormalizeDocSeries does, at most MaxDocNumber characters and required.
// Errors: ErrRequired, ErrDocNumber, ErrTooLong.
func NormalizeDocNumber(s string) (string, error) {
	return docCode(s, MaxDocNumber, ErrDocNumber)
}

func docCode(s string, max int, bad *Error) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case unicode.IsSpace(r) || r == '-':
		default:
			return "", bad
		}
	}
	v := b.String()
	switch {
	case v == "":
		return "", ErrRequired
	case len(v) > max:
		return "", ErrTooLong
	}
	return v, nil
}

// licenceLetters are the Cyrillic capitals a Russian driving licence series
// may hold (those with a Latin twin), and latinTwins the Latin letters
// typed for them.
const (
	licenceLetters = "АВЕКМНОРСТУХ"
	latinTwins     = "ABEKMHOPCTYX"
)

// NormalizeDriversLicence returns the number of a Russian driving
// licence: 10 characters, 2 digits (the region), 2 digits or Cyrillic
// letters (the series), 6 digits, as "77АВ123456" (white space dropped,
// letters upper-cased, a Latin letter typed for its Cyrillic twin taken
// as that letter). Errors: ErrRequired, ErrLicence.
func NormalizeDriversLicence(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrRequired
	}
	var out []rune
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		r = unicode.ToUpper(r)
		if i := strings.IndexRune(latinTwins, r); i >= 0 {
			r = []rune(licenceLetters)[i]
		}
		out = append(out, r)
		if len(out) > 10 {
			return "", ErrLicence
		}
	}
	if len(out) != 10 {
		return "", ErrLicence
	}
	for i, r := range out {
		digit := r >= '0' && r <= '9'
		if !digit && (i < 2 || i > 3 || !strings.ContainsRune(licenceLetters, r)) {
			return "", ErrLicence
		}
	}
	if d2, d3 := out[2] >= '0' && out[2] <= '9', out[3] >= '0' && out[3] <= '9'; d2 != d3 {
		return "", ErrLicence // the series is two digits or two letters
	}
	return string(out), nil
}

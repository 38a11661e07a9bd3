// Package identifier parses and normalizes what a citizen types as a login
// identifier: a phone number, an e-mail address or a SNILS (the Russian
// individual insurance account number); and, for a recovery
// (ParseRecovery), also a taxpayer number (INN) or a passport's series and
// number. Normalized values are those of store.IdentifierKind: phone
// +7XXXXXXXXXX, e-mail in lower case, SNILS as 11 digits, INN as 10 or 12
// digits, passport as its 4-digit series and 6-digit number together.
//
// # Telling the kinds apart
//
// Parse applies these rules in order to the trimmed input:
//
//  1. It holds "@": an e-mail address.
//  2. It starts with "+" or holds parentheses: a phone number.
//  3. Its digits are grouped as a SNILS is written, 3-3-3-2
//     ("123-456-789 64", "123 456 789 64"): a SNILS.
//  4. Ten digits: a phone number without the country prefix (9XXXXXXXXX).
//  5. Eleven digits starting with 7 or 8 and then 9: a phone number
//     (a Russian mobile number, +7 9XX or 8 9XX).
//  6. Any other eleven digits: a SNILS, whose control sum must hold. Eleven
//     digits starting with 7 or 8 that fail the control sum are reported as
//     unrecognized rather than as a wrong SNILS.
//  7. Anything else is unrecognized.
//
// A citizen whose SNILS starts with 79 or 89 is therefore read as a phone
// when the SNILS is typed as bare digits, and must type it with its
// separators. Phone numbers are Russian mobile numbers only (+7 9XX...),
// since a phone identifier is confirmed by SMS.
package identifier

import (
	"net/mail"
	"strings"
	"unicode"

	"github.com/esia-oidc/idp/store"
)

// Error is a typed identifier error. Its Code names the message the pages
// show next to the field: "identifier."+Code in the catalog of idp/web,
// the one place that holds user-facing text. Compare with errors.Is
// against the Err values.
type Error struct {
	code string
}

func (e *Error) Error() string { return "identifier: " + e.code }

// Code is a stable machine-readable code such as "unrecognized".
func (e *Error) Code() string { return e.code }

// Errors of this package.
var (
	ErrEmpty         = &Error{"empty"}
	ErrUnrecognized  = &Error{"unrecognized"}
	ErrPhone         = &Error{"invalid_phone"}
	ErrEmail         = &Error{"invalid_email"}
	ErrSNILS         = &Error{"invalid_snils"}
	ErrSNILSChecksum = &Error{"snils_checksum"}
)

// Errors lists every error of this package (the catalog must name each).
var Errors = []*Error{ErrEmpty, ErrUnrecognized, ErrPhone, ErrEmail, ErrSNILS, ErrSNILSChecksum, ErrINNChecksum}

// Parse tells what kind of identifier s is and returns its normalized value,
// following the rules of the package documentation. Errors are *Error values.
func Parse(s string) (store.IdentifierKind, string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", ErrEmpty
	}
	if strings.Contains(s, "@") {
		v, err := NormalizeEmail(s)
		return kindOr(store.IdentifierEmail, err), v, err
	}
	t, ok := tokenize(s)
	if !ok {
		return "", "", ErrUnrecognized
	}
	switch d := t.digits; {
	case t.plus || t.paren:
		v, err := NormalizePhone(s)
		return kindOr(store.IdentifierPhone, err), v, err
	case t.snilsLayout():
		v, err := NormalizeSNILS(s)
		return kindOr(store.IdentifierSNILS, err), v, err
	case len(d) == 10:
		v, err := NormalizePhone(s)
		return kindOr(store.IdentifierPhone, err), v, err
	case len(d) == 11 && (d[0] == '7' || d[0] == '8'):
		if d[1] == '9' {
			v, err := NormalizePhone(s)
			return kindOr(store.IdentifierPhone, err), v, err
		}
		if validSNILS(d) {
			return store.IdentifierSNILS, d, nil
		}
		return "", "", ErrUnrecognized
	case len(d) == 11:
		v, err := NormalizeSNILS(s)
		return kindOr(store.IdentifierSNILS, err), v, err
	}
	return "", "", ErrUnrecognized
}

func kindOr(k store.IdentifierKind, err error) store.IdentifierKind {
	if err != nil {
		return ""
	}
	return k
}

// isSeparator reports whether r may separate digits of a phone number or a
// SNILS: white space, hyphens and dashes, and dots.
func isSeparator(r rune) bool {
	switch r {
	case '-', '.', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
		return true
	}
	return unicode.IsSpace(r)
}

// tokens is the shape of a string of digits and separators.
type tokens struct {
	digits string // the ASCII digits, in order
	groups []int  // lengths of the runs of digits
	seps   []rune // the separator runes between runs (first of each run)
	plus   bool   // a leading '+'
	paren  bool   // '(' or ')' somewhere
}

// tokenize splits s into digit runs. ok is false when s holds anything but
// ASCII digits, separators, parentheses and one leading '+'.
func tokenize(s string) (t tokens, ok bool) {
	var b strings.Builder
	run := 0
	var sep rune
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			if run == 0 && len(t.groups) > 0 {
				t.seps = append(t.seps, sep)
			}
			b.WriteRune(r)
			run++
			continue
		case r == '+' && i == 0:
			t.plus = true
		case r == '(' || r == ')':
			t.paren = true
		case isSeparator(r):
		default:
			return tokens{}, false
		}
		if run > 0 {
			t.groups = append(t.groups, run)
			run = 0
			sep = r
		}
	}
	if run > 0 {
		t.groups = append(t.groups, run)
	}
	t.digits = b.String()
	return t, true
}

// snilsLayout reports whether the digits are grouped as a SNILS is written:
// 3-3-3-2 separated by white space or hyphens (not dots, not parentheses).
func (t tokens) snilsLayout() bool {
	if t.plus || t.paren || len(t.groups) != 4 || len(t.seps) != 3 {
		return false
	}
	for i, n := range []int{3, 3, 3, 2} {
		if t.groups[i] != n {
			return false
		}
	}
	for _, r := range t.seps {
		if r == '.' {
			return false
		}
	}
	return true
}

// NormalizePhone returns a Russian mobile number as +79XXXXXXXXX. It accepts
// +7, 8 or 7 before the ten national digits, or the ten digits alone, with
// spaces, hyphens, dots and parentheses anywhere. Errors are ErrEmpty or
// ErrPhone.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrEmpty
	}
	t, ok := tokenize(s)
	if !ok {
		return "", ErrPhone
	}
	d := t.digits
	var national string
	switch {
	case t.plus && len(d) == 11 && d[0] == '7':
		national = d[1:]
	case t.plus:
		return "", ErrPhone
	case len(d) == 11 && (d[0] == '7' || d[0] == '8'):
		national = d[1:]
	case len(d) == 10:
		national = d
	default:
		return "", ErrPhone
	}
	if national[0] != '9' {
		return "", ErrPhone
	}
	return "+7" + national, nil
}

// Limits of RFC 5321 section 4.5.3.1.
const (
	maxEmailLen = 254
	maxLocalLen = 64
)

// NormalizeEmail returns a bare e-mail address, trimmed and in lower case.
// Display names ("Name <a@b.ru>"), angle brackets, comments, quoted local
// parts, domain literals and domains without a dot are refused with ErrEmail.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrEmpty
	}
	if len(s) > maxEmailLen {
		return "", ErrEmail
	}
	a, err := mail.ParseAddress(s)
	// ParseAddress also accepts "Name <addr>", "<addr>" and "addr (comment)",
	// and unquotes quoted local parts: only an input that is exactly the
	// address it parses to is a bare address.
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrEmail
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if len(local) > maxLocalLen || strings.HasPrefix(domain, "[") || !strings.Contains(domain, ".") {
		return "", ErrEmail
	}
	return strings.ToLower(s), nil
}

// NormalizeSNILS returns a SNILS as its 11 digits, accepting white space and
// hyphens between them ("123-456-789 64"). The control number (the last two
// digits) must match: ErrSNILS for a wrong shape, ErrSNILSChecksum for a
// wrong control number.
func NormalizeSNILS(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrEmpty
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '.' || !isSeparator(r):
			return "", ErrSNILS
		}
	}
	d := b.String()
	if len(d) != 11 || d[:9] == "000000000" {
		return "", ErrSNILS
	}
	if !validSNILS(d) {
		return "", ErrSNILSChecksum
	}
	return d, nil
}

// checkedFrom is the first SNILS number whose control number is checked:
// by the rules of the Pension Fund, numbers up to 001-001-998 have none.
const checkedFrom = "001001999"

// validSNILS reports whether the 11 digits d carry the right control number.
func validSNILS(d string) bool {
	if d[:9] < checkedFrom {
		return true
	}
	return d[9:] == snilsControl(d[:9])
}

// snilsControl computes the control number of the 9-digit SNILS number n:
// the sum of each digit times its weight (9 for the first down to 1 for the
// last); below 100 that is the control number, 100 and 101 give 00, above
// 101 the remainder modulo 101 is taken, 100 again giving 00.
func snilsControl(n string) string {
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(n[i]-'0') * (9 - i)
	}
	c := sum
	switch {
	case sum == 100 || sum == 101:
		c = 0
	case sum > 101:
		c = sum % 101
		if c == 100 {
			c = 0
		}
	}
	return string([]byte{byte('0' + c/10), byte('0' + c%10)})
}

// FormatSNILS writes a normalized SNILS (11 digits) as it is printed on the
// card, "123-456-789 64". Any other input is returned unchanged.
func FormatSNILS(s string) string {
	if len(s) != 11 || strings.Trim(s, "0123456789") != "" {
		return s
	}
	return s[0:3] + "-" + s[3:6] + "-" + s[6:9] + " " + s[9:11]
}

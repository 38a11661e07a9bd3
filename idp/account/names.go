package account

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest name part, in characters.
const MaxNameLength = 100

// NormalizeName returns a last, first or middle name as it is kept: white
// space trimmed and each inner run of it one space, typographic hyphens and
// apostrophes (‐ ‑ – — ’ ʼ ‘ `) as their ASCII forms, no space around a
// hyphen. A name holds letters
// of the Russian alphabet (ё too), spaces, hyphens and apostrophes; with
// latin (a foreign document), Latin letters (with diacritics) instead, but
// never both scripts in one name. It starts and ends with a letter, has no
// two hyphens or apostrophes in a row, and at most MaxNameLength
// characters. Case is kept as typed. Errors are *Error: ErrRequired,
// ErrTooLong, ErrNameChars, ErrNameLatin, ErrNameMixed, ErrNameEdges,
// ErrNameSeparator.
func NormalizeName(s string, latin bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrNameChars
	}
	var b strings.Builder
	space := false
	var cyr, lat bool
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case isRussianLetter(r):
			cyr = true
		case isLatinLetter(r):
			lat = true
		case r == '-' || r == '\u2010' || r == '\u2011' || r == '\u2013' || r == '\u2014':
			r = '-'
		case r == '\'' || r == '\u2019' || r == '\u02bc' || r == '\u2018' || r == '`':
			r = '\''
		default:
			return "", ErrNameChars
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	n := strings.NewReplacer(" - ", "-", " -", "-", "- ", "-").Replace(b.String())
	switch {
	case n == "":
		return "", ErrRequired
	case lat && !latin:
		return "", ErrNameLatin
	case lat && cyr:
		return "", ErrNameMixed
	case utf8.RuneCountInString(n) > MaxNameLength:
		return "", ErrTooLong
	}
	first, _ := utf8.DecodeRuneInString(n)
	last, _ := utf8.DecodeLastRuneInString(n)
	if !unicode.IsLetter(first) || !unicode.IsLetter(last) {
		return "", ErrNameEdges
	}
	for _, pair := range []string{"--", "''", "-'", "'-", " '", "' "} {
		if strings.Contains(n, pair) {
			return "", ErrNameSeparator
		}
	}
	return n, nil
}

// isRussianLetter reports whether r is a letter of the Russian alphabet.
func isRussianLetter(r rune) bool {
	return (r >= 'А' && r <= 'я') || r == 'Ё' || r == 'ё'
}

// isLatinLetter reports whether r is a Latin letter, with or without
// diacritics.
func isLatinLetter(r rune) bool {
	return unicode.Is(unicode.Latin, r) && unicode.IsLetter(r)
}

package account

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of free text fields, in characters.
const (
	MaxIssuerLength     = 250 // passport_issuer, doc_issuer
	MaxBirthPlaceLength = 250 // birth_place
	MaxAddressLength    = 500 // addresses
)

// NormalizeText returns a free text (an issuer, a birthplace, an address)
// on one line: white space trimmed and each inner run of it (line breaks
// too) one space. It refuses invalid UTF-8, control and invisible format
// characters (ErrTextChars), nothing typed (ErrRequired), and more than
// max characters (ErrTooLong).
func NormalizeText(s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrTextChars
	}
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case !unicode.IsGraphic(r) || unicode.Is(unicode.Cf, r):
			return "", ErrTextChars
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	v := b.String()
	switch {
	case v == "":
		return "", ErrRequired
	case utf8.RuneCountInString(v) > max:
		return "", ErrTooLong
	}
	return v, nil
}

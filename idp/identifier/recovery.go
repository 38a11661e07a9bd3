package identifier

import (
	"strings"

	"github.com/esia-oidc/idp/store"
)

// Candidate is one reading of what a citizen typed: a kind and the
// normalized value to look up (store.Accounts.FindAccount).
type Candidate struct {
	Kind  store.IdentifierKind
	Value string
}

// ErrINNChecksum: twelve digits that are not an INN (its control digits do
// not hold).
var ErrINNChecksum = &Error{"inn_checksum"}

// ParseRecovery reads what a citizen types to recover an account: a phone,
// an e-mail or a SNILS as Parse reads them, or a taxpayer number (INN) or
// the series and number of a Russian passport. Some inputs have more than
// one reading; it returns every reading, the likeliest first, and the
// caller looks each up in turn. Rules, after Parse's rules 1-3 (e-mail;
// "+" or parentheses: phone; SNILS layout: SNILS):
//
//   - digits grouped 4-6 or 2-2-6 ("45 06 123456", "4506 123456"): a
//     passport (series and number, 10 digits);
//   - twelve digits: a person's INN, whose control digits must hold
//     (ErrINNChecksum);
//   - eleven digits: Parse's rules 5-6 (phone or SNILS);
//   - ten digits otherwise: a phone when they start with 9, a passport,
//     and an INN of ten digits when its control digit holds, in that order.
//
// Errors are *Error values, as Parse's.
func ParseRecovery(s string) ([]Candidate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ErrEmpty
	}
	if strings.Contains(s, "@") {
		return one(Parse(s))
	}
	t, ok := tokenize(s)
	if !ok {
		return nil, ErrUnrecognized
	}
	switch d := t.digits; {
	case t.plus || t.paren || t.snilsLayout():
		return one(Parse(s))
	case t.passportLayout():
		return []Candidate{{store.IdentifierPassport, d}}, nil
	case len(d) == 12:
		if !ValidINN(d) {
			return nil, ErrINNChecksum
		}
		return []Candidate{{store.IdentifierINN, d}}, nil
	case len(d) == 11:
		return one(Parse(s))
	case len(d) == 10:
		var out []Candidate
		if d[0] == '9' {
			out = append(out, Candidate{store.IdentifierPhone, "+7" + d})
		}
		out = append(out, Candidate{store.IdentifierPassport, d})
		if ValidINN(d) {
			out = append(out, Candidate{store.IdentifierINN, d})
		}
		return out, nil
	}
	return nil, ErrUnrecognized
}

func one(kind store.IdentifierKind, v string, err error) ([]Candidate, error) {
	if err != nil {
		return nil, err
	}
	return []Candidate{{kind, v}}, nil
}

// passportLayout reports whether the digits are grouped as a passport's
// series and number are written: 4-6 or 2-2-6, separated by white space or
// hyphens.
func (t tokens) passportLayout() bool {
	if t.plus || t.paren {
		return false
	}
	for _, r := range t.seps {
		if r == '.' {
			return false
		}
	}
	g := t.groups
	return len(g) == 2 && g[0] == 4 && g[1] == 6 ||
		len(g) == 3 && g[0] == 2 && g[1] == 2 && g[2] == 6
}

// INN control-digit weights (Federal Tax Service order): one control digit
// for 10 digits, two for 12.
var (
	inn10  = []int{2, 4, 10, 3, 5, 9, 4, 6, 8}
	inn12a = []int{7, 2, 4, 10, 3, 5, 9, 4, 6, 8}
	inn12b = []int{3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8}
)

// innControl is the sum of the digits of d times weights, modulo 11,
// modulo 10.
func innControl(d string, weights []int) byte {
	sum := 0
	for i, w := range weights {
		sum += int(d[i]-'0') * w
	}
	return byte('0' + sum%11%10)
}

// ValidINN reports whether d, 10 or 12 ASCII digits not all zero, carries
// the right control digits (the last for 10 digits, the last two for 12).
func ValidINN(d string) bool {
	if (len(d) != 10 && len(d) != 12) || strings.Trim(d, "0123456789") != "" || strings.Trim(d, "0") == "" {
		return false
	}
	if len(d) == 10 {
		return d[9] == innControl(d, inn10)
	}
	return d[10] == innControl(d, inn12a) && d[11] == innControl(d, inn12b)
}

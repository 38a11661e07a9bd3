package password

import "unicode"

// Personal is what the policy knows of the citizen whose password it
// checks: a new password may not hold their name, phone or e-mail. Any
// field may be empty; values are taken as typed (any phone format).
type Personal struct {
	Names        []string // last, first and middle names, in any script
	Phone, Email string
}

// CheckNew applies the policy for a citizen's new password and returns a
// *PolicyError naming the first rule it breaks, in this order:
//
//  1. Check: at least 8 characters, at most 256 bytes of valid UTF-8, no
//     control characters, not blank;
//  2. a lower-case letter, an upper-case letter (in any script), a digit
//     and a punctuation mark or symbol (! ? . , - _ @ # $ % + = ...);
//  3. not one of the 10,000 most common passwords (data/README.md),
//     compared case-insensitively, also as typed with the Russian keyboard
//     layout on ("Й" for "Q") and with digits and marks stripped from its
//     ends ("Password123!" is "password");
//  4. no run (sequence.go): four repeated characters, four characters in
//     alphabet or digit order either way (abcd, 4321, абвг), or five
//     neighbouring keys of a keyboard row either way (qwert, йцуке, !@#$%);
//  5. not holding the citizen's personal data (personal.go): a name part
//     of three letters or more, also transliterated to Latin; the last 7
//     digits of the phone; a run of three letters or digits or more of the
//     e-mail's local part.
//
// The error never holds the password.
func CheckNew(pw string, p Personal) error {
	if err := Check(pw); err != nil {
		return err
	}
	if r := composition(pw); r != "" {
		return &PolicyError{Reason: r}
	}
	if isCommon(pw) {
		return &PolicyError{Reason: ReasonCommon}
	}
	if hasRun(pw) {
		return &PolicyError{Reason: ReasonSequence}
	}
	if holdsPersonal(pw, p) {
		return &PolicyError{Reason: ReasonPersonal}
	}
	return nil
}

// composition returns the first class of character pw lacks, or "".
func composition(pw string) Reason {
	var lower, upper, digit, punct bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case isMark(r):
			punct = true
		}
	}
	switch {
	case !lower:
		return ReasonNoLower
	case !upper:
		return ReasonNoUpper
	case !digit:
		return ReasonNoDigit
	case !punct:
		return ReasonNoPunct
	}
	return ""
}

// isMark reports whether r counts as the punctuation mark the policy asks
// for: a punctuation mark or a symbol (! ? . , - _ @ # $ % + = ...).
func isMark(r rune) bool {
	return unicode.IsPunct(r) || unicode.IsSymbol(r)
}

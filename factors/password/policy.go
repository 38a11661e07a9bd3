package password

import (
	"unicode"
	"unicode/utf8"
)

// Limits of the password policy.
const (
	MinLength = 8   // characters (Unicode code points)
	MaxBytes  = 256 // bytes of UTF-8
)

// Reason is the machine-readable code of a policy violation.
type Reason string

// Reasons a password is refused.
const (
	ReasonTooShort    Reason = "too_short"    // fewer than MinLength characters
	ReasonTooLong     Reason = "too_long"     // more than MaxBytes bytes
	ReasonInvalidUTF8 Reason = "invalid_utf8" // not valid UTF-8
	ReasonControl     Reason = "control_char" // holds a control character (tab, newline, ...)
	ReasonBlank       Reason = "blank"        // only white space

	// Reasons of CheckNew only (a citizen's new password).
	ReasonNoLower  Reason = "no_lower" // no lower-case letter
	ReasonNoUpper  Reason = "no_upper" // no upper-case letter
	ReasonNoDigit  Reason = "no_digit" // no digit
	ReasonNoPunct  Reason = "no_punct" // no punctuation mark or symbol
	ReasonCommon   Reason = "common"   // on the list of common passwords
	ReasonSequence Reason = "sequence" // a keyboard, alphabet or digit run, or a repeated character
	ReasonPersonal Reason = "personal" // holds the citizen's name, phone or e-mail
)

// Reasons lists every reason (the pages' catalog must name each).
var Reasons = []Reason{
	ReasonTooShort, ReasonTooLong, ReasonInvalidUTF8, ReasonControl, ReasonBlank,
	ReasonNoLower, ReasonNoUpper, ReasonNoDigit, ReasonNoPunct, ReasonCommon, ReasonSequence, ReasonPersonal,
}

// PolicyError tells why Check refused a password. Its text is for
// developers and operators (the admin API); a page shows the citizen the
// message "password."+Reason of idp/web's catalog, the one place that holds
// user-facing text. It never includes the password.
type PolicyError struct {
	Reason Reason
}

// Key is the message key of the pages' catalog: "password."+Reason.
func (e *PolicyError) Key() string { return "password." + string(e.Reason) }

func (e *PolicyError) Error() string {
	if d, ok := policyDescriptions[e.Reason]; ok {
		return "password: " + d
	}
	return "password: does not meet the password policy"
}

var policyDescriptions = map[Reason]string{
	ReasonTooShort:    "must be at least 8 characters long",
	ReasonTooLong:     "is too long (at most 256 bytes)",
	ReasonInvalidUTF8: "is not valid UTF-8",
	ReasonControl:     "contains control characters",
	ReasonBlank:       "cannot consist of spaces only",
	ReasonNoLower:     "needs a lower-case letter",
	ReasonNoUpper:     "needs an upper-case letter",
	ReasonNoDigit:     "needs a digit",
	ReasonNoPunct:     "needs a punctuation mark or symbol",
	ReasonCommon:      "is one of the most common passwords",
	ReasonSequence:    "holds a keyboard, alphabet or digit run or a repeated character",
	ReasonPersonal:    "holds the citizen's name, phone number or e-mail address",
}

// Check applies the basic password policy and returns a
// *PolicyError when it is refused: fewer than 8 characters, more than 256
// bytes, invalid UTF-8, control characters, or only white space.
func Check(password string) error {
	switch {
	case !utf8.ValidString(password):
		return &PolicyError{Reason: ReasonInvalidUTF8}
	case len(password) > MaxBytes:
		return &PolicyError{Reason: ReasonTooLong}
	case utf8.RuneCountInString(password) < MinLength:
		return &PolicyError{Reason: ReasonTooShort}
	}
	blank := true
	for _, r := range password {
		if unicode.IsControl(r) {
			return &PolicyError{Reason: ReasonControl}
		}
		if !unicode.IsSpace(r) {
			blank = false
		}
	}
	if blank {
		return &PolicyError{Reason: ReasonBlank}
	}
	return nil
}

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
)

// PolicyError tells why Check refused a password. Its messages never
// include the password.
type PolicyError struct {
	Reason Reason
}

func (e *PolicyError) Error() string {
	return "password: " + e.Message("en")
}

// Message returns the message for the citizen in the language ("ru" or "en";
// anything else gives Russian).
func (e *PolicyError) Message(lang string) string {
	m, ok := policyMessages[e.Reason]
	if !ok {
		m = [2]string{"Пароль не подходит", "The password is not acceptable"}
	}
	if lang == "en" {
		return m[1]
	}
	return m[0]
}

var policyMessages = map[Reason][2]string{
	ReasonTooShort:    {"Пароль должен содержать не менее 8 символов", "The password must be at least 8 characters long"},
	ReasonTooLong:     {"Пароль слишком длинный (не более 256 байт)", "The password is too long (at most 256 bytes)"},
	ReasonInvalidUTF8: {"Пароль содержит недопустимые символы", "The password contains invalid characters"},
	ReasonControl:     {"Пароль содержит управляющие символы", "The password contains control characters"},
	ReasonBlank:       {"Пароль не может состоять только из пробелов", "The password cannot consist of spaces only"},
}

// Check applies the password policy to a new password and returns a
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

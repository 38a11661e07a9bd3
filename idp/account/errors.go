// Package account holds the rules of a citizen's account data: names,
// dates, documents and the personal-data form of /account/personal (the
// field names of design.md's automation contract). It is pure: no store,
// no HTTP. Every refusal is an *Error whose Key names the message a page
// shows next to the field, in idp/web's catalog.
package account

// Error is a typed validation error. Its Code is stable and
// machine-readable; Key is the catalog key of its message,
// "personal."+Code. Compare with errors.Is against the Err values. The
// text never holds what was typed.
type Error struct {
	code string
}

func (e *Error) Error() string { return "account: " + e.code }

// Code is the error's machine-readable code, such as "name_chars".
func (e *Error) Code() string { return e.code }

// Key is the message key of idp/web's catalog: "personal."+Code.
func (e *Error) Key() string { return "personal." + e.code }

// Errors of names and of every field.
var (
	ErrRequired      = &Error{"required"}        // an empty required field
	ErrTooLong       = &Error{"too_long"}        // longer than the field allows
	ErrNameChars     = &Error{"name_chars"}      // a character a name may not hold
	ErrNameLatin     = &Error{"name_latin"}      // Latin letters without a foreign document
	ErrNameMixed     = &Error{"name_mixed"}      // Cyrillic and Latin letters in one name
	ErrNameEdges     = &Error{"name_edges"}      // starts or ends with a space, hyphen or apostrophe
	ErrNameSeparator = &Error{"name_separators"} // two hyphens or apostrophes in a row
)

// Errors lists every error of this package (the catalog must name each).
var Errors = []*Error{
	ErrRequired, ErrTooLong, ErrNameChars, ErrNameLatin, ErrNameMixed, ErrNameEdges, ErrNameSeparator,
}

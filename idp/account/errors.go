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

// Errors of dates.
var (
	ErrDateFormat        = &Error{"date_format"}         // not DD.MM.YYYY nor YYYY-MM-DD
	ErrDateInvalid       = &Error{"date_invalid"}        // no such day (31.02)
	ErrBirthFuture       = &Error{"birth_future"}        // a birth date after today
	ErrBirthTooOld       = &Error{"birth_too_old"}       // a birth date more than MaxAge years ago
	ErrIssueFuture       = &Error{"issue_future"}        // an issue date after today
	ErrIssueBeforeBirth  = &Error{"issue_before_birth"}  // a document issued before its holder's birth
	ErrIssueBefore14     = &Error{"issue_before_14"}     // a passport issued before the 14th birthday
	ErrIssueBefore16     = &Error{"issue_before_16"}     // a driving licence issued before the 16th birthday
	ErrExpiryBeforeIssue = &Error{"expiry_before_issue"} // a document expiring before it was issued
)

// Errors of documents and other fields.
var (
	ErrSNILS          = &Error{"snils_format"}    // not 11 digits
	ErrSNILSChecksum  = &Error{"snils_checksum"}  // a wrong control number
	ErrINN            = &Error{"inn_format"}      // not 10 or 12 digits
	ErrINNChecksum    = &Error{"inn_checksum"}    // wrong control digits
	ErrOMS            = &Error{"oms_format"}      // not 16 digits
	ErrPassportSeries = &Error{"passport_series"} // not 4 digits
	ErrPassportNumber = &Error{"passport_number"} // not 6 digits
	ErrDepartmentCode = &Error{"department_code"} // not NNN-NNN
	ErrTextChars      = &Error{"text_chars"}      // control or invisible characters in a text
	ErrDocSeries      = &Error{"doc_series"}      // a foreign series that is not Latin letters and digits
	ErrDocNumber      = &Error{"doc_number"}      // a foreign number that is not Latin letters and digits
	ErrLicence        = &Error{"licence_format"}  // not a Russian driving licence number
	ErrCitizenship    = &Error{"citizenship"}     // not a code of Citizenships
	ErrGender         = &Error{"gender"}          // not M or F
	ErrDocType        = &Error{"doc_type"}        // not passport or foreign
)

// Errors lists every error of this package (the catalog must name each).
var Errors = []*Error{
	ErrRequired, ErrTooLong, ErrNameChars, ErrNameLatin, ErrNameMixed, ErrNameEdges, ErrNameSeparator,
	ErrDateFormat, ErrDateInvalid, ErrBirthFuture, ErrBirthTooOld, ErrIssueFuture, ErrIssueBeforeBirth,
	ErrIssueBefore14, ErrIssueBefore16, ErrExpiryBeforeIssue,
	ErrSNILS, ErrSNILSChecksum, ErrINN, ErrINNChecksum, ErrOMS, ErrPassportSeries, ErrPassportNumber,
	ErrDepartmentCode, ErrTextChars, ErrDocSeries, ErrDocNumber, ErrLicence, ErrCitizenship, ErrGender,
	ErrDocType,
}

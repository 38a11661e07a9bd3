package account

import (
	"net/url"
	"strings"
	"time"
)

// Field names of the personal-data form (/account/personal), as design.md's
// automation contract names them; the driving licence and the OMS policy
// are optional fields beside them.
const (
	FieldLastName               = "last_name"
	FieldFirstName              = "first_name"
	FieldMiddleName             = "middle_name"
	FieldBirthDate              = "birth_date"
	FieldGender                 = "gender"
	FieldBirthPlace             = "birth_place"
	FieldCitizenship            = "citizenship"
	FieldSNILS                  = "snils"
	FieldINN                    = "inn"
	FieldPassportSeries         = "passport_series"
	FieldPassportNumber         = "passport_number"
	FieldPassportIssueDate      = "passport_issue_date"
	FieldPassportIssuer         = "passport_issuer"
	FieldPassportDepartmentCode = "passport_department_code"
	FieldDocType                = "doc_type"
	FieldDocSeries              = "doc_series"
	FieldDocNumber              = "doc_number"
	FieldDocIssueDate           = "doc_issue_date"
	FieldDocIssuer              = "doc_issuer"
	FieldLicenceNumber          = "drivers_licence_number"
	FieldLicenceIssueDate       = "drivers_licence_issue_date"
	FieldLicenceExpiryDate      = "drivers_licence_expiry_date"
	FieldOMSNumber              = "oms_number"
)

// Values of the doc_type and gender fields.
const (
	DocTypePassport = "passport" // a Russian passport (also an empty doc_type)
	DocTypeForeign  = "foreign"  // a foreign document instead
	GenderMale      = "M"
	GenderFemale    = "F"
)

// Personal is the personal-data form: every field as a string, either as
// typed or, after ValidatePersonal, normalized. Dates are normalized to
// YYYY-MM-DD (DateLayoutISO).
type Personal struct {
	LastName, FirstName, MiddleName string
	BirthDate                       string
	Gender                          string
	BirthPlace                      string
	Citizenship                     string
	SNILS, INN                      string

	PassportSeries, PassportNumber string
	PassportIssueDate              string
	PassportIssuer                 string
	PassportDepartmentCode         string

	DocType                 string
	DocSeries, DocNumber    string
	DocIssueDate, DocIssuer string
	LicenceNumber           string
	LicenceIssueDate        string
	LicenceExpiryDate       string
	OMSNumber               string
}

// fields pairs each field name with its place in p, in the order of
// FieldNames.
func (p *Personal) fields() []struct {
	name string
	v    *string
} {
	return []struct {
		name string
		v    *string
	}{
		{FieldLastName, &p.LastName}, {FieldFirstName, &p.FirstName}, {FieldMiddleName, &p.MiddleName},
		{FieldBirthDate, &p.BirthDate}, {FieldGender, &p.Gender}, {FieldBirthPlace, &p.BirthPlace},
		{FieldCitizenship, &p.Citizenship}, {FieldSNILS, &p.SNILS}, {FieldINN, &p.INN},
		{FieldPassportSeries, &p.PassportSeries}, {FieldPassportNumber, &p.PassportNumber},
		{FieldPassportIssueDate, &p.PassportIssueDate}, {FieldPassportIssuer, &p.PassportIssuer},
		{FieldPassportDepartmentCode, &p.PassportDepartmentCode},
		{FieldDocType, &p.DocType}, {FieldDocSeries, &p.DocSeries}, {FieldDocNumber, &p.DocNumber},
		{FieldDocIssueDate, &p.DocIssueDate}, {FieldDocIssuer, &p.DocIssuer},
		{FieldLicenceNumber, &p.LicenceNumber}, {FieldLicenceIssueDate, &p.LicenceIssueDate},
		{FieldLicenceExpiryDate, &p.LicenceExpiryDate}, {FieldOMSNumber, &p.OMSNumber},
	}
}

// FieldNames lists the form's field names, in the order a page shows them.
func FieldNames() []string {
	var p Personal
	f := p.fields()
	names := make([]string, len(f))
	for i, x := range f {
		names[i] = x.name
	}
	return names
}

// PersonalFromForm reads the form's fields from posted values (the first
// value of each), as typed.
func PersonalFromForm(v url.Values) Personal {
	var p Personal
	for _, f := range p.fields() {
		*f.v = v.Get(f.name)
	}
	return p
}

// Form returns p as form values, every field present (empty ones too).
func (p Personal) Form() url.Values {
	v := url.Values{}
	for _, f := range p.fields() {
		v.Set(f.name, *f.v)
	}
	return v
}

// ForeignDocument reports whether p uses a foreign document instead of a
// Russian passport: doc_type is foreign, or the citizenship is not
// Russian (an empty or unknown one counts as Russian: the citizenship
// field's own error says what is wrong with it).
func (p Personal) ForeignDocument() bool {
	c, err := NormalizeCitizenship(p.Citizenship)
	if err != nil {
		c = DefaultCitizenship
	}
	return normalizeDocType(p.DocType) == DocTypeForeign || c != DefaultCitizenship
}

// normalizeDocType returns doc_type trimmed and in lower case, passport
// when empty.
func normalizeDocType(s string) string {
	if s = strings.ToLower(strings.TrimSpace(s)); s == "" {
		return DocTypePassport
	}
	return s
}

// ValidatePersonal checks every field of p and returns the normalized
// values and, by field name, the catalog key of each field's error
// ("personal."+code); an empty map means p may be saved. A field with an
// error keeps what was typed, so a page shows it back unchanged. The
// rules:
//
//   - last and first name required, middle name optional (NormalizeName),
//     Latin letters only with a foreign document;
//   - birth date (ParseBirthDate), gender (M or F) and birthplace required;
//     citizenship defaults to DefaultCitizenship;
//   - SNILS required, INN and OMS policy optional;
//   - doc_type empty or passport, or foreign; with a Russian citizenship
//     and no foreign doc_type the passport is required (series, number,
//     issue date after the 14th birthday, issuer, department code);
//     otherwise the foreign document is (number, issue date, issuer; the
//     series optional). The other document is optional: when any of its
//     fields is filled, it is checked whole;
//   - the driving licence is optional; when any of its fields is filled,
//     number, issue date (after the 16th birthday) and expiry date (after
//     the issue) are required.
func ValidatePersonal(p Personal, now time.Time) (Personal, map[string]string) {
	v := &validation{out: p, errs: map[string]string{}}
	foreign := p.ForeignDocument()

	v.name(FieldLastName, &v.out.LastName, foreign, true)
	v.name(FieldFirstName, &v.out.FirstName, foreign, true)
	v.name(FieldMiddleName, &v.out.MiddleName, foreign, false)

	var birth time.Time
	if t, err := ParseBirthDate(p.BirthDate, now); v.check(FieldBirthDate, err) {
		birth = t
		v.out.BirthDate = t.Format(DateLayoutISO)
	}
	v.apply(FieldGender, &v.out.Gender, true, normalizeGender)
	v.apply(FieldBirthPlace, &v.out.BirthPlace, true, func(s string) (string, error) {
		return NormalizeText(s, MaxBirthPlaceLength)
	})
	if isBlank(p.Citizenship) {
		v.out.Citizenship = DefaultCitizenship
	} else {
		v.apply(FieldCitizenship, &v.out.Citizenship, true, NormalizeCitizenship)
	}
	v.apply(FieldSNILS, &v.out.SNILS, true, NormalizeSNILS)
	v.apply(FieldINN, &v.out.INN, false, NormalizeINN)
	v.apply(FieldOMSNumber, &v.out.OMSNumber, false, NormalizeOMS)

	switch dt := normalizeDocType(p.DocType); dt {
	case DocTypePassport, DocTypeForeign:
		v.out.DocType = dt
	default:
		v.errs[FieldDocType] = ErrDocType.Key()
	}
	passport := p.PassportSeries + p.PassportNumber + p.PassportIssueDate + p.PassportIssuer + p.PassportDepartmentCode
	if !foreign || !isBlank(passport) {
		v.passport(birth, now)
	}
	doc := p.DocSeries + p.DocNumber + p.DocIssueDate + p.DocIssuer
	if foreign || !isBlank(doc) {
		v.foreignDoc(birth, now)
	}
	if !isBlank(p.LicenceNumber + p.LicenceIssueDate + p.LicenceExpiryDate) {
		v.licence(birth, now)
	}
	return v.out, v.errs
}

// validation collects the normalized values and the errors of one form.
type validation struct {
	out  Personal
	errs map[string]string
}

// check records err (an *Error) under field and reports whether there was
// none.
func (v *validation) check(field string, err error) bool {
	if err == nil {
		return true
	}
	key := ErrRequired.Key()
	if e, ok := err.(*Error); ok {
		key = e.Key()
	}
	v.errs[field] = key
	return false
}

// apply normalizes *val with norm, recording its error under field; an
// optional field left blank is set to "" without error.
func (v *validation) apply(field string, val *string, required bool, norm func(string) (string, error)) {
	if !required && isBlank(*val) {
		*val = ""
		return
	}
	if n, err := norm(*val); v.check(field, err) {
		*val = n
	}
}

func (v *validation) name(field string, val *string, latin, required bool) {
	v.apply(field, val, required, func(s string) (string, error) { return NormalizeName(s, latin) })
}

// date parses an issue date and runs check on it, recording the error.
func (v *validation) date(field string, val *string, check func(time.Time) error) (time.Time, bool) {
	t, err := ParseDate(*val)
	if err == nil {
		err = check(t)
	}
	if !v.check(field, err) {
		return time.Time{}, false
	}
	*val = t.Format(DateLayoutISO)
	return t, true
}

func (v *validation) passport(birth, now time.Time) {
	o := &v.out
	v.apply(FieldPassportSeries, &o.PassportSeries, true, NormalizePassportSeries)
	v.apply(FieldPassportNumber, &o.PassportNumber, true, NormalizePassportNumber)
	v.date(FieldPassportIssueDate, &o.PassportIssueDate, func(t time.Time) error {
		return CheckPassportIssueDate(t, birth, now)
	})
	v.apply(FieldPassportIssuer, &o.PassportIssuer, true, issuer)
	v.apply(FieldPassportDepartmentCode, &o.PassportDepartmentCode, true, NormalizeDepartmentCode)
}

func (v *validation) foreignDoc(birth, now time.Time) {
	o := &v.out
	v.apply(FieldDocSeries, &o.DocSeries, false, NormalizeDocSeries)
	v.apply(FieldDocNumber, &o.DocNumber, true, NormalizeDocNumber)
	v.date(FieldDocIssueDate, &o.DocIssueDate, func(t time.Time) error {
		return CheckIssueDate(t, birth, now)
	})
	v.apply(FieldDocIssuer, &o.DocIssuer, true, issuer)
}

func (v *validation) licence(birth, now time.Time) {
	o := &v.out
	v.apply(FieldLicenceNumber, &o.LicenceNumber, true, NormalizeDriversLicence)
	issued, ok := v.date(FieldLicenceIssueDate, &o.LicenceIssueDate, func(t time.Time) error {
		return CheckLicenceIssueDate(t, birth, now)
	})
	v.date(FieldLicenceExpiryDate, &o.LicenceExpiryDate, func(t time.Time) error {
		if !ok {
			return nil
		}
		return CheckExpiryDate(t, issued)
	})
}

func issuer(s string) (string, error) { return NormalizeText(s, MaxIssuerLength) }

// normalizeGender accepts M or F in either case. Errors: ErrRequired,
// ErrGender.
func normalizeGender(s string) (string, error) {
	switch s = strings.ToUpper(strings.TrimSpace(s)); s {
	case "":
		return "", ErrRequired
	case GenderMale, GenderFemale:
		return s, nil
	}
	return "", ErrGender
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

package account

import (
	"time"

	"github.com/esia-oidc/idp/store"
)

// PersonalOf is the personal-data form as the account holds it: what the
// page shows before the citizen types. Dates are shown as DD.MM.YYYY.
func PersonalOf(a *store.Account) Personal {
	p := Personal{
		LastName: a.LastName, FirstName: a.FirstName, MiddleName: a.MiddleName,
		BirthDate: showDate(a.Birthdate), Gender: a.Gender, BirthPlace: a.Birthplace,
		Citizenship: a.Citizenship, SNILS: a.SNILS, INN: a.INN, DocType: DocTypePassport,
	}
	if p.Citizenship == "" {
		p.Citizenship = DefaultCitizenship
	}
	if d := a.Passport; d != nil {
		p.PassportSeries, p.PassportNumber, p.PassportIssueDate = d.Series, d.Number, showDate(d.IssueDate)
		p.PassportIssuer, p.PassportDepartmentCode = d.Issuer, d.DepartmentCode
	}
	if d := a.ForeignDocument; d != nil {
		p.DocSeries, p.DocNumber, p.DocIssueDate, p.DocIssuer = d.Series, d.Number, showDate(d.IssueDate), d.Issuer
		if a.Passport == nil {
			p.DocType = DocTypeForeign
		}
	}
	if d := a.DriversLicence; d != nil {
		p.LicenceNumber, p.LicenceIssueDate, p.LicenceExpiryDate = d.Series+d.Number, showDate(d.IssueDate), showDate(d.ExpiryDate)
	}
	if d := a.MedicalPolicy; d != nil {
		p.OMSNumber = d.Number
	}
	return p
}

// showDate turns YYYY-MM-DD into DD.MM.YYYY (anything else as it is).
func showDate(s string) string {
	t, err := time.Parse(DateLayoutISO, s)
	if err != nil {
		return s
	}
	return FormatDate(t)
}

// Apply writes the normalized form (ValidatePersonal's output, without
// errors) onto the account. A document whose fields are all empty is
// removed.
func (p Personal) Apply(a *store.Account) {
	a.LastName, a.FirstName, a.MiddleName = p.LastName, p.FirstName, p.MiddleName
	a.Birthdate, a.Gender, a.Birthplace, a.Citizenship = p.BirthDate, p.Gender, p.BirthPlace, p.Citizenship
	a.SNILS, a.INN = p.SNILS, p.INN
	a.Passport = document(store.DocPassport, p.PassportSeries, p.PassportNumber, p.PassportIssueDate, "", p.PassportIssuer, p.PassportDepartmentCode)
	a.ForeignDocument = document(store.DocForeign, p.DocSeries, p.DocNumber, p.DocIssueDate, "", p.DocIssuer, "")
	series, number := p.LicenceNumber, ""
	if r := []rune(series); len(r) == 10 { // region and series, then the number
		series, number = string(r[:4]), string(r[4:])
	}
	a.DriversLicence = document(store.DocDriversLicence, series, number, p.LicenceIssueDate, p.LicenceExpiryDate, "", "")
	a.MedicalPolicy = document(store.DocMedicalPolicy, "", p.OMSNumber, "", "", "", "")
}

func document(typ, series, number, issued, expires, issuer, dept string) *store.Document {
	if series+number+issued+expires+issuer+dept == "" {
		return nil
	}
	return &store.Document{Type: typ, Series: series, Number: number, IssueDate: issued, ExpiryDate: expires, Issuer: issuer, DepartmentCode: dept}
}

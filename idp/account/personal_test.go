package account

import (
	"maps"
	"net/url"
	"slices"
	"testing"
)

// typed is a valid form as a citizen with a Russian passport types it.
func typed() Personal {
	return Personal{
		LastName: " Иванова ", FirstName: "Анна", MiddleName: "Сергеевна",
		BirthDate: "17.05.1990", Gender: "f", BirthPlace: "г. Москва",
		Citizenship: "", SNILS: "112-233-445 95", INN: "5001 0073 2259",
		PassportSeries: "45 08", PassportNumber: "123456", PassportIssueDate: "20.06.2010",
		PassportIssuer: "ОВД района Марьино г. Москвы", PassportDepartmentCode: "770001",
	}
}

func TestValidatePersonalValid(t *testing.T) {
	got, errs := ValidatePersonal(typed(), now)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := Personal{
		LastName: "Иванова", FirstName: "Анна", MiddleName: "Сергеевна",
		BirthDate: "1990-05-17", Gender: "F", BirthPlace: "г. Москва",
		Citizenship: "RUS", SNILS: "11223344595", INN: "500100732259",
		PassportSeries: "4508", PassportNumber: "123456", PassportIssueDate: "2010-06-20",
		PassportIssuer: "ОВД района Марьино г. Москвы", PassportDepartmentCode: "770-001",
		DocType: DocTypePassport,
	}
	if got != want {
		t.Fatalf("normalized\n got %+v\nwant %+v", got, want)
	}
	// Normalized values validate to themselves.
	if again, errs := ValidatePersonal(got, now); len(errs) != 0 || again != got {
		t.Fatalf("again: %+v, %v", again, errs)
	}
}

func TestValidatePersonal(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(p *Personal)
		want map[string]string
	}{
		{"empty form", func(p *Personal) { *p = Personal{} }, map[string]string{
			FieldLastName: "personal.required", FieldFirstName: "personal.required",
			FieldBirthDate: "personal.required", FieldGender: "personal.required",
			FieldBirthPlace: "personal.required", FieldSNILS: "personal.required",
			FieldPassportSeries: "personal.required", FieldPassportNumber: "personal.required",
			FieldPassportIssueDate: "personal.required", FieldPassportIssuer: "personal.required",
			FieldPassportDepartmentCode: "personal.required",
		}},
		{"bad fields", func(p *Personal) {
			p.LastName, p.FirstName, p.MiddleName = "Ivanova", "Анна2", "-"
			p.BirthDate, p.Gender, p.BirthPlace = "31.02.1990", "Ж", "\x00"
			p.Citizenship, p.SNILS, p.INN = "XYZ", "112-233-445 96", "7707083894"
			p.OMSNumber, p.DocType = "123", "visa"
		}, map[string]string{
			FieldLastName: "personal.name_latin", FieldFirstName: "personal.name_chars",
			FieldMiddleName: "personal.name_edges", FieldBirthDate: "personal.date_invalid",
			FieldGender: "personal.gender", FieldBirthPlace: "personal.text_chars",
			FieldCitizenship: "personal.citizenship", FieldSNILS: "personal.snils_checksum",
			FieldINN: "personal.inn_checksum", FieldOMSNumber: "personal.oms_format",
			FieldDocType: "personal.doc_type",
			// An unknown citizenship and doc_type count as Russian and
			// passport: the typed passport is checked, no foreign document
			// is asked for, Latin names are refused.
		}},
		{"passport fields", func(p *Personal) {
			p.PassportSeries, p.PassportNumber, p.PassportIssueDate = "450", "12345", "01.01.2000"
			p.PassportDepartmentCode = "77-0001"
		}, map[string]string{
			FieldPassportSeries: "personal.passport_series", FieldPassportNumber: "personal.passport_number",
			FieldPassportIssueDate: "personal.issue_before_14", FieldPassportDepartmentCode: "personal.department_code",
		}},
		{"passport issued in the future", func(p *Personal) { p.PassportIssueDate = "2027-01-01" },
			map[string]string{FieldPassportIssueDate: "personal.issue_future"}},
		{"unknown birth date: passport date only checked against today", func(p *Personal) {
			p.BirthDate, p.PassportIssueDate = "1990", "01.01.1995"
		}, map[string]string{FieldBirthDate: "personal.date_format"}},
		{"birth in the future", func(p *Personal) { p.BirthDate = "01.01.2030" },
			map[string]string{FieldBirthDate: "personal.birth_future"}},
		{"foreign citizen with a foreign document and Latin names", func(p *Personal) {
			p.LastName, p.FirstName, p.MiddleName, p.Citizenship = "Müller", "Hans", "", "deu"
			p.PassportSeries, p.PassportNumber, p.PassportIssueDate, p.PassportIssuer, p.PassportDepartmentCode = "", "", "", "", ""
			p.DocSeries, p.DocNumber, p.DocIssueDate, p.DocIssuer = "", "c01x00t47", "01.02.2015", "Stadt Köln"
		}, map[string]string{}},
		{"foreign citizen without a document", func(p *Personal) {
			p.Citizenship = "KAZ"
			p.PassportSeries, p.PassportNumber, p.PassportIssueDate, p.PassportIssuer, p.PassportDepartmentCode = "", "", "", "", ""
		}, map[string]string{FieldDocNumber: "personal.required", FieldDocIssueDate: "personal.required", FieldDocIssuer: "personal.required"}},
		{"new citizen: Russian, foreign document", func(p *Personal) {
			p.DocType, p.LastName = "foreign", "Ivanova"
			p.PassportSeries, p.PassportNumber, p.PassportIssueDate, p.PassportIssuer, p.PassportDepartmentCode = "", "", "", "", ""
			p.DocNumber, p.DocIssueDate, p.DocIssuer = "N1234567", "1990-05-17", "Ministry"
		}, map[string]string{}},
		{"foreign document issued before birth", func(p *Personal) {
			p.DocType, p.DocNumber, p.DocIssueDate, p.DocIssuer = "foreign", "N1234567", "16.05.1990", "Ministry"
		}, map[string]string{FieldDocIssueDate: "personal.issue_before_birth"}},
		{"foreign document, partly filled passport is checked", func(p *Personal) {
			p.DocType, p.DocNumber, p.DocIssueDate, p.DocIssuer = "foreign", "N1234567", "2015-01-01", "Ministry"
			p.PassportSeries, p.PassportNumber, p.PassportIssueDate, p.PassportIssuer, p.PassportDepartmentCode = "", "654321", "", "", ""
		}, map[string]string{
			FieldPassportSeries: "personal.required", FieldPassportIssueDate: "personal.required",
			FieldPassportIssuer: "personal.required", FieldPassportDepartmentCode: "personal.required",
		}},
		{"passport, partly filled foreign document is checked", func(p *Personal) { p.DocSeries = "Ж" },
			map[string]string{FieldDocSeries: "personal.doc_series", FieldDocNumber: "personal.required",
				FieldDocIssueDate: "personal.required", FieldDocIssuer: "personal.required"}},
		{"Latin names with a passport", func(p *Personal) { p.FirstName = "Anna" },
			map[string]string{FieldFirstName: "personal.name_latin"}},
		{"licence and OMS", func(p *Personal) {
			p.LicenceNumber, p.LicenceIssueDate, p.LicenceExpiryDate = "77 AB 123456", "01.06.2010", "01.06.2020"
			p.OMSNumber = "1234 5678 9012 3456"
		}, map[string]string{}},
		{"licence part only", func(p *Personal) { p.LicenceNumber = "7712345678" },
			map[string]string{FieldLicenceIssueDate: "personal.required", FieldLicenceExpiryDate: "personal.required"}},
		{"licence before 16, expiry before issue", func(p *Personal) {
			p.LicenceNumber, p.LicenceIssueDate, p.LicenceExpiryDate = "77АВ1234", "01.01.2006", "01.01.2005"
		}, map[string]string{
			FieldLicenceNumber: "personal.licence_format", FieldLicenceIssueDate: "personal.issue_before_16",
		}},
		{"licence expiry before a valid issue", func(p *Personal) {
			p.LicenceNumber, p.LicenceIssueDate, p.LicenceExpiryDate = "7712345678", "2010-01-01", "2009-01-01"
		}, map[string]string{FieldLicenceExpiryDate: "personal.expiry_before_issue"}},
		{"too long", func(p *Personal) {
			p.BirthPlace = longText(251)
		}, map[string]string{FieldBirthPlace: "personal.too_long"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := typed()
			tc.edit(&in)
			got, errs := ValidatePersonal(in, now)
			if !maps.Equal(errs, tc.want) {
				t.Fatalf("errors\n got %v\nwant %v", errs, tc.want)
			}
			// Nothing typed is lost: a field with an error keeps its input.
			gf, inf := got.Form(), in.Form()
			for field := range errs {
				if gf.Get(field) != inf.Get(field) {
					t.Errorf("%s: returned %q, typed %q", field, gf.Get(field), inf.Get(field))
				}
			}
			for field, key := range errs {
				if !slices.ContainsFunc(Errors, func(e *Error) bool { return e.Key() == key }) {
					t.Errorf("%s: key %q is no account.Error's", field, key)
				}
			}
		})
	}
}

func longText(n int) string {
	r := make([]rune, n)
	for i := range r {
		r[i] = 'я'
	}
	return string(r)
}

func TestFormRoundTrip(t *testing.T) {
	names := FieldNames()
	if len(names) != 23 || names[0] != "last_name" || !slices.Contains(names, "passport_department_code") || !slices.Contains(names, "oms_number") {
		t.Fatalf("FieldNames = %v", names)
	}
	v := url.Values{}
	for i, n := range names {
		v.Set(n, "v"+string(rune('a'+i)))
	}
	v.Set("csrf", "x")
	p := PersonalFromForm(v)
	if p.LastName != "va" || p.PassportDepartmentCode != v.Get(FieldPassportDepartmentCode) || p.OMSNumber != v.Get(FieldOMSNumber) {
		t.Fatalf("PersonalFromForm = %+v", p)
	}
	back := p.Form()
	v.Del("csrf")
	if !maps.EqualFunc(back, v, slices.Equal) {
		t.Fatalf("Form = %v, want %v", back, v)
	}
	// Every field is distinct: setting one changes exactly one value.
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Fatalf("%s twice", n)
		}
		seen[n] = true
	}
	if len(Personal{}.Form()) != len(names) {
		t.Fatal("Form of an empty Personal lacks fields")
	}
}

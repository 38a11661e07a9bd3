// Package consent holds the table of scopes: which claims each scope
// releases and the minimum account level it needs, and the rules for
// remembered consent decisions.
package consent

import (
	"slices"
	"strings"

	"github.com/esia-oidc/idp/store"
)

// Scope is one row of the scope table.
type Scope struct {
	Name     string
	MinLevel store.Level
	// Claims released by the scope, in the order they are documented.
	Claims []string
	// Silent scopes need no consent question (openid, offline_access is asked).
	Silent bool
}

// Table is the scope table, in the order scopes are shown on the consent page.
var Table = []Scope{
	{Name: "openid", MinLevel: store.LevelSimplified, Claims: []string{"sub", "level", "acr", "amr", "auth_time", "sid"}, Silent: true},
	{Name: "fullname", MinLevel: store.LevelSimplified, Claims: []string{"family_name", "given_name", "middle_name", "name"}},
	{Name: "profile", MinLevel: store.LevelSimplified, Claims: []string{"family_name", "given_name", "middle_name", "name"}},
	{Name: "birthdate", MinLevel: store.LevelSimplified, Claims: []string{"birthdate"}},
	{Name: "gender", MinLevel: store.LevelSimplified, Claims: []string{"gender"}},
	{Name: "email", MinLevel: store.LevelSimplified, Claims: []string{"email", "email_verified"}},
	{Name: "mobile", MinLevel: store.LevelSimplified, Claims: []string{"phone_number", "phone_number_verified"}},
	{Name: "phone", MinLevel: store.LevelSimplified, Claims: []string{"phone_number", "phone_number_verified"}},
	{Name: "contacts", MinLevel: store.LevelSimplified, Claims: []string{"contacts"}},
	{Name: "snils", MinLevel: store.LevelStandard, Claims: []string{"snils"}},
	{Name: "inn", MinLevel: store.LevelStandard, Claims: []string{"inn"}},
	{Name: "id_doc", MinLevel: store.LevelStandard, Claims: []string{"id_doc"}},
	{Name: "birthplace", MinLevel: store.LevelStandard, Claims: []string{"birthplace"}},
	{Name: "citizenship", MinLevel: store.LevelStandard, Claims: []string{"citizenship"}},
	{Name: "addresses", MinLevel: store.LevelStandard, Claims: []string{"addresses"}},
	{Name: "drivers_licence_doc", MinLevel: store.LevelStandard, Claims: []string{"drivers_licence"}},
	{Name: "medical_doc", MinLevel: store.LevelStandard, Claims: []string{"medical_policy"}},
	{Name: "offline_access", MinLevel: store.LevelSimplified},
}

var byName = func() map[string]*Scope {
	m := make(map[string]*Scope, len(Table))
	for i := range Table {
		m[Table[i].Name] = &Table[i]
	}
	return m
}()

// Lookup returns the row of a scope.
func Lookup(name string) (Scope, bool) {
	s, ok := byName[name]
	if !ok {
		return Scope{}, false
	}
	return *s, true
}

// Known reports whether the scope is in the table.
func Known(name string) bool { _, ok := byName[name]; return ok }

// Names lists every scope in table order (for discovery's scopes_supported).
func Names() []string {
	out := make([]string, len(Table))
	for i, s := range Table {
		out[i] = s.Name
	}
	return out
}

// ClaimNames lists every claim some scope releases, without duplicates.
func ClaimNames() []string {
	var out []string
	for _, s := range Table {
		for _, c := range s.Claims {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// AboveLevel returns the requested scopes that need a higher level than the
// account has, in request order.
func AboveLevel(level store.Level, scopes []string) []string {
	var out []string
	for _, name := range scopes {
		if s, ok := byName[name]; ok && s.MinLevel.Rank() > level.Rank() {
			out = append(out, name)
		}
	}
	return out
}

// Covered reports whether a remembered grant covers every requested scope
// that needs consent.
func Covered(granted, requested []string) bool {
	for _, name := range requested {
		if s, ok := byName[name]; ok && s.Silent {
			continue
		}
		if !slices.Contains(granted, name) {
			return false
		}
	}
	return true
}

// NeedsQuestion lists the requested scopes shown on the consent page.
func NeedsQuestion(requested []string) []string {
	var out []string
	for _, name := range requested {
		if s, ok := byName[name]; ok && !s.Silent {
			out = append(out, name)
		}
	}
	return out
}

// Claims returns the claims about the account that the granted scopes
// release (the scope-dependent claims only; sub, level, acr, amr, auth_time
// and sid are the protocol layer's). Empty values are left out.
func Claims(a *store.Account, granted []string) map[string]any {
	out := map[string]any{}
	for _, name := range granted {
		s, ok := byName[name]
		if !ok {
			continue
		}
		for _, c := range s.Claims {
			if v, ok := claim(a, c); ok {
				out[c] = v
			}
		}
	}
	return out
}

func claim(a *store.Account, name string) (any, bool) {
	str := func(s string) (any, bool) { return s, s != "" }
	switch name {
	case "family_name":
		return str(a.LastName)
	case "given_name":
		return str(a.FirstName)
	case "middle_name":
		return str(a.MiddleName)
	case "name":
		return str(strings.Join(slices.DeleteFunc([]string{a.FirstName, a.MiddleName, a.LastName}, func(s string) bool { return s == "" }), " "))
	case "birthdate":
		return str(a.Birthdate)
	case "gender":
		switch a.Gender {
		case "M":
			return "male", true
		case "F":
			return "female", true
		}
		return nil, false
	case "email":
		return str(a.Email)
	case "email_verified":
		return a.EmailVerified, a.Email != ""
	case "phone_number":
		return str(a.Phone)
	case "phone_number_verified":
		return a.PhoneVerified, a.Phone != ""
	case "snils":
		return str(a.SNILS)
	case "inn":
		return str(a.INN)
	case "birthplace":
		return str(a.Birthplace)
	case "citizenship":
		return str(a.Citizenship)
	case "id_doc":
		return idDoc(a)
	case "contacts":
		return contacts(a)
	case "addresses":
		return addresses(a)
	case "drivers_licence":
		if d := a.DriversLicence; d != nil && d.Number != "" {
			return omitEmpty(map[string]any{"series": d.Series, "number": d.Number, "issue_date": d.IssueDate, "expiry_date": d.ExpiryDate}), true
		}
	case "medical_policy":
		if d := a.MedicalPolicy; d != nil && d.Number != "" {
			return omitEmpty(map[string]any{"number": d.Number, "issuer": d.Issuer, "expiry_date": d.ExpiryDate}), true
		}
	}
	return nil, false
}

// Document types of the id_doc claim (ESIA's names).
const (
	IDDocPassport = "RF_PASSPORT"
	IDDocForeign  = "FID_DOC"
)

// idDoc is the identity document: the Russian passport, else the foreign
// document.
func idDoc(a *store.Account) (any, bool) {
	d, typ := a.Passport, IDDocPassport
	if d == nil || d.Number == "" {
		d, typ = a.ForeignDocument, IDDocForeign
	}
	if d == nil || d.Number == "" {
		return nil, false
	}
	return omitEmpty(map[string]any{
		"type": typ, "series": d.Series, "number": d.Number, "issue_date": d.IssueDate, "expiry_date": d.ExpiryDate,
		"issued_by": d.Issuer, "department_code": d.DepartmentCode, "citizenship": a.Citizenship,
	}), true
}

// contacts lists the phone and the e-mail with their confirmation.
func contacts(a *store.Account) (any, bool) {
	var out []map[string]any
	if a.Phone != "" {
		out = append(out, map[string]any{"type": "mobile", "value": a.Phone, "verified": a.PhoneVerified})
	}
	if a.Email != "" {
		out = append(out, map[string]any{"type": "email", "value": a.Email, "verified": a.EmailVerified})
	}
	return out, len(out) > 0
}

// addresses lists the registration and residence addresses.
func addresses(a *store.Account) (any, bool) {
	var out []map[string]any
	if a.RegistrationAddress != "" {
		out = append(out, map[string]any{"type": "registration", "formatted": a.RegistrationAddress})
	}
	if a.ResidenceAddress != "" {
		out = append(out, map[string]any{"type": "residence", "formatted": a.ResidenceAddress})
	}
	return out, len(out) > 0
}

// omitEmpty drops the empty strings of a claim object.
func omitEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if s, ok := v.(string); ok && s == "" {
			delete(m, k)
		}
	}
	return m
}

// ReleasedClaims lists the claims the granted scopes release, in table
// order, without duplicates.
func ReleasedClaims(granted []string) []string {
	var out []string
	for _, s := range Table {
		if !slices.Contains(granted, s.Name) || s.Silent {
			continue // openid's claims are the protocol's own, always in the ID token
		}
		for _, c := range s.Claims {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

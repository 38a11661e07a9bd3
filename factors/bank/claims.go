package bank

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/esia-oidc/idp/factors"
)

// The fields of a citizen a bank may release, by this provider's names.
// Dates are YYYY-MM-DD; gender is M or F.
const (
	FieldLastName       = "last_name"
	FieldFirstName      = "first_name"
	FieldMiddleName     = "middle_name"
	FieldBirthdate      = "birthdate"
	FieldGender         = "gender"
	FieldSNILS          = "snils"
	FieldINN            = "inn"
	FieldPhone          = "phone"
	FieldEmail          = "email"
	FieldCitizenship    = "citizenship"
	FieldBirthplace     = "birthplace"
	FieldPassportSeries = "passport_series"
	FieldPassportNumber = "passport_number"
	FieldPassportIssued = "passport_issue_date"
	FieldPassportIssuer = "passport_issuer"
	FieldPassportDept   = "passport_department_code"
)

// DefaultClaims maps each field to the claim that carries it at a
// provider that speaks this provider's own dialect (ESIA-style scopes,
// OpenID Connect for Identity Assurance): a path of claim names, dotted
// into JSON objects.
var DefaultClaims = map[string]string{
	FieldLastName:       "family_name",
	FieldFirstName:      "given_name",
	FieldMiddleName:     "middle_name",
	FieldBirthdate:      "birthdate",
	FieldGender:         "gender",
	FieldSNILS:          "snils",
	FieldINN:            "inn",
	FieldPhone:          "phone_number",
	FieldEmail:          "email",
	FieldCitizenship:    "citizenship",
	FieldBirthplace:     "birthplace",
	FieldPassportSeries: "id_doc.series",
	FieldPassportNumber: "id_doc.number",
	FieldPassportIssued: "id_doc.issue_date",
	FieldPassportIssuer: "id_doc.issued_by",
	FieldPassportDept:   "id_doc.department_code",
}

// Fields lists every field, in DefaultClaims' order of documentation.
var Fields = []string{
	FieldLastName, FieldFirstName, FieldMiddleName, FieldBirthdate, FieldGender,
	FieldSNILS, FieldINN, FieldPhone, FieldEmail, FieldCitizenship, FieldBirthplace,
	FieldPassportSeries, FieldPassportNumber, FieldPassportIssued, FieldPassportIssuer, FieldPassportDept,
}

// maxClaimPath bounds a configured claim path.
const maxClaimPath = 200

// maxValue bounds a field's value: longer ones are dropped (no name,
// number or issuer of a document is that long).
const maxValue = 500

// Mapping is a connector's claim mapping: field -> claim path.
type Mapping map[string]string

// NewMapping returns DefaultClaims overridden by the configured paths; an
// empty path drops the field. It checks that every field is known and
// every path well formed.
func NewMapping(overrides map[string]string) (Mapping, error) {
	m := maps.Clone(DefaultClaims)
	for _, field := range slices.Sorted(maps.Keys(overrides)) {
		path := overrides[field]
		if !slices.Contains(Fields, field) {
			return nil, fmt.Errorf("claims: unknown field %q (known: %s)", field, strings.Join(Fields, ", "))
		}
		if path == "" {
			delete(m, field)
			continue
		}
		if len(path) > maxClaimPath || slices.Contains(strings.Split(path, "."), "") {
			return nil, fmt.Errorf("claims: %s: %q is not a claim path such as id_doc.number", field, path)
		}
		m[field] = path
	}
	return m, nil
}

// Map reads the fields out of an upstream's claims (the ID token's and
// userinfo's merged, as JSON objects). A field is verified when its claim
// sits in the claims of a verified_claims element (OpenID Connect for
// Identity Assurance; an object or an array of them), or, for the phone
// and the e-mail, when phone_number_verified or email_verified is true.
// A value found only outside verified_claims is kept, unverified. Values
// that are not strings (numbers are taken as their digits), or are
// longer than maxValue, are left out; gender is read as M or F.
func (m Mapping) Map(claims map[string]any) map[string]factors.Value {
	var verified []map[string]any
	switch vc := claims["verified_claims"].(type) {
	case map[string]any:
		verified = append(verified, vc)
	case []any:
		for _, e := range vc {
			if o, ok := e.(map[string]any); ok {
				verified = append(verified, o)
			}
		}
	}
	out := map[string]factors.Value{}
	for _, field := range Fields {
		path, ok := m[field]
		if !ok {
			continue
		}
		var v factors.Value
		for _, vc := range verified {
			inner, _ := vc["claims"].(map[string]any)
			if s, ok := lookup(inner, path); ok {
				v = factors.Value{Value: s, Verified: true}
				break
			}
		}
		if v.Value == "" {
			s, ok := lookup(claims, path)
			if !ok {
				continue
			}
			v = factors.Value{Value: s}
			switch field {
			case FieldPhone:
				v.Verified = claims["phone_number_verified"] == true
			case FieldEmail:
				v.Verified = claims["email_verified"] == true
			}
		}
		if field == FieldGender {
			if v.Value = gender(v.Value); v.Value == "" {
				continue
			}
		}
		out[field] = v
	}
	return out
}

// lookup follows a dotted path into nested objects and returns the string
// (or number) at its end; ok is false when there is none, or it is empty
// or too long.
func lookup(obj map[string]any, path string) (string, bool) {
	var cur any = obj
	for name := range strings.SplitSeq(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = o[name]; !ok {
			return "", false
		}
	}
	var s string
	switch v := cur.(type) {
	case string:
		s = strings.TrimSpace(v)
	case json.Number:
		s = v.String()
	case float64:
		if v != float64(int64(v)) || v < 0 {
			return "", false
		}
		s = fmt.Sprintf("%d", int64(v))
	default:
		return "", false
	}
	if s == "" || len(s) > maxValue {
		return "", false
	}
	return s, true
}

// gender reads the gender claim: male/female (OpenID Connect) or M/F
// (ESIA), in any case.
func gender(s string) string {
	switch strings.ToLower(s) {
	case "male", "m":
		return "M"
	case "female", "f":
		return "F"
	}
	return ""
}

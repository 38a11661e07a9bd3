package bank

import (
	"encoding/json"
	"net/url"
	"testing"
	"unicode/utf8"
)

// FuzzParseCallback: any query parses or is refused, never panics, and
// what parses keeps the bounds the login relies on.
func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{"state=s&code=c", "state=s&error=access_denied", "state=s&code=c&iss=https://x", "state=a&state=b&code=c", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		c, err := ParseCallback(q)
		if err != nil {
			return
		}
		if c.State == "" || len(c.State) > maxState || len(c.Code) > maxCode || len(c.Issuer) > maxIss {
			t.Fatalf("out of bounds: %+v", c)
		}
		if (c.Code == "") == (c.Error == "") {
			t.Fatalf("code and error: %+v", c)
		}
		if c.Error != "" && !token(c.Error) {
			t.Fatalf("error code %q is not a token", c.Error)
		}
	})
}

// FuzzMap: any JSON claims map without panicking, to known fields with
// bounded values.
func FuzzMap(f *testing.F) {
	for _, s := range []string{
		`{"snils":"11223344595","verified_claims":{"claims":{"family_name":"Иванов","id_doc":{"number":"1"}}}}`,
		`{"verified_claims":[{"claims":{"snils":1}},null,"x"],"gender":"female"}`,
		`{"phone_number":"+7","phone_number_verified":true}`,
	} {
		f.Add(s)
	}
	m, err := NewMapping(map[string]string{FieldINN: "a.b.c.d"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var claims map[string]any
		if json.Unmarshal([]byte(raw), &claims) != nil {
			return
		}
		for field, v := range m.Map(claims) {
			if _, ok := m[field]; !ok {
				t.Fatalf("field %q is not mapped", field)
			}
			if v.Value == "" || len(v.Value) > maxValue {
				t.Fatalf("field %q: value of %d bytes", field, len(v.Value))
			}
			if field == FieldGender && v.Value != "M" && v.Value != "F" {
				t.Fatalf("gender %q", v.Value)
			}
			if !utf8.ValidString(v.Value) {
				t.Fatalf("field %q: invalid UTF-8", field)
			}
		}
	})
}

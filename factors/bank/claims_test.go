package bank

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/esia-oidc/idp/factors"
)

func TestMap(t *testing.T) {
	def, err := NewMapping(nil)
	if err != nil {
		t.Fatal(err)
	}
	custom, err := NewMapping(map[string]string{FieldSNILS: "urn:bank:snils", FieldPassportNumber: "doc.num", FieldEmail: ""})
	if err != nil {
		t.Fatal(err)
	}
	v := func(s string) factors.Value { return factors.Value{Value: s, Verified: true} }
	u := func(s string) factors.Value { return factors.Value{Value: s} }
	for _, c := range []struct {
		name   string
		m      Mapping
		claims string
		want   map[string]factors.Value
	}{
		{"nothing", def, `{}`, map[string]factors.Value{}},
		{"plain claims are unverified", def,
			`{"family_name":"Иванов","given_name":"Иван","snils":"11223344595","gender":"male","birthdate":"1990-01-01"}`,
			map[string]factors.Value{FieldLastName: u("Иванов"), FieldFirstName: u("Иван"), FieldSNILS: u("11223344595"), FieldGender: u("M"), FieldBirthdate: u("1990-01-01")}},
		{"verified_claims object", def,
			`{"snils":"00000000000","verified_claims":{"verification":{"trust_framework":"ru_esia"},"claims":{"snils":"11223344595","id_doc":{"series":"4510","number":"123456","issued_by":"ОВД"}}}}`,
			map[string]factors.Value{FieldSNILS: v("11223344595"), FieldPassportSeries: v("4510"), FieldPassportNumber: v("123456"), FieldPassportIssuer: v("ОВД")}},
		{"verified_claims array, first that has it", def,
			`{"verified_claims":[{"claims":{"family_name":"Петров"}},{"claims":{"family_name":"Сидоров","given_name":"Пётр"}}]}`,
			map[string]factors.Value{FieldLastName: v("Петров"), FieldFirstName: v("Пётр")}},
		{"phone and e-mail verified by their flags", def,
			`{"phone_number":"+79990000001","phone_number_verified":true,"email":"a@b.ru","email_verified":"true"}`,
			map[string]factors.Value{FieldPhone: v("+79990000001"), FieldEmail: u("a@b.ru")}},
		{"numbers as digits, odd values dropped", def,
			`{"snils":11223344595,"inn":1.5,"gender":"other","family_name":["x"],"given_name":"  ","middle_name":{"a":1}}`,
			map[string]factors.Value{FieldSNILS: u("11223344595")}},
		{"custom paths", custom,
			`{"urn:bank:snils":"11223344595","doc":{"num":"654321"},"email":"a@b.ru","email_verified":true,"verified_claims":{"claims":{"doc":{"num":"111111"}}}}`,
			map[string]factors.Value{FieldSNILS: u("11223344595"), FieldPassportNumber: v("111111")}},
		{"malformed verified_claims ignored", def,
			`{"verified_claims":"yes","snils":"11223344595"}`,
			map[string]factors.Value{FieldSNILS: u("11223344595")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var claims map[string]any
			if err := json.Unmarshal([]byte(c.claims), &claims); err != nil {
				t.Fatal(err)
			}
			if got := c.m.Map(claims); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Map = %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestNewMappingRefuses(t *testing.T) {
	for _, m := range []map[string]string{
		{"shoe_size": "x"},
		{FieldSNILS: "a..b"},
		{FieldSNILS: ".a"},
		{FieldSNILS: "a."},
	} {
		if _, err := NewMapping(m); err == nil {
			t.Errorf("NewMapping(%v) accepted", m)
		}
	}
}

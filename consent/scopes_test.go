package consent

import (
	"slices"
	"testing"

	"github.com/esia-oidc/idp/store"
)

func TestRequiredLevel(t *testing.T) {
	for _, tc := range []struct {
		client store.Level
		acr    string
		want   store.Level
	}{
		{"", "", ""},
		{store.LevelStandard, "", store.LevelStandard},
		{"", "confirmed", store.LevelConfirmed},
		{"", "confirmed standard", store.LevelStandard},
		{store.LevelConfirmed, "simplified", store.LevelConfirmed},
		{"", "urn:unknown simplified", store.LevelSimplified},
		{"", "urn:unknown", ""},
		{"", "standard-mfa", store.LevelStandard},
		{"", "confirmed-mfa simplified", store.LevelSimplified},
		{"", "-mfa mfa", ""},
	} {
		if got := RequiredLevel(tc.client, tc.acr); got != tc.want {
			t.Errorf("RequiredLevel(%q, %q) = %q, want %q", tc.client, tc.acr, got, tc.want)
		}
	}
}

func TestACR(t *testing.T) {
	for _, tc := range []struct {
		acr  string
		want bool
	}{
		{"", false},
		{"standard", false},
		{"standard-mfa", true},
		{"simplified-mfa confirmed-mfa", true},
		{"standard-mfa standard", false},
		{"urn:unknown standard-mfa", true},
		{"urn:unknown", false},
		{"mfa", false},
		{"gold-mfa", false},
	} {
		if got := RequiresMFA(tc.acr); got != tc.want {
			t.Errorf("RequiresMFA(%q) = %v, want %v", tc.acr, got, tc.want)
		}
	}
	for _, v := range ACRValues() {
		l, mfa, ok := ParseACR(v)
		if !ok || ACR(l, mfa) != v {
			t.Errorf("ParseACR(%q) = %q, %v, %v; does not round-trip", v, l, mfa, ok)
		}
	}
	if len(ACRValues()) != 6 || ACR(store.LevelStandard, true) != "standard-mfa" || ACR(store.LevelConfirmed, false) != "confirmed" {
		t.Errorf("ACRValues = %v", ACRValues())
	}
	if _, _, ok := ParseACR("standard-mfa-mfa"); ok {
		t.Error("ParseACR accepts a doubled suffix")
	}
}

func TestGrantableAndQuestions(t *testing.T) {
	req := []string{"openid", "fullname", "snils", "offline_access", "unknown"}
	if got := Grantable(store.LevelSimplified, req); !slices.Equal(got, []string{"openid", "fullname", "offline_access", "unknown"}) {
		t.Errorf("simplified: %v", got)
	}
	if got := Grantable(store.LevelStandard, req); !slices.Equal(got, req) {
		t.Errorf("standard: %v", got)
	}
	if got := NeedsQuestion(req); !slices.Equal(got, []string{"fullname", "snils", "offline_access"}) {
		t.Errorf("NeedsQuestion = %v", got)
	}
	if !Covered([]string{"fullname", "offline_access"}, []string{"openid", "fullname", "offline_access"}) {
		t.Error("remembered scopes should cover the request (openid is silent)")
	}
	if Covered([]string{"fullname"}, []string{"openid", "fullname", "email"}) {
		t.Error("a new scope must be asked")
	}
}

func TestClaims(t *testing.T) {
	a := &store.Account{LastName: "Иванов", FirstName: "Иван", MiddleName: "Иванович", Gender: "F",
		Email: "a@b.ru", EmailVerified: true, Phone: "+79990000001", SNILS: "11223344595"}
	c := Claims(a, []string{"fullname", "gender", "email", "mobile"})
	want := map[string]any{"family_name": "Иванов", "given_name": "Иван", "middle_name": "Иванович",
		"name": "Иван Иванович Иванов", "gender": "female", "email": "a@b.ru", "email_verified": true,
		"phone_number": "+79990000001", "phone_number_verified": false}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if _, ok := c["snils"]; ok {
		t.Error("snils released without its scope")
	}
	if _, ok := c["birthdate"]; ok {
		t.Error("empty birthdate released")
	}
	for _, s := range Table {
		if !Known(s.Name) {
			t.Errorf("%s not known", s.Name)
		}
		if !s.MinLevel.Valid() {
			t.Errorf("%s has no valid minimum level", s.Name)
		}
	}
}

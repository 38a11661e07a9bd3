package consent

import (
	"slices"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/store"
)

// verifiedAccount is a standard account whose data a registry check
// passed, later confirmed by an operator.
func verifiedAccount() *store.Account {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a := &store.Account{
		ID: "acc", Level: store.LevelStandard, LastName: "Соколова", FirstName: "Ирина", Birthdate: "1985-03-02", Gender: "F",
		Citizenship: "RUS", SNILS: "11223344595", Phone: "+79991112233", PhoneVerified: true, Birthplace: "г. Тула",
		Passport: &store.Document{Type: store.DocPassport, Series: "4510", Number: "123456", IssueDate: "2005-04-01", Issuer: "ОВД", DepartmentCode: "770-001"},
	}
	d := account.CheckedDigest(a)
	a.Verification = &store.Verification{ID: "ver-1", Status: store.VerificationApproved, Digest: d, RequestedAt: at, DecidedAt: at}
	a.Evidence = []store.Evidence{{Kind: store.EvidenceRegistry, At: at, Ref: "ver-1", Digest: d}}
	return a
}

func TestVerifiedClaims(t *testing.T) {
	a := verifiedAccount()
	vc := VerifiedClaims(a, []string{"openid", "fullname", "snils", "mobile"}, nil)
	if vc == nil {
		t.Fatal("no verified_claims for a verified account")
	}
	claims := vc["claims"].(map[string]any)
	if claims["snils"] != "11223344595" || claims["family_name"] != "Соколова" {
		t.Errorf("claims %v", claims)
	}
	if _, ok := claims["phone_number"]; ok {
		t.Errorf("a phone is not vouched for by the registries: %v", claims)
	}
	if _, ok := claims["id_doc"]; ok {
		t.Errorf("id_doc without its scope: %v", claims)
	}
	ver := vc["verification"].(map[string]any)
	if ver["trust_framework"] != TrustFramework || ver["assurance_level"] != "standard" || ver["time"] != "2026-12-01T10:00:00Z" {
		t.Errorf("verification %v", ver)
	}
	ev := ver["evidence"].([]map[string]any)
	if len(ev) != 1 || ev[0]["type"] != "electronic_record" || ev[0]["check_details"].([]map[string]any)[0]["check_method"] != "data" {
		t.Errorf("evidence %v", ev)
	}

	// Confirmed by an operator, then by a letter: each is evidence.
	a.Level = store.LevelConfirmed
	a.Evidence = append(a.Evidence,
		store.Evidence{Kind: store.EvidenceOperator, At: time.Now(), Ref: "op-1", Digest: a.Verification.Digest},
		store.Evidence{Kind: store.EvidenceLetter, At: time.Now(), Ref: "letter-1", Digest: a.Verification.Digest},
		store.Evidence{Kind: store.EvidenceBank, At: time.Now(), Ref: "bank:sber", Digest: a.Verification.Digest})
	vc = VerifiedClaims(a, []string{"snils", "id_doc"}, nil)
	ver = vc["verification"].(map[string]any)
	var methods, orgs []string
	for _, e := range ver["evidence"].([]map[string]any) {
		methods = append(methods, e["check_details"].([]map[string]any)[0]["check_method"].(string))
		orgs = append(orgs, e["check_details"].([]map[string]any)[0]["organization"].(string))
	}
	if ver["assurance_level"] != "confirmed" || !slices.Equal(methods, []string{"data", "vpip", "kbv", "vpip"}) || !slices.Equal(orgs, []string{"state_registries", "service_centre", "post", "bank"}) {
		t.Errorf("confirmed: %v, methods %v by %v", ver["assurance_level"], methods, orgs)
	}
	if rec := ver["evidence"].([]map[string]any)[3]["record"].(map[string]any); rec["type"] != "bank_account" || rec["source"].(map[string]any)["name"] != "sber" {
		t.Errorf("the bank's record %v", rec)
	}
	if doc := vc["claims"].(map[string]any)["id_doc"].(map[string]any); doc["number"] != "123456" || doc["type"] != IDDocPassport {
		t.Errorf("id_doc %v", doc)
	}

	// What the request asks: some claims, a trust framework, a level.
	only := VerifiedClaims(a, []string{"fullname", "snils"}, &VerifiedRequest{Claims: []string{"snils"}})
	if c := only["claims"].(map[string]any); len(c) != 1 || c["snils"] == nil {
		t.Errorf("asked for snils only: %v", c)
	}
	if VerifiedClaims(a, []string{"snils"}, &VerifiedRequest{TrustFrameworks: []string{"eidas"}}) != nil {
		t.Error("released under a trust framework the request does not accept")
	}
	if VerifiedClaims(a, []string{"snils"}, &VerifiedRequest{AssuranceLevels: []string{"standard"}}) != nil {
		t.Error("released at an assurance level the request does not accept")
	}
	if VerifiedClaims(a, []string{"snils"}, &VerifiedRequest{Claims: []string{"phone_number"}}) != nil {
		t.Error("released with none of the asked claims verified")
	}

	// Changed since the check: nothing is verified any more.
	a.Passport.Number = "654321"
	if VerifiedClaims(a, []string{"snils"}, nil) != nil {
		t.Error("verified_claims for data changed since the check")
	}
	// Never checked, or rejected.
	b := verifiedAccount()
	b.Verification.Status = store.VerificationRejected
	if VerifiedClaims(b, []string{"snils"}, nil) != nil {
		t.Error("verified_claims after a rejected check")
	}
	c := verifiedAccount()
	c.Verification = nil
	if VerifiedClaims(c, []string{"snils"}, nil) != nil {
		t.Error("verified_claims without a check")
	}
}

func TestNewScopeClaims(t *testing.T) {
	a := verifiedAccount()
	a.INN = "500100732259"
	a.RegistrationAddress = "г. Москва, ул. Тверская, д. 1"
	a.DriversLicence = &store.Document{Type: store.DocDriversLicence, Series: "77АВ", Number: "123456", IssueDate: "2010-01-01", ExpiryDate: "2030-01-01"}
	got := Claims(a, []string{"inn", "id_doc", "birthplace", "citizenship", "contacts", "addresses", "drivers_licence_doc", "medical_doc"})
	if got["inn"] != "500100732259" || got["birthplace"] != "г. Тула" || got["citizenship"] != "RUS" {
		t.Errorf("plain claims %v", got)
	}
	if got["id_doc"].(map[string]any)["department_code"] != "770-001" {
		t.Errorf("id_doc %v", got["id_doc"])
	}
	if c := got["contacts"].([]map[string]any); len(c) != 1 || c[0]["type"] != "mobile" || c[0]["verified"] != true {
		t.Errorf("contacts %v", c)
	}
	if ad := got["addresses"].([]map[string]any); len(ad) != 1 || ad[0]["type"] != "registration" {
		t.Errorf("addresses %v", ad)
	}
	if dl := got["drivers_licence"].(map[string]any); dl["expiry_date"] != "2030-01-01" {
		t.Errorf("drivers_licence %v", dl)
	}
	if _, ok := got["medical_policy"]; ok {
		t.Errorf("a medical policy the account does not have: %v", got["medical_policy"])
	}
	for _, scope := range []string{"snils", "inn", "id_doc", "birthplace", "citizenship", "addresses", "drivers_licence_doc", "medical_doc"} {
		if s, _ := Lookup(scope); s.MinLevel != store.LevelStandard {
			t.Errorf("%s: minimum level %s, want standard", scope, s.MinLevel)
		}
	}
	if g := Grantable(store.LevelSimplified, []string{"openid", "contacts", "inn"}); !slices.Equal(g, []string{"openid", "contacts"}) {
		t.Errorf("grantable to simplified: %v", g)
	}
}

// A confirmation by a qualified signature is electronic_signature
// evidence naming the bound certificate's issuer and serial.
func TestVerifiedClaimsSignatureEvidence(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	a := &store.Account{ID: "a", Level: store.LevelConfirmed, LastName: "Петрова", FirstName: "Анна", SNILS: "11223344595", ConfirmationMethod: store.EvidenceSignature}
	d := account.CheckedDigest(a)
	a.Verification = &store.Verification{ID: "ver-1", Status: store.VerificationApproved, Digest: d, DecidedAt: at}
	a.Factors = &store.SecondFactors{Certificates: []store.BoundCertificate{{Fingerprint: "fp", Issuer: "Тестовый УЦ", Serial: "1f2e"}}}
	a.Evidence = []store.Evidence{{Kind: store.EvidenceRegistry, At: at, Ref: "ver-1", Digest: d}, {Kind: store.EvidenceSignature, At: at, Ref: "fp", Digest: d}}
	vc := VerifiedClaims(a, []string{"openid", "snils"}, nil)
	ev := vc["verification"].(map[string]any)["evidence"].([]map[string]any)
	if len(ev) != 2 {
		t.Fatalf("evidence %v", ev)
	}
	sig := ev[1]
	if sig["type"] != "electronic_signature" || sig["signature_type"] != "qes" || sig["issuer"] != "Тестовый УЦ" || sig["serial_number"] != "1f2e" {
		t.Errorf("signature evidence %v", sig)
	}
}

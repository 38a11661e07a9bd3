package config

import (
	"errors"
	"reflect"
	"testing"

	"github.com/esia-oidc/idp/factors/bank"
)

func TestLoadBanks(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
banks:
  - id: sber
    name_ru: СберБанк
    name_en: Sberbank
    issuer: https://id.bank.example
    client_id: idp
    client_secret: from-the-file
    scopes: [openid, snils]
    claims: {snils: "urn:bank:snils"}
    identifies_in_person: true
    confirm: [snils, passport]
`)
	want := []bank.Config{{
		ID: "sber", NameRU: "СберБанк", NameEN: "Sberbank", Issuer: "https://id.bank.example", ClientID: "idp", ClientSecret: "from-the-file",
		Scopes: []string{"openid", "snils"}, Claims: map[string]string{"snils": "urn:bank:snils"}, IdentifiesInPerson: true, Confirm: []string{"snils", "passport"},
	}}
	c, err := Load([]string{"--config", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Banks, want) {
		t.Fatalf("banks from the file: %+v", c.Banks)
	}
	// The environment's JSON list replaces the file's.
	c, err = Load([]string{"--config", path}, envOf(map[string]string{
		"IDP_BANKS": `[{"id":"sim","name_ru":"Симулятор","issuer":"http://127.0.0.1:8090","client_id":"c","client_secret":"s"}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Banks) != 1 || c.Banks[0].ID != "sim" || c.Banks[0].Issuer != "http://127.0.0.1:8090" {
		t.Fatalf("banks from IDP_BANKS: %+v", c.Banks)
	}
	var ve *ValidationError
	if _, err := Load(nil, envOf(map[string]string{"IDP_BANKS": `{"id":`})); !errors.As(err, &ve) || !ve.Has("banks") {
		t.Fatalf("malformed IDP_BANKS: %v", err)
	}
}

func TestValidateBanks(t *testing.T) {
	t.Parallel()
	good := bank.Config{ID: "sber", NameRU: "Сбер", Issuer: "https://id.bank.example", ClientID: "c", ClientSecret: "s"}
	c := validProd()
	c.Banks = []bank.Config{good}
	if err := c.Validate(); err != nil {
		t.Fatalf("one valid bank: %v", err)
	}
	bad := good
	bad.ID, bad.Issuer = "other", "http://bank.example"
	c.Banks = []bank.Config{good, good, bad}
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 2 || !ve.Has("banks") {
		t.Fatalf("a bank twice and one on http: %v", err)
	}
	c = validProd()
	c.BankSim = true
	if err := c.Validate(); !errors.As(err, &ve) || !ve.Has("bank_sim") {
		t.Fatalf("the simulator in production: %v", err)
	}
	d := validDev()
	d.BankSim = true
	if err := d.Validate(); err != nil {
		t.Fatalf("the simulator in development mode: %v", err)
	}
}

package storetest

import (
	"errors"
	"testing"

	"github.com/esia-oidc/idp/store"
)

// unstorableKeys are keys no record can have on every backend: PostgreSQL's
// text holds neither a NUL byte nor invalid UTF-8. They reach the store from
// request paths and forms (/admin/clients/a%00b, client_id=%FF, a refresh
// token with such a signature), so a lookup by one must answer
// store.ErrNotFound like any other unknown key, never a driver error (which
// callers turn into a 500).
var unstorableKeys = map[string]string{
	"NUL":                 "a\x00b",
	"only NUL":            "\x00",
	"invalid UTF-8":       "\xff",
	"truncated UTF-8":     "rp-\xd0",
	"surrogate in UTF-8":  "\xed\xa0\x80",
	"NUL and bad UTF-8":   "\x00\xfe",
	"stored id then NUL":  "rp-1\x00",
	"overlong encoding /": "\xc0\xaf",
}

func unstorableTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"Accounts", testUnstorableAccounts},
		{"Clients", testUnstorableClients},
		{"Consents", testUnstorableConsents},
		{"Keys", testUnstorableKeys},
	}
}

// notFound fails the test unless err is store.ErrNotFound.
func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: error = %v, want store.ErrNotFound", what, err)
	}
}

func testUnstorableAccounts(t *testing.T, s store.Durable, clk *Clock) {
	mustCreateAccount(t, s, newAccount(clk, "rp-1", "+79990000001", "a@example.ru", "11223344595"))
	for name, id := range unstorableKeys {
		_, err := s.GetAccount(ctx(t), id)
		notFound(t, "GetAccount "+name, err)
		_, err = s.UpdateAccount(ctx(t), id, func(*store.Account) error {
			t.Errorf("UpdateAccount %s: updater called", name)
			return nil
		})
		notFound(t, "UpdateAccount "+name, err)
		for _, kind := range []store.IdentifierKind{store.IdentifierPhone, store.IdentifierEmail, store.IdentifierSNILS} {
			_, err := s.FindAccount(ctx(t), kind, id)
			notFound(t, "FindAccount "+string(kind)+" "+name, err)
		}
	}
	mustGetAccount(t, s, "rp-1")
}

func testUnstorableClients(t *testing.T, s store.Durable, clk *Clock) {
	mustCreateClient(t, s, newClient(clk, "rp-1"))
	for name, id := range unstorableKeys {
		_, err := s.GetClient(ctx(t), id)
		notFound(t, "GetClient "+name, err)
		_, err = s.UpdateClient(ctx(t), id, func(*store.Client) error {
			t.Errorf("UpdateClient %s: updater called", name)
			return nil
		})
		notFound(t, "UpdateClient "+name, err)
		notFound(t, "DeleteClient "+name, s.DeleteClient(ctx(t), id))
	}
	mustGetClient(t, s, "rp-1")
}

func testUnstorableConsents(t *testing.T, s store.Durable, clk *Clock) {
	if err := s.PutConsent(ctx(t), &store.Consent{AccountID: "acc-1", ClientID: "rp-1", Scopes: []string{"openid"}, GrantedAt: clk.Now()}); err != nil {
		t.Fatalf("PutConsent: %v", err)
	}
	for name, id := range unstorableKeys {
		for _, pair := range [][2]string{{id, "rp-1"}, {"acc-1", id}, {id, id}} {
			_, err := s.GetConsent(ctx(t), pair[0], pair[1])
			notFound(t, "GetConsent "+name, err)
			notFound(t, "DeleteConsent "+name, s.DeleteConsent(ctx(t), pair[0], pair[1]))
		}
		if got, err := s.ListConsents(ctx(t), id); err != nil || len(got) != 0 {
			t.Errorf("ListConsents %s: got %v, %v; want empty", name, got, err)
		}
	}
	if _, err := s.GetConsent(ctx(t), "acc-1", "rp-1"); err != nil {
		t.Errorf("GetConsent of the stored consent: %v", err)
	}
}

func testUnstorableKeys(t *testing.T, s store.Durable, clk *Clock) {
	mustCreateKey(t, s, newKey("kid-1", clk.Now()))
	for name, id := range unstorableKeys {
		_, err := s.UpdateKey(ctx(t), id, func(*store.SigningKey) error {
			t.Errorf("UpdateKey %s: updater called", name)
			return nil
		})
		notFound(t, "UpdateKey "+name, err)
		notFound(t, "DeleteKey "+name, s.DeleteKey(ctx(t), id))
	}
	if ks, err := s.ListKeys(ctx(t)); err != nil || len(ks) != 1 {
		t.Errorf("ListKeys = %d keys, %v; want the stored key", len(ks), err)
	}
}

// testGrantUnstorable: a token whose signature part holds such bytes reaches
// GetGrant before fosite checks it (a refresh token is looked up, then
// validated).
func testGrantUnstorable(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	mustCreateGrant(t, s, newGrant(clk, kind, "sig-1", "req-1"))
	for name, key := range unstorableKeys {
		_, err := s.GetGrant(ctx(t), kind, key)
		notFound(t, "GetGrant "+name, err)
		notFound(t, "DeleteGrant "+name, s.DeleteGrant(ctx(t), kind, key))
		notFound(t, "DeactivateGrant "+name, s.DeactivateGrant(ctx(t), kind, key))
		if err := s.DeactivateRequest(ctx(t), kind, key); err != nil {
			t.Errorf("DeactivateRequest %s: %v, want nil (no grant has that request)", name, err)
		}
		if err := s.DeactivateSession(ctx(t), key); err != nil {
			t.Errorf("DeactivateSession %s: %v, want nil (no grant has that session)", name, err)
		}
		if err := s.DeactivateSubject(ctx(t), key, key); err != nil {
			t.Errorf("DeactivateSubject %s: %v, want nil (no grant has that subject)", name, err)
		}
	}
	checkGrant(t, s, newGrant(clk, kind, "sig-1", "req-1"))
}

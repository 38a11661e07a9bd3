package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func normConsent(c *store.Consent) store.Consent {
	n := *c
	n.Scopes = normStrings(n.Scopes)
	n.GrantedAt = normTime(n.GrantedAt)
	return n
}

func checkConsent(t *testing.T, s store.Consents, want *store.Consent) {
	t.Helper()
	got, err := s.GetConsent(ctx(t), want.AccountID, want.ClientID)
	if err != nil {
		t.Fatalf("GetConsent(%s, %s): %v", want.AccountID, want.ClientID, err)
	}
	if g, w := normConsent(got), normConsent(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("GetConsent(%s, %s):\n got %+v\nwant %+v", want.AccountID, want.ClientID, g, w)
	}
}

func consentTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"PutGet", testConsentPutGet},
		{"Replace", testConsentReplace},
		{"Delete", testConsentDelete},
		{"List", testConsentList},
	}
}

func testConsentPutGet(t *testing.T, s store.Durable, clk *Clock) {
	if _, err := s.GetConsent(ctx(t), "acc-1", "rp-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConsent(missing): got %v, want ErrNotFound", err)
	}
	c := &store.Consent{AccountID: "acc-1", ClientID: "rp-1", Scopes: []string{"openid", "snils", "fullname"}, GrantedAt: clk.Now().Add(42 * time.Microsecond).In(moscow)}
	if err := s.PutConsent(ctx(t), c); err != nil {
		t.Fatalf("PutConsent: %v", err)
	}
	want := normConsent(c)
	c.Scopes[0] = "mutated" // the store keeps its own copy
	checkConsent(t, s, &want)
	got, _ := s.GetConsent(ctx(t), "acc-1", "rp-1")
	got.Scopes[1] = "mutated"
	checkConsent(t, s, &want)

	// Neighbours by account or by client are separate records.
	for _, key := range [][2]string{{"acc-1", "rp-2"}, {"acc-2", "rp-1"}} {
		if _, err := s.GetConsent(ctx(t), key[0], key[1]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetConsent(%s, %s): got %v, want ErrNotFound", key[0], key[1], err)
		}
	}
	empty := &store.Consent{AccountID: "acc-2", ClientID: "rp-1", GrantedAt: clk.Now()}
	if err := s.PutConsent(ctx(t), empty); err != nil {
		t.Fatalf("PutConsent(no scopes): %v", err)
	}
	checkConsent(t, s, empty)
	checkConsent(t, s, &want)
}

func testConsentReplace(t *testing.T, s store.Durable, clk *Clock) {
	first := &store.Consent{AccountID: "acc-1", ClientID: "rp-1", Scopes: []string{"openid", "snils"}, GrantedAt: clk.Now()}
	other := &store.Consent{AccountID: "acc-1", ClientID: "rp-2", Scopes: []string{"openid"}, GrantedAt: clk.Now()}
	for _, c := range []*store.Consent{first, other} {
		if err := s.PutConsent(ctx(t), c); err != nil {
			t.Fatalf("PutConsent: %v", err)
		}
	}
	clk.Advance(time.Hour)
	second := &store.Consent{AccountID: "acc-1", ClientID: "rp-1", Scopes: []string{"openid"}, GrantedAt: clk.Now()}
	if err := s.PutConsent(ctx(t), second); err != nil {
		t.Fatalf("PutConsent(replace): %v", err)
	}
	checkConsent(t, s, second)
	checkConsent(t, s, other)
}

func testConsentDelete(t *testing.T, s store.Durable, clk *Clock) {
	c := &store.Consent{AccountID: "acc-1", ClientID: "rp-1", Scopes: []string{"openid"}, GrantedAt: clk.Now()}
	other := &store.Consent{AccountID: "acc-1", ClientID: "rp-2", Scopes: []string{"openid"}, GrantedAt: clk.Now()}
	for _, x := range []*store.Consent{c, other} {
		if err := s.PutConsent(ctx(t), x); err != nil {
			t.Fatalf("PutConsent: %v", err)
		}
	}
	if err := s.DeleteConsent(ctx(t), "acc-1", "rp-1"); err != nil {
		t.Fatalf("DeleteConsent: %v", err)
	}
	if _, err := s.GetConsent(ctx(t), "acc-1", "rp-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConsent(deleted): got %v, want ErrNotFound", err)
	}
	if err := s.DeleteConsent(ctx(t), "acc-1", "rp-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteConsent(again): got %v, want ErrNotFound", err)
	}
	checkConsent(t, s, other)
}

func testConsentList(t *testing.T, s store.Durable, clk *Clock) {
	if got, err := s.ListConsents(ctx(t), "acc-1"); err != nil || len(got) != 0 {
		t.Fatalf("ListConsents(none): got %v, %v; want empty", got, err)
	}
	old := &store.Consent{AccountID: "acc-1", ClientID: "rp-b", Scopes: []string{"openid", "snils"}, GrantedAt: clk.Now()}
	clk.Advance(time.Hour)
	newer := &store.Consent{AccountID: "acc-1", ClientID: "rp-a", Scopes: []string{"openid"}, GrantedAt: clk.Now()}
	same := &store.Consent{AccountID: "acc-1", ClientID: "rp-c", GrantedAt: clk.Now()}
	foreign := &store.Consent{AccountID: "acc-2", ClientID: "rp-a", Scopes: []string{"openid"}, GrantedAt: clk.Now()}
	for _, c := range []*store.Consent{same, old, foreign, newer} {
		if err := s.PutConsent(ctx(t), c); err != nil {
			t.Fatalf("PutConsent: %v", err)
		}
	}
	list := func() []store.Consent {
		t.Helper()
		got, err := s.ListConsents(ctx(t), "acc-1")
		if err != nil {
			t.Fatalf("ListConsents: %v", err)
		}
		out := make([]store.Consent, len(got))
		for i, c := range got {
			out[i] = normConsent(c)
		}
		return out
	}
	// Newest first; equal times by client id; another account's are not listed.
	got := list()
	if want := []store.Consent{normConsent(newer), normConsent(same), normConsent(old)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListConsents:\n got %+v\nwant %+v", got, want)
	}
	// Granting again moves a consent to the top; a deleted one is gone.
	clk.Advance(time.Hour)
	again := &store.Consent{AccountID: "acc-1", ClientID: "rp-b", Scopes: []string{"openid"}, GrantedAt: clk.Now()}
	if err := s.PutConsent(ctx(t), again); err != nil {
		t.Fatalf("PutConsent(again): %v", err)
	}
	if err := s.DeleteConsent(ctx(t), "acc-1", "rp-c"); err != nil {
		t.Fatalf("DeleteConsent: %v", err)
	}
	got = list()
	if want := []store.Consent{normConsent(again), normConsent(newer)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListConsents after changes:\n got %+v\nwant %+v", got, want)
	}
	// The store hands out copies.
	first, _ := s.ListConsents(ctx(t), "acc-1")
	first[0].Scopes[0] = "mutated"
	checkConsent(t, s, again)
}

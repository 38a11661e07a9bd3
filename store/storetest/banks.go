package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func bankLinkTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"FindByLink", testBankFind},
		{"LinkAddedAndRemoved", testBankUpdate},
	}
}

func testBankFind(t *testing.T, s store.Durable, clk *Clock) {
	a := newAccount(clk, "acc-1", "+79001234567", "", "")
	a.Factors = &store.SecondFactors{Banks: []store.BankLink{
		{Connector: "sber", Subject: "sub-1", LinkedAt: clk.Now()},
		{Connector: "tinkoff", Subject: "sub-1", LinkedAt: clk.Now().Add(time.Minute)},
	}}
	mustCreateAccount(t, s, a)
	b := newAccount(clk, "acc-2", "+79001234568", "", "")
	b.Factors = &store.SecondFactors{Banks: []store.BankLink{{Connector: "sber", Subject: "sub-2", LinkedAt: clk.Now()}}}
	mustCreateAccount(t, s, b)
	mustCreateAccount(t, s, newAccount(clk, "acc-3", "+79001234569", "", ""))

	for _, c := range []struct{ connector, subject, want string }{
		{"sber", "sub-1", "acc-1"},
		{"tinkoff", "sub-1", "acc-1"},
		{"sber", "sub-2", "acc-2"},
	} {
		got, err := s.FindAccountByBank(ctx(t), c.connector, c.subject)
		if err != nil {
			t.Fatalf("FindAccountByBank(%s, %s): %v", c.connector, c.subject, err)
		}
		if got.ID != c.want {
			t.Fatalf("FindAccountByBank(%s, %s) = %s, want %s", c.connector, c.subject, got.ID, c.want)
		}
	}
	got, err := s.FindAccountByBank(ctx(t), "sber", "sub-1")
	if err != nil {
		t.Fatal(err)
	}
	checkAccount(t, "FindAccountByBank", got, a)
	for _, c := range []struct{ connector, subject string }{
		{"tinkoff", "sub-2"}, // another connector's subject
		{"sber", "sub-3"},
		{"sber", ""},
		{"", "sub-1"},
		{"sber", "sub-1\x00"},
		{"sber\xff", "sub-1"},
	} {
		if _, err := s.FindAccountByBank(ctx(t), c.connector, c.subject); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindAccountByBank(%q, %q) = %v, want ErrNotFound", c.connector, c.subject, err)
		}
	}
}

func testBankUpdate(t *testing.T, s store.Durable, clk *Clock) {
	mustCreateAccount(t, s, newAccount(clk, "acc-1", "+79001234567", "", ""))
	link := func(a *store.Account) error {
		if a.Factors == nil {
			a.Factors = &store.SecondFactors{}
		}
		a.Factors.Banks = append(a.Factors.Banks, store.BankLink{Connector: "sber", Subject: "sub-1", LinkedAt: clk.Now()})
		return nil
	}
	if _, err := s.UpdateAccount(ctx(t), "acc-1", link); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindAccountByBank(ctx(t), "sber", "sub-1")
	if err != nil || got.ID != "acc-1" {
		t.Fatalf("after linking: %v, %v", got, err)
	}
	if l := got.Factors.Bank("sber"); l == nil || l.Subject != "sub-1" || !normTime(l.LinkedAt).Equal(normTime(clk.Now())) {
		t.Fatalf("the link read back is %+v", l)
	}
	_, err = s.UpdateAccount(ctx(t), "acc-1", func(a *store.Account) error {
		a.Factors.Banks = nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindAccountByBank(ctx(t), "sber", "sub-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after removing the link: %v, want ErrNotFound", err)
	}
}

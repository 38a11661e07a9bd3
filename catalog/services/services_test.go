package services_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/catalog/services"
	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/idp/server"
)

func load(t *testing.T) *services.Catalog {
	t.Helper()
	c, err := services.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestCatalogHasTheIssueServices(t *testing.T) {
	c := load(t)
	want := map[string]services.Level{
		"traffic-fines":      services.Simplified,
		"tax-debt":           services.Standard,
		"doctor-appointment": services.Standard,
		"foreign-passport":   services.Confirmed,
		"child-benefit":      services.Confirmed,
	}
	for id, level := range want {
		s, ok := c.Get(id)
		if !ok {
			t.Errorf("service %s missing", id)
			continue
		}
		if s.Level != level {
			t.Errorf("service %s level = %s, want %s", id, s.Level, level)
		}
		if len(s.Fields) == 0 {
			t.Errorf("service %s has no form fields", id)
		}
		if len(c.InCategory(s.Category)) == 0 {
			t.Errorf("service %s: its category lists nothing", id)
		}
	}
	if len(c.Services) < 6 {
		t.Errorf("%d services, want at least 6", len(c.Services))
	}
}

// The scopes the services ask for exist in the provider's consent table and
// are allowed to the development demo client, whose scope list is the one
// source of truth (server.DemoClientScopes).
func TestScopesAreTheProvidersAndTheDemoClients(t *testing.T) {
	c := load(t)
	for _, sc := range c.Scopes() {
		if !consent.Known(sc) {
			t.Errorf("scope %q is not in the provider's consent table", sc)
		}
		if !slices.Contains(server.DemoClientScopes(), sc) {
			t.Errorf("scope %q is not allowed to the demo client %s", sc, server.DemoClientID)
		}
	}
	for _, sc := range server.DemoClientScopes() {
		if !consent.Known(sc) {
			t.Errorf("demo client scope %q is not in the consent table", sc)
		}
	}
}

func TestSearch(t *testing.T) {
	c := load(t)
	ids := func(ss []services.Service) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"штраф", []string{"traffic-fines"}},
		{"ПАСПОРТ заграничный", []string{"foreign-passport"}},
		{"ребёнок", []string{"child-benefit"}},
		{"ребенок", []string{"child-benefit"}},
		{"doctor", []string{"doctor-appointment"}},
		{"нет такой услуги", nil},
	} {
		if got := ids(c.Search(tc.q)); !slices.Equal(got, tc.want) {
			t.Errorf("Search(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := len(c.Search("  ")); got != len(c.Services) {
		t.Errorf("empty search lists %d, want all %d", got, len(c.Services))
	}
}

func TestLevels(t *testing.T) {
	if !services.Confirmed.Meets(services.Standard) || services.Simplified.Meets(services.Standard) || services.Level("").Meets(services.Simplified) {
		t.Error("level order is wrong")
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := services.Parse([]byte(`
categories: [{id: a, title: {ru: А, en: A}}]
services:
  - {id: x, category: nope, level: high, scopes: [fullname], title: {ru: Х}}
  - {id: x, category: a, level: simplified, scopes: [openid], title: {ru: Х, en: X}, fields: [{name: f}]}
`))
	if err == nil {
		t.Fatal("Parse accepted a broken catalog")
	}
	for _, want := range []string{"unknown category", "unknown level", "openid", "title needs", "repeated id", `field "f"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

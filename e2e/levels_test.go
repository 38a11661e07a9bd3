package e2e

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

func TestAccountLevelRequirements(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // the citizen is simplified
	ctx := ctxT(t)
	adm := e.srv.Admin()
	strict, err := adm.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName: "Needs standard", RedirectURIs: []string{rpRedirect},
		Scope: "openid fullname", MinLevel: "standard",
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: strict.ClientID, ClientSecret: strict.ClientSecret, Endpoint: e.provider.Endpoint(),
		RedirectURL: rpRedirect, Scopes: []string{"openid", "fullname"}}
	ag := testserver.NewAgent(e.srv.URL, nil)

	// Below the client's level: a page explains, its link gives up.
	a := e.newAuthRequest(conf)
	_, page, err := ag.Authorize(ctx, a.URL, e.citizen())
	if err == nil || page.Status != http.StatusForbidden || !strings.Contains(page.Body, "/authorize/cancel?flow=") {
		t.Fatalf("below min_level: %v, page %d", err, page.Status)
	}
	i := strings.Index(page.Body, "/authorize/cancel?flow=")
	link := page.Body[i : i+strings.IndexByte(page.Body[i:], '"')]
	back, err := ag.Get(ctx, e.srv.URL+strings.ReplaceAll(link, "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	loc := back.Location()
	if loc == nil || loc.Query().Get("error") != "unmet_authentication_requirements" || loc.Query().Get("state") != a.State {
		t.Fatalf("giving up: %d %v", back.Status, loc)
	}

	// prompt=none answers at once; acr_values raise the level of any client.
	_, cb := e.authorizeNoLogin(t, ag, conf, oauth2.SetAuthURLParam("prompt", "none"))
	if cb.Query().Get("error") != "unmet_authentication_requirements" {
		t.Errorf("prompt=none below level: %s", cb)
	}
	_, page, _ = ag.Authorize(ctx, e.newAuthRequest(e.oauth2Config(), oauth2.SetAuthURLParam("acr_values", "confirmed")).URL, testserver.Login{})
	if page.Status != http.StatusForbidden {
		t.Errorf("acr_values=confirmed for a simplified account: %d", page.Status)
	}

	// A scope above the account's level is not granted (and not asked).
	wide := e.oauth2Config("openid", "fullname", "snils")
	var apiErr *adminclient.APIError
	if err := adm.DeleteClient(ctx, "nobody"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("deleting an unknown client: %v, want 404", err)
	}
	info, err := adm.GetClient(ctx, e.client.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	md := info.ClientMetadata
	md.Scope += " snils"
	if _, err := adm.UpdateClient(ctx, e.client.ClientID, md); err != nil {
		t.Fatal(err)
	}
	a, code := e.login(t, testserver.NewAgent(e.srv.URL, nil), wide)
	tok, _ := e.tokens(t, wide, a, code)
	granted := strings.Fields(tok.Extra("scope").(string))
	if slices.Contains(granted, "snils") || !slices.Contains(granted, "fullname") {
		t.Errorf("granted scopes for a simplified account: %v", granted)
	}
}

package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
)

// TestMalformedPathIDs: an id in the path that cannot be one (a NUL from
// %00, invalid UTF-8, a control character, too long) answers 400
// invalid_request on every route that takes one, without quoting it and
// without touching the stored client; a well-formed unknown id answers 404.
func TestMalformedPathIDs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c, err := e.client.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:   "Portal",
		RedirectURIs: []string{"https://rp.example/cb"},
		Scope:        "openid",
	})
	if err != nil {
		t.Fatal(err)
	}
	before, err := e.store.GetClient(ctx, c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"client_name":"Portal","redirect_uris":["https://rp.example/cb"],"scope":"openid"}`
	routes := []struct{ method, prefix, suffix, body string }{
		{"GET", "/admin/clients/", "", ""},
		{"PUT", "/admin/clients/", "", body},
		{"DELETE", "/admin/clients/", "", ""},
		{"POST", "/admin/clients/", "/secret", ""},
		{"GET", "/admin/accounts/", "", ""},
	}
	malformed := map[string]string{
		"NUL":                       "a%00b",
		"stored id + NUL":           c.ClientID + "%00",
		"invalid UTF-8":             "%FF",
		"truncated UTF-8":           "rp-%D0",
		"control char":              "a%01b",
		"DEL":                       "a%7Fb",
		"C1 control":                "a%C2%85b",
		"newline":                   "a%0Ab",
		"256 bytes":                 strings.Repeat("x", maxPathID+1),
		"256 bytes of 2-byte runes": strings.Repeat("%D0%B6", maxPathID/2+1),
	}
	for _, rt := range routes {
		for name, id := range malformed {
			res := e.raw(t, rt.method, rt.prefix+id+rt.suffix, rt.body)
			if res.status != http.StatusBadRequest {
				t.Errorf("%s %s{%s}%s: %d %s, want 400", rt.method, rt.prefix, name, rt.suffix, res.status, res.body)
				continue
			}
			var er adminclient.ErrorResponse
			if err := json.Unmarshal([]byte(res.body), &er); err != nil || er.Code != codeInvalidRequest {
				t.Errorf("%s %s{%s}%s: body %s, want invalid_request", rt.method, rt.prefix, name, rt.suffix, res.body)
			}
			if strings.Contains(res.body, "\\u0000") || strings.Contains(res.body, "xxxxxxxx") {
				t.Errorf("%s %s{%s}%s: the answer quotes the id: %s", rt.method, rt.prefix, name, rt.suffix, res.body)
			}
		}
		// Well-formed ids that name nothing are 404, up to the bound.
		for _, id := range []string{"no-such-id", strings.Repeat("x", maxPathID), "%D0%B6%D1%83%D0%BA"} {
			if res := e.raw(t, rt.method, rt.prefix+id+rt.suffix, rt.body); res.status != http.StatusNotFound {
				t.Errorf("%s %s%s%s: %d %s, want 404", rt.method, rt.prefix, id[:min(len(id), 20)], rt.suffix, res.status, res.body)
			}
		}
	}
	after, err := e.store.GetClient(ctx, c.ClientID)
	if err != nil {
		t.Fatalf("the client is gone: %v", err)
	}
	if string(after.SecretHash) != string(before.SecretHash) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Error("a request with a malformed id changed the stored client")
	}
}

package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// unstorableIDs are ids PostgreSQL's text cannot hold: a NUL byte and
// invalid UTF-8, as a client sends them percent-encoded.
var unstorableIDs = map[string]string{
	"NUL":           "a\x00b",
	"invalid UTF-8": "\xff",
}

// TestUnstorableIDsAreClientErrors: ids that PostgreSQL cannot hold, in the
// admin API's paths and in the protocol's client_id and token parameters,
// are answered as the client's mistake (400, 401 or an inactive token),
// never with a 5xx from the store's driver error.
func TestUnstorableIDsAreClientErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	do := func(method, path, contentType, auth, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	admin := "Bearer " + e.srv.Shared.AdminToken
	update := `{"client_name":"x","redirect_uris":["https://rp.example/cb"],"scope":"openid"}`
	for name, id := range unstorableIDs {
		esc := url.PathEscape(id)
		for _, rt := range []struct{ method, path, body string }{
			{"GET", "/admin/clients/" + esc, ""},
			{"PUT", "/admin/clients/" + esc, update},
			{"DELETE", "/admin/clients/" + esc, ""},
			{"POST", "/admin/clients/" + esc + "/secret", ""},
			{"GET", "/admin/accounts/" + esc, ""},
		} {
			if status, body := do(rt.method, rt.path, "application/json", admin, rt.body); status != http.StatusBadRequest || !strings.Contains(body, `"invalid_request"`) {
				t.Errorf("%s %s (%s): %d %s, want 400 invalid_request", rt.method, rt.path, name, status, body)
			}
		}

		// /token and /introspect look the client up in PostgreSQL.
		for _, form := range []url.Values{
			{"grant_type": {"client_credentials"}},
			{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {id}},
		} {
			user := ""
			if form.Get("client_id") == "" {
				user = id
			}
			status, body, _ := postForm(t, e.srv.URL+"/token", form, user, "secret")
			if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
				t.Errorf("/token with client_id %s (%v): %d %v, want 401 invalid_client", name, form, status, body)
			}
		}
		status, body, _ := postForm(t, e.srv.URL+"/introspect", url.Values{"token": {"x"}}, id, "secret")
		if status != http.StatusUnauthorized {
			t.Errorf("/introspect as client %s: %d %v, want 401", name, status, body)
		}

		// A refresh token is looked up by its signature part before fosite
		// checks it.
		token := "ory_rt_x." + id
		status, body, _ = postForm(t, e.srv.URL+"/token", url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {e.public.ClientID},
		}, "", "")
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("refresh with a signature holding %s: %d %v, want 400 invalid_grant", name, status, body)
		}
		if m := e.introspect(t, token); len(m) != 1 || m["active"] != false {
			t.Errorf("introspect a token whose signature holds %s: %v, want only active false", name, m)
		}
		status, body, _ = postForm(t, e.srv.URL+"/revoke", url.Values{"token": {token}}, e.client.ClientID, e.client.ClientSecret)
		if status != http.StatusOK {
			t.Errorf("revoke a token whose signature holds %s: %d %v, want 200", name, status, body)
		}

		// /authorize with an unknown client shows a page and never redirects.
		q := url.Values{"client_id": {id}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {rpRedirect}, "state": {"s"}}
		resp := getOnce(t, ctx, e.srv.URL+"/authorize?"+q.Encode())
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("/authorize with client_id %s: %d (Location %q), want a 400 page", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if logs := e.srv.Logs(); strings.Contains(logs, "SQLSTATE") {
		t.Errorf("the server logged a driver error:\n%s", logs)
	}
}

package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// No response body, whatever the request, shows internals: SQL errors, Go
// source positions, stack traces or panics (Dex's server_errors_test habit).
func TestNoInternalsInBodies(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	// A browser in the middle of a login, for requests that need a flow
	// and a CSRF cookie.
	b := idp.newBrowser(t)
	loginPage := b.startLogin(authzParams("openid fullname"))
	lf := onlyForm(t, loginPage.body)
	flowID := lf.fields.Get("flow")

	huge := strings.Repeat("A", 1<<20)
	hugeQuery := strings.Repeat("x", 64<<10)
	form := "application/x-www-form-urlencoded"
	type req struct {
		method, path, contentType, body string
		header                          map[string]string
	}
	reqs := []req{
		// Discovery and JWKS with the wrong methods.
		{method: "POST", path: "/.well-known/openid-configuration", contentType: form, body: "a=b"},
		{method: "DELETE", path: "/jwks"},
		{method: "PUT", path: "/token", contentType: form, body: "grant_type=authorization_code"},
		{method: "PATCH", path: "/authorize"},
		{method: "DELETE", path: "/userinfo"},
		{method: "GET", path: "/introspect"},
		{method: "GET", path: "/revoke"},
		{method: "GET", path: "/logout/confirm"},
		// Authorize with malformed and oversized parameters.
		{method: "GET", path: "/authorize"},
		{method: "GET", path: "/authorize?%zz=%zz"},
		{method: "GET", path: "/authorize?client_id=" + hugeQuery},
		{method: "GET", path: "/authorize?" + with(authzParams("openid"), "scope", "openid "+hugeQuery).Encode()},
		{method: "GET", path: "/authorize?" + with(authzParams("openid"), "state", hugeQuery).Encode()},
		{method: "GET", path: "/authorize?" + with(authzParams("openid"), "scope", "openid \x00\xff").Encode()},
		{method: "GET", path: "/authorize?" + with(authzParams("openid"), "max_age", "-1", "prompt", "none login").Encode()},
		{method: "GET", path: "/authorize?" + with(authzParams("openid"), "request", "eyJhbGciOiJub25lIn0.e30.").Encode()},
		{method: "GET", path: "/authorize?" + with(authzParams("openid"), "request_uri", "https://evil.example/r").Encode()},
		{method: "GET", path: "/authorize?" + with(authzParams("openid"), "response_mode", "form_post").Encode()},
		{method: "GET", path: "/authorize?" + with(authzParams("openid"), "redirect_uri", "%").Encode()},
		{method: "GET", path: "/authorize?" + authzParams("openid").Encode() + "&client_id=" + publicClientID},
		{method: "POST", path: "/authorize", contentType: form, body: "%zz"},
		{method: "POST", path: "/authorize", contentType: "application/json", body: `{"client_id":`},
		{method: "POST", path: "/authorize", contentType: "multipart/form-data; boundary=x", body: "--x\r\nbroken"},
		{method: "POST", path: "/authorize", contentType: form, body: "client_id=" + huge},
		// Login and consent with unknown, missing and oversized flows.
		{method: "GET", path: "/login"},
		{method: "GET", path: "/login?flow=unknown"},
		{method: "GET", path: "/login?flow=" + hugeQuery},
		{method: "GET", path: "/login?flow=%00"},
		{method: "POST", path: "/login", contentType: form, body: "flow=unknown&identifier=x&password=y"},
		{method: "POST", path: "/login", contentType: form, body: "%zz"},
		{method: "POST", path: "/login", contentType: "application/json", body: `{"flow":"` + flowID + `"}`},
		{method: "POST", path: "/login?flow=" + flowID, contentType: form, body: "identifier=" + huge + "&password=x"},
		{method: "POST", path: "/login?flow=" + flowID, contentType: form, body: "identifier=%2B7999&password=" + huge},
		{method: "POST", path: "/login?flow=" + flowID, contentType: form, body: url.Values{
			"flow": {flowID}, "csrf_token": {lf.fields.Get("csrf_token")}, "identifier": {"+7" + strings.Repeat("9", 5000)}, "password": {"x"},
		}.Encode()},
		{method: "POST", path: "/login?flow=" + flowID, contentType: form, body: url.Values{
			"flow": {flowID}, "csrf_token": {lf.fields.Get("csrf_token")}, "identifier": {"a@" + strings.Repeat("b", 5000) + ".ru"}, "password": {huge},
		}.Encode()},
		{method: "POST", path: "/login?flow=" + flowID, contentType: form, body: url.Values{
			"flow": {flowID}, "csrf_token": {lf.fields.Get("csrf_token")}, "identifier": {"\xff\xfe"}, "password": {"\x00"},
		}.Encode()},
		{method: "GET", path: "/consent"},
		{method: "GET", path: "/consent?flow=" + flowID},
		{method: "POST", path: "/consent", contentType: form, body: "flow=" + flowID + "&decision=allow"},
		{method: "POST", path: "/consent", contentType: form, body: "flow=" + hugeQuery},
		{method: "POST", path: "/consent", contentType: "application/json", body: "[]"},
		// Token endpoint.
		{method: "POST", path: "/token"},
		{method: "POST", path: "/token", contentType: "application/json", body: `{"grant_type":"authorization_code"`},
		{method: "POST", path: "/token", contentType: form, body: "%zz"},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=urn:unknown"},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=authorization_code&client_id=" + publicClientID + "&code=bogus&redirect_uri=" + url.QueryEscape(rpRedirect) + "&code_verifier=" + testVerifier},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=authorization_code&client_id=" + publicClientID + "&code=a.b"},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=refresh_token&client_id=" + publicClientID + "&refresh_token=ory_rt_bogus.sig"},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=client_credentials", header: map[string]string{"Authorization": "Basic !!!"}},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=client_credentials", header: map[string]string{"Authorization": "Basic cnAtc2VjcmV0Ondyb25n"}},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=client_credentials&scope=" + hugeQuery, header: map[string]string{"Authorization": "Basic cnAtc2VjcmV0Ondyb25n"}},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c&client_id=" + secretClientID},
		{method: "POST", path: "/token", contentType: form, body: "grant_type=authorization_code&code=" + huge},
		// Userinfo, introspection, revocation.
		{method: "GET", path: "/userinfo"},
		{method: "GET", path: "/userinfo", header: map[string]string{"Authorization": "Bearer garbage"}},
		{method: "GET", path: "/userinfo", header: map[string]string{"Authorization": "Bearer a.b.c"}},
		{method: "GET", path: "/userinfo", header: map[string]string{"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}},
		{method: "GET", path: "/userinfo", header: map[string]string{"Authorization": "Bearer " + huge[:60000]}},
		{method: "GET", path: "/userinfo", header: map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}},
		{method: "POST", path: "/userinfo", contentType: form, body: "access_token=garbage"},
		{method: "POST", path: "/userinfo", contentType: form, body: "%zz"},
		{method: "POST", path: "/userinfo", contentType: "application/json", body: `{"access_token":"x"}`},
		{method: "POST", path: "/introspect", contentType: form, body: "token=garbage"},
		{method: "POST", path: "/introspect", contentType: form, body: "token=garbage", header: map[string]string{"Authorization": "Basic cnAtc2VjcmV0Ondyb25n"}},
		{method: "POST", path: "/introspect", contentType: "application/json", body: "{"},
		{method: "POST", path: "/revoke", contentType: form, body: "token=garbage&client_id=" + publicClientID},
		{method: "POST", path: "/revoke", contentType: form, body: "%zz"},
		{method: "POST", path: "/revoke", contentType: form, body: "token=" + hugeQuery, header: map[string]string{"Authorization": "Basic !!!"}},
		// Logout.
		{method: "GET", path: "/logout?id_token_hint=garbage"},
		{method: "GET", path: "/logout?id_token_hint=a.b.c"},
		{method: "GET", path: "/logout?id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
		{method: "GET", path: "/logout?id_token_hint=" + hugeQuery},
		{method: "GET", path: "/logout?client_id=" + hugeQuery + "&post_logout_redirect_uri=%25"},
		{method: "GET", path: "/logout?%zz"},
		{method: "POST", path: "/logout", contentType: "application/json", body: `{"id_token_hint":`},
		{method: "POST", path: "/logout/confirm", contentType: form, body: "flow=unknown&csrf_token=x"},
		{method: "POST", path: "/logout/confirm", contentType: form, body: "%zz"},
		// Unknown paths and static files.
		{method: "GET", path: "/no-such-page"},
		{method: "GET", path: "/static/../../etc/passwd"},
		{method: "GET", path: "/static/no-such-file.css"},
		{method: "GET", path: "/%2e%2e/%2e%2e/etc/passwd"},
	}
	forbidden := []string{"sql:", ".go:", "goroutine", "panic"}
	for _, rq := range reqs {
		name := rq.method + " " + rq.path
		if len(name) > 100 {
			name = name[:100] + "…"
		}
		var body *strings.Reader
		if rq.body != "" {
			body = strings.NewReader(rq.body)
		} else {
			body = strings.NewReader("")
		}
		req, err := http.NewRequest(rq.method, idp.ts.URL+rq.path, body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rq.contentType != "" {
			req.Header.Set("Content-Type", rq.contentType)
		}
		for k, v := range rq.header {
			req.Header.Set(k, v)
		}
		req.Header.Set("Accept-Language", "en")
		// Send the browser's cookies so that flow-bound requests get past
		// the first checks.
		for _, c := range b.jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		r := idp.rawDo(t, req)
		lower := strings.ToLower(r.body)
		for _, f := range forbidden {
			if strings.Contains(lower, f) {
				t.Errorf("%s: body contains %q:\n%s", name, f, r.body)
			}
		}
		if r.StatusCode >= 500 {
			t.Errorf("%s: status %d, want a client error", name, r.StatusCode)
		}
		if r.StatusCode < 400 && r.StatusCode != http.StatusSeeOther && r.StatusCode != http.StatusFound {
			t.Logf("%s: status %d", name, r.StatusCode)
		}
	}
	// Nothing here crashed a handler.
	if logs := idp.logs.String(); strings.Contains(logs, "panic") {
		t.Errorf("a handler panicked:\n%s", logs)
	}
}

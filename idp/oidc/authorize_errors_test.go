package oidc_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// An authorization request whose client or redirect URI cannot be trusted
// must end on a page of the provider: redirecting would hand the error (and
// the state) to whoever made up the URI (RFC 6749 §4.1.2.1, §10.15).
func TestAuthorizeErrorPagesNeverRedirect(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	const (
		unknownClient = "Unknown application"
		badRedirect   = "return address is not registered"
	)
	tests := []struct {
		name    string
		params  url.Values
		message string
	}{
		{"unknown client_id", with(authzParams("openid"), "client_id", "no-such-client"), unknownClient},
		{"unknown client_id with prompt=none", with(authzParams("openid"), "client_id", "no-such-client", "prompt", "none"), unknownClient},
		{"empty client_id", with(authzParams("openid"), "client_id", ""), unknownClient},
		{"unregistered redirect_uri", with(authzParams("openid"), "redirect_uri", "https://evil.example/cb"), badRedirect},
		{"trailing slash", with(authzParams("openid"), "redirect_uri", rpRedirect+"/"), badRedirect},
		{"host case", with(authzParams("openid"), "redirect_uri", "https://RP.example/cb"), badRedirect},
		{"userinfo look-alike", with(authzParams("openid"), "redirect_uri", "https://rp.example@evil/cb"), badRedirect},
		{"extra query", with(authzParams("openid"), "redirect_uri", rpRedirect+"?x=1"), badRedirect},
		{"fragment", with(authzParams("openid"), "redirect_uri", rpRedirect+"#f"), badRedirect},
		{"http instead of https", with(authzParams("openid"), "redirect_uri", "http://rp.example/cb"), badRedirect},
		{"javascript scheme", with(authzParams("openid"), "redirect_uri", "javascript:alert(1)//rp.example/cb"), badRedirect},
		{"unregistered redirect_uri with prompt=none", with(authzParams("openid"), "redirect_uri", "https://evil.example/cb", "prompt", "none"), badRedirect},
		{"unregistered redirect_uri and bad response_type", with(authzParams("openid"), "redirect_uri", "https://evil.example/cb", "response_type", "token"), badRedirect},
		{"request object with an unregistered redirect_uri", with(authzParams("openid"), "redirect_uri", "https://evil.example/cb", "request", "eyJhbGciOiJub25lIn0.e30."), badRedirect},
		{"request_uri with an unknown client_id", with(authzParams("openid"), "client_id", "no-such-client", "request_uri", "https://evil.example/r"), unknownClient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				b := idp.newBrowser(t)
				var r *response
				if method == http.MethodGet {
					r = b.authorize(tc.params)
				} else {
					r = b.post("/authorize", tc.params)
				}
				if r.StatusCode != http.StatusBadRequest {
					t.Errorf("%s: status %d, want 400", method, r.StatusCode)
				}
				if loc := r.Header.Get("Location"); loc != "" {
					t.Errorf("%s: Location %q, want none", method, loc)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("%s: Content-Type %q, want an HTML page", method, ct)
				}
				if text := textOf(t, r.body); !strings.Contains(text, tc.message) {
					t.Errorf("%s: page does not say %q:\n%s", method, tc.message, text)
				}
				for _, l := range links(t, r.body) {
					if !strings.HasPrefix(l, "#") && (!strings.HasPrefix(l, "/") || strings.HasPrefix(l, "//")) {
						t.Errorf("%s: page links off-site to %q", method, l)
					}
				}
			}
		})
	}
}

// runToClient follows an authorization through whatever pages the provider
// shows (login as the seeded citizen, consent allowed) until it redirects to
// the client, and returns the response parameters.
func runToClient(t *testing.T, b *browser, q url.Values) url.Values {
	t.Helper()
	r := b.authorize(q)
	for range 3 {
		if r.StatusCode != http.StatusSeeOther {
			break
		}
		loc := r.location(t)
		switch {
		case loc.Host == b.idp.ts.Listener.Addr().String() && loc.Path == "/login":
			page := b.get(loc.String())
			r = b.submitLogin(page, citizenPhone, citizenPassword)
		case loc.Host == b.idp.ts.Listener.Addr().String() && loc.Path == "/consent":
			r = b.consent(r, "allow")
		default:
			return expectClientRedirect(t, r)
		}
	}
	return expectClientRedirect(t, r)
}

// Errors about a request whose client and redirect URI are verified go back
// to the client with error, state and iss (RFC 6749 §4.1.2.1, RFC 9207).
func TestAuthorizeErrorsRedirectToClient(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tests := []struct {
		name   string
		params url.Values
		error  string
		// pkce: the error is found by fosite's PKCE handler, which runs
		// only when the code is about to be issued (NewAuthorizeResponse):
		// without a session the citizen is asked to log in before the client
		// gets the error. Ideally /authorize would refuse at once.
		pkce bool
	}{
		{"public client without PKCE", with(authzParams("openid"), "code_challenge", "", "code_challenge_method", ""), "invalid_request", true},
		{"plain challenge method", with(authzParams("openid"), "code_challenge_method", "plain"), "invalid_request", true},
		{"challenge without method", with(authzParams("openid"), "code_challenge_method", ""), "invalid_request", true},
		{"unknown challenge method", with(authzParams("openid"), "code_challenge_method", "S512"), "invalid_request", true},
		{"response_type token", with(authzParams("openid"), "response_type", "token"), "unsupported_response_type", false},
		{"response_type id_token", with(authzParams("openid"), "response_type", "id_token"), "unsupported_response_type", false},
		{"response_type unknown", with(authzParams("openid"), "response_type", "bogus"), "unsupported_response_type", false},
		{"scope not allowed for the client", authzParams("openid snils"), "invalid_scope", false},
		// OpenID Connect Core §6: request objects are not supported; the
		// parameters in the query are what the client and redirect URI
		// are checked by, and nothing is fetched.
		{"request object", with(authzParams("openid"), "request", "eyJhbGciOiJub25lIn0.e30."), "request_not_supported", false},
		{"request object without openid", with(authzParams("fullname"), "request", "eyJhbGciOiJub25lIn0.e30."), "request_not_supported", false},
		{"request_uri", with(authzParams("openid"), "request_uri", "https://evil.example/r"), "request_uri_not_supported", false},
	}
	check := func(t *testing.T, p url.Values, q url.Values, want string) {
		t.Helper()
		if p.Get("error") != want {
			t.Errorf("error %q, want %q (response %v)", p.Get("error"), want, p)
		}
		if p.Get("code") != "" {
			t.Errorf("a code was issued with the error: %v", p)
		}
		if p.Get("state") != q.Get("state") {
			t.Errorf("state %q, want %q", p.Get("state"), q.Get("state"))
		}
		if p.Get("iss") != testIssuer {
			t.Errorf("iss %q, want %q", p.Get("iss"), testIssuer)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A browser without a session.
			b := idp.newBrowser(t)
			if tc.pkce {
				// The error must reach the client, never a code, even if
				// the citizen is asked to log in first.
				check(t, runToClient(t, b, tc.params), tc.params, tc.error)
			} else {
				r := b.authorize(tc.params)
				check(t, expectClientRedirect(t, r), tc.params, tc.error)
			}

			// A browser with an SSO session and a remembered consent: the
			// error comes back from /authorize itself.
			b = idp.newBrowser(t)
			b.codeFor(authzParams("openid"))
			r := b.authorize(tc.params)
			check(t, expectClientRedirect(t, r), tc.params, tc.error)
		})
	}
}

// prompt=none never shows a page: the client learns what is missing
// (OpenID Connect Core §3.1.2.6).
// Each case has its own provider: consent is remembered per account.
func TestAuthorizePromptNone(t *testing.T) {
	t.Parallel()

	t.Run("without session: login_required", func(t *testing.T) {
		t.Parallel()
		b := newTestIDP(t).newBrowser(t)
		q := with(authzParams("openid"), "prompt", "none")
		p := expectClientRedirect(t, b.authorize(q))
		if p.Get("error") != "login_required" || p.Get("state") != q.Get("state") || p.Get("iss") != testIssuer {
			t.Errorf("response %v, want error=login_required with state and iss", p)
		}
	})

	t.Run("with session, without consent: consent_required", func(t *testing.T) {
		t.Parallel()
		b := newTestIDP(t).newBrowser(t)
		b.codeFor(authzParams("openid")) // logs in; openid needs no consent
		q := with(authzParams("openid fullname"), "prompt", "none")
		p := expectClientRedirect(t, b.authorize(q))
		if p.Get("error") != "consent_required" || p.Get("state") != q.Get("state") || p.Get("iss") != testIssuer {
			t.Errorf("response %v, want error=consent_required with state and iss", p)
		}
	})

	t.Run("with session and consent: code", func(t *testing.T) {
		t.Parallel()
		b := newTestIDP(t).newBrowser(t)
		b.codeFor(authzParams("openid fullname"))
		q := with(authzParams("openid fullname"), "prompt", "none")
		p := expectClientRedirect(t, b.authorize(q))
		if p.Get("error") != "" || p.Get("code") == "" || p.Get("state") != q.Get("state") || p.Get("iss") != testIssuer {
			t.Errorf("response %v, want a code with state and iss", p)
		}
	})
}

// A request object sent in a POST body, form-encoded or multipart, is
// answered like one in the query; an empty one counts as absent.
func TestAuthorizeRequestObjectInBody(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	params := with(authzParams("openid"), "request", "eyJhbGciOiJub25lIn0.e30.")

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for k, vs := range params {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	mw.Close()
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"form", "application/x-www-form-urlencoded", params.Encode()},
		{"multipart", mw.FormDataContentType(), mp.String()},
	} {
		r := idp.rawPost(t, "/authorize", tc.contentType, tc.body, nil)
		p := expectClientRedirect(t, r)
		if p.Get("error") != "request_not_supported" || p.Get("state") != params.Get("state") || p.Get("iss") != testIssuer {
			t.Errorf("%s: response %v, want request_not_supported with state and iss", tc.name, p)
		}
	}

	// An empty request parameter is no request object: the flow goes on.
	r := idp.newBrowser(t).authorize(with(authzParams("openid"), "request", "", "request_uri", ""))
	expectStep(t, r, "/login")
}

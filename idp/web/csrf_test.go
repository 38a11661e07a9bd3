package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func newCSRF(t *testing.T, secure bool) *CSRF {
	t.Helper()
	c, err := NewCSRF(bytes.Repeat([]byte{7}, 32), Cookies{Secure: secure})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issue gets a token bound to bindTo for a fresh browser and returns it
// with the cookie that came with it.
func issue(t *testing.T, c *CSRF, bindTo string) (string, *http.Cookie) {
	t.Helper()
	rec := httptest.NewRecorder()
	tok := c.Token(rec, httptest.NewRequest(http.MethodGet, "/login", nil), bindTo)
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != c.cookies.Name("csrf") {
		t.Fatalf("cookies = %v, want one csrf cookie", cookies)
	}
	return tok, cookies[0]
}

// post builds a form POST carrying token and, when not nil, cookie.
func post(token string, cookie *http.Cookie) *http.Request {
	form := url.Values{"identifier": {"a@b.ru"}}
	if token != "" {
		form.Set("csrf_token", token)
	}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	return req
}

func TestCSRFVerify(t *testing.T) {
	c := newCSRF(t, true)
	tok, cookie := issue(t, c, "flow-1")
	if tok == "" || strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q is not base64url", tok)
	}

	tamperedTok := []byte(tok)
	tamperedTok[3] ^= 1
	if tamperedTok[3] == '+' || tamperedTok[3] == '/' {
		tamperedTok[3] = 'A'
	}
	otherCookie := &http.Cookie{Name: "csrf", Value: strings.Repeat("A", 43)}
	otherKey, err := NewCSRF(bytes.Repeat([]byte{8}, 32), Cookies{Secure: true})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		c      *CSRF
		req    *http.Request
		bindTo string
		want   bool
	}{
		{"good", c, post(tok, cookie), "flow-1", true},
		{"missing cookie", c, post(tok, nil), "flow-1", false},
		{"missing token", c, post("", cookie), "flow-1", false},
		{"wrong bind", c, post(tok, cookie), "flow-2", false},
		{"tampered token", c, post(string(tamperedTok), cookie), "flow-1", false},
		{"truncated token", c, post(tok[:len(tok)-1], cookie), "flow-1", false},
		{"other browser's cookie", c, post(tok, otherCookie), "flow-1", false},
		{"malformed cookie", c, post(tok, &http.Cookie{Name: "csrf", Value: "x|y"}), "flow-1", false},
		{"other key", otherKey, post(tok, cookie), "flow-1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.Verify(tc.req, tc.bindTo); got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCSRFCookie(t *testing.T) {
	for _, secure := range []bool{true, false} {
		_, ck := issue(t, newCSRF(t, secure), "x")
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != secure || len(ck.Value) != 43 {
			t.Errorf("secure=%v: cookie %+v", secure, ck)
		}
	}

	c := newCSRF(t, true)
	tok, ck := issue(t, c, "flow-1")

	// A browser that has the cookie keeps it and gets the same token.
	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	req.AddCookie(ck)
	rec := httptest.NewRecorder()
	if again := c.Token(rec, req, "flow-1"); again != tok {
		t.Errorf("token changed for the same cookie and bind: %q vs %q", again, tok)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("cookie set again: %v", rec.Result().Cookies())
	}

	// Two forms in one response share one new cookie, and both verify.
	rec = httptest.NewRecorder()
	first := c.Token(rec, httptest.NewRequest(http.MethodGet, "/", nil), "a")
	second := c.Token(rec, httptest.NewRequest(http.MethodGet, "/", nil), "b")
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("%d cookies set for two tokens, want 1", len(cookies))
	}
	if !c.Verify(post(first, cookies[0]), "a") || !c.Verify(post(second, cookies[0]), "b") {
		t.Error("tokens issued in one response do not verify")
	}

	// Different browsers get different cookies and tokens.
	tok2, ck2 := issue(t, c, "flow-1")
	if ck2.Value == ck.Value || tok2 == tok {
		t.Error("two browsers got the same cookie or token")
	}
}

func TestNewCSRFRejectsShortKey(t *testing.T) {
	if _, err := NewCSRF(make([]byte, 16), Cookies{Secure: true}); err == nil {
		t.Error("NewCSRF accepted a 16-byte key")
	}
	key := bytes.Repeat([]byte{1}, 32)
	c, err := NewCSRF(key, Cookies{})
	if err != nil {
		t.Fatal(err)
	}
	tok, ck := issue(t, c, "f")
	key[0] = 2 // the caller's slice is copied
	if !c.Verify(post(tok, ck), "f") {
		t.Error("changing the caller's key slice changed the CSRF key")
	}
}

func TestCookies(t *testing.T) {
	rec := httptest.NewRecorder()
	secure, plain := Cookies{Secure: true}, Cookies{}
	secure.Set(rec, "sid", "v1", 3600)
	plain.Delete(rec, "old")
	cs := rec.Result().Cookies()
	if len(cs) != 2 {
		t.Fatalf("cookies = %v", cs)
	}
	// https: __Host- prefix, Secure, Path=/, no Domain.
	if c := cs[0]; c.Name != "__Host-sid" || c.Value != "v1" || c.MaxAge != 3600 || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("sid cookie = %+v", c)
	}
	if c := cs[1]; c.Name != "old" || c.MaxAge >= 0 || c.Secure {
		t.Errorf("deleting cookie = %+v", c)
	}
	if got := secure.Pending(rec, "sid"); got != "v1" {
		t.Errorf("Pending(sid) = %q", got)
	}
	if got := plain.Pending(rec, "old"); got != "" {
		t.Errorf("Pending of a deleted cookie = %q", got)
	}
	// A cookie without the prefix is not read as the prefixed one.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: "planted"})
	if got := secure.Get(req, "sid"); got != "" {
		t.Errorf("secure Get read the unprefixed cookie %q", got)
	}
}

// TestCSRFRotate: a rotated cookie gives a new browser id at once, tokens
// and browser ids of the old cookie no longer verify, and the new cookie is
// what this response's forms are signed with.
func TestCSRFRotate(t *testing.T) {
	for _, secure := range []bool{true, false} {
		c := newCSRF(t, secure)
		tok, old := issue(t, c, "flow-1")
		oldReq := post(tok, old)
		oldID := c.Browser(httptest.NewRecorder(), oldReq)

		rec := httptest.NewRecorder()
		newID := c.Rotate(rec)
		fresh := rec.Result().Cookies()
		if len(fresh) != 1 || fresh[0].Name != c.cookies.Name("csrf") || fresh[0].Value == old.Value {
			t.Fatalf("secure=%v: rotated cookies %v", secure, fresh)
		}
		if newID == oldID {
			t.Fatal("the browser id did not change")
		}
		// Forms of the same response are signed with the new cookie.
		tok2 := c.Token(rec, oldReq, "flow-1")
		newReq := post(tok2, fresh[0])
		if !c.Verify(newReq, "flow-1") || !c.SameBrowser(newReq, newID) {
			t.Error("the new cookie's token or browser id does not verify")
		}
		if c.Verify(post(tok, fresh[0]), "flow-1") || c.SameBrowser(newReq, oldID) {
			t.Error("the old cookie's token or browser id still verifies")
		}
	}
}

// TestCookiesPrefix: an application beside the provider on the same host
// names its cookies apart, the CSRF cookie included.
func TestCookiesPrefix(t *testing.T) {
	for _, tc := range []struct {
		c    Cookies
		want string
	}{
		{Cookies{Prefix: "catalog_"}, "catalog_csrf"},
		{Cookies{Prefix: "catalog_", Secure: true}, "__Host-catalog_csrf"},
		{Cookies{}, "csrf"},
	} {
		c, err := NewCSRF(make([]byte, 32), tc.c)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		c.Token(w, httptest.NewRequest("GET", "/", nil), "x")
		ck := w.Result().Cookies()
		if len(ck) != 1 || ck[0].Name != tc.want {
			t.Errorf("%+v: cookies %v, want one named %s", tc.c, ck, tc.want)
		}
	}
}

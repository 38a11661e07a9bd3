package web

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

// TestCSRFAcrossSecretRotation: after the server's secret is rotated
// (IDP_SECRET_KEY_PREVIOUS set), a form and a login flow opened under the
// previous key still verify; new tokens are made under the new key only;
// once the previous key is dropped, its tokens fail.
func TestCSRFAcrossSecretRotation(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 32)
	before, err := NewCSRF(oldKey, Cookies{Secure: true})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewCSRF(newKey, Cookies{Secure: true}, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	after, err := NewCSRF(newKey, Cookies{Secure: true})
	if err != nil {
		t.Fatal(err)
	}

	tok, cookie := issue(t, before, "flow-1")
	rec := httptest.NewRecorder()
	req := post(tok, cookie)
	browser := before.Browser(rec, req)

	if !rotated.Verify(post(tok, cookie), "flow-1") {
		t.Error("a token made under the previous key does not verify after the rotation")
	}
	if !rotated.SameBrowser(post(tok, cookie), browser) {
		t.Error("a flow's browser id made under the previous key does not match after the rotation")
	}
	if rotated.Verify(post(tok, cookie), "flow-2") {
		t.Error("a previous key's token verifies for another flow")
	}
	if after.Verify(post(tok, cookie), "flow-1") || after.SameBrowser(post(tok, cookie), browser) {
		t.Error("a token of a dropped key still verifies")
	}

	// New tokens are under the new key: they verify without the previous.
	rec = httptest.NewRecorder()
	fresh := rotated.Token(rec, post("", cookie), "flow-3")
	if fresh == before.sign(cookie.Value, "flow-3") {
		t.Error("a new token was made under the previous key")
	}
	if !after.Verify(post(fresh, cookie), "flow-3") {
		t.Error("a token made after the rotation does not verify under the new key alone")
	}

	if _, err := NewCSRF(newKey, Cookies{Secure: true}, make([]byte, 16)); err == nil {
		t.Error("NewCSRF accepted a 16-byte previous key")
	}
}

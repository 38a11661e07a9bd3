package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

// routes lists every route with a body that would succeed when authorized.
var routes = []struct{ method, path, body string }{
	{"POST", "/admin/clients", `{"client_name":"x","redirect_uris":["https://rp.example/cb"]}`},
	{"GET", "/admin/clients", ""},
	{"GET", "/admin/clients/c1", ""},
	{"PUT", "/admin/clients/c1", `{"client_name":"x","redirect_uris":["https://rp.example/cb"]}`},
	{"DELETE", "/admin/clients/c1", ""},
	{"POST", "/admin/clients/c1/secret", ""},
	{"POST", "/admin/accounts", `{"phone":"+79990000001","password":"correct horse","last_name":"A","first_name":"B"}`},
	{"GET", "/admin/accounts/a1", ""},
	{"POST", "/admin/operators", `{"login":"ivanova","password":"correct horse battery","name":"Иванова","roles":["operator"]}`},
	{"GET", "/admin/keys", ""},
	{"POST", "/admin/keys/rotate", `{"alg":"RS256"}`},
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Something to read, change and delete, so that a wrongly let-through
	// request would succeed.
	if err := e.store.CreateClient(ctx, &store.Client{ID: "c1", Name: "x", TokenEndpointAuthMethod: "client_secret_basic", SecretHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateAccount(ctx, &store.Account{ID: "a1", Level: store.LevelSimplified, Phone: "+79990000002"}); err != nil {
		t.Fatal(err)
	}
	auths := []struct {
		name, header string
		wrong        bool // a token was given, and it is wrong
	}{
		{"missing", "", false},
		{"basic", "Basic " + testToken, false},
		{"empty bearer", "Bearer ", false},
		{"wrong", "Bearer nope", true},
		{"prefix of token", "Bearer " + testToken[:len(testToken)-1], true},
		{"token with suffix", "Bearer " + testToken + "x", true},
	}
	for _, rt := range routes {
		for _, au := range auths {
			t.Run(rt.method+" "+rt.path+" "+au.name, func(t *testing.T) {
				res := e.rawWith(t, rt.method, rt.path, "application/json", au.header, rt.body)
				if res.status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401; body %s", res.status, res.body)
				}
				h := res.header.Get("WWW-Authenticate")
				if !strings.HasPrefix(h, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", h)
				}
				if au.wrong != strings.Contains(h, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q for %s token", h, au.name)
				}
				var er adminclient.ErrorResponse
				if err := json.Unmarshal([]byte(res.body), &er); err != nil || er.Code != codeUnauthorized {
					t.Errorf("body %s, want error unauthorized", res.body)
				}
			})
		}
	}
	// Nothing changed.
	cs, err := e.store.ListClients(ctx)
	if err != nil || len(cs) != 1 || cs[0].Name != "x" || string(cs[0].SecretHash) != "h" {
		t.Errorf("clients after unauthorized calls: %v %+v", err, cs)
	}
	if _, err := e.store.GetAccount(ctx, "a1"); err != nil {
		t.Errorf("account: %v", err)
	}
	if _, err := e.store.FindAccount(ctx, store.IdentifierPhone, "+79990000001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an account was created: %v", err)
	}
	if keys, _ := e.api.Keys.List(ctx); len(keys) != 0 {
		t.Errorf("a key was created: %d", len(keys))
	}
	if ops, err := e.store.ListOperators(ctx); err != nil || len(ops) != 0 {
		t.Errorf("an operator was created: %v %d", err, len(ops))
	}

	// The scheme name is case-insensitive (RFC 7235 section 2.1).
	if res := e.rawWith(t, "GET", "/admin/clients", "", "bearer "+testToken, ""); res.status != http.StatusOK {
		t.Errorf("lower-case bearer: %d", res.status)
	}

	// With no token configured every call fails, even with an empty one.
	e.api.Token = ""
	if res := e.rawWith(t, "GET", "/admin/clients", "", "Bearer ", ""); res.status != http.StatusUnauthorized {
		t.Errorf("empty configured token: %d", res.status)
	}
	if res := e.rawWith(t, "GET", "/admin/clients", "", "Bearer "+testToken, ""); res.status != http.StatusUnauthorized {
		t.Errorf("empty configured token: %d", res.status)
	}
}

func TestValidationOverHTTP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.client.CreateClient(ctx, adminclient.ClientMetadata{ClientName: "x", RedirectURIs: []string{"http://rp.example/cb"}})
	wantAPIError(t, err, 400, codeInvalidRedirectURI, "redirect_uris[0]", "https")
	_, err = e.client.CreateClient(ctx, adminclient.ClientMetadata{ClientName: "x", RedirectURIs: []string{"https://rp.example/cb"}, Scope: "openid nope"})
	wantAPIError(t, err, 400, codeInvalidClientMetadata, "scope", "nope")
	if cs, err := e.store.ListClients(ctx); err != nil || len(cs) != 0 {
		t.Errorf("rejected registrations were stored: %v %d", err, len(cs))
	}
}

func TestConfidentialClientLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := adminclient.ClientMetadata{
		ClientName:             "Портал",
		RedirectURIs:           []string{"https://rp.example/cb"},
		PostLogoutRedirectURIs: []string{"https://rp.example/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		Scope:                  "openid profile",
		BackchannelLogoutURI:   "https://rp.example/bc",
		MinLevel:               "standard",
	}
	created, err := e.client.CreateClient(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if created.ClientID == "" || created.ClientSecret == "" {
		t.Fatalf("created = %+v, want an id and a secret", created)
	}
	if created.ClientIDIssuedAt != e.clock.Now().Unix() || created.ClientSecretExpiresAt != 0 {
		t.Errorf("issued_at %d expires_at %d", created.ClientIDIssuedAt, created.ClientSecretExpiresAt)
	}
	wantMeta := m
	wantMeta.ResponseTypes = []string{"code"}
	wantMeta.TokenEndpointAuthMethod = "client_secret_basic"
	wantMeta.SubjectType = "pairwise" // the default: a sub of the client's own
	wantMeta.RequirePKCE = ptr(true)
	sameMeta(t, created.ClientMetadata, wantMeta)

	// Stored hashed, never in the clear.
	stored, err := e.store.GetClient(ctx, created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.SecretHash, e.api.Secrets.HashSecret(created.ClientSecret)) {
		t.Error("stored secret hash is not HashSecret(secret)")
	}
	if bytes.Contains(stored.SecretHash, []byte(created.ClientSecret)) {
		t.Error("the secret is stored in the clear")
	}

	// Shown once: not in GET nor in the list.
	for _, path := range []string{"/admin/clients/" + created.ClientID, "/admin/clients"} {
		res := e.raw(t, "GET", path, "")
		if res.status != 200 {
			t.Fatalf("GET %s: %d", path, res.status)
		}
		if strings.Contains(res.body, created.ClientSecret) || strings.Contains(res.body, "client_secret\"") || strings.Contains(strings.ToLower(res.body), "hash") {
			t.Errorf("GET %s shows the secret or its hash: %s", path, res.body)
		}
		if res.header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s Cache-Control = %q", path, res.header.Get("Cache-Control"))
		}
	}
	got, err := e.client.GetClient(ctx, created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	sameMeta(t, got.ClientMetadata, wantMeta)
	list, err := e.client.ListClients(ctx)
	if err != nil || len(list) != 1 || list[0].ClientID != created.ClientID {
		t.Fatalf("list = %+v, %v", list, err)
	}

	// PUT replaces the metadata and keeps the secret.
	e.clock.Advance(time.Minute)
	m2 := adminclient.ClientMetadata{ClientName: "Портал 2", RedirectURIs: []string{"https://rp.example/cb2"}, TokenEndpointAuthMethod: "client_secret_post"}
	updated, err := e.client.UpdateClient(ctx, created.ClientID, m2)
	if err != nil {
		t.Fatal(err)
	}
	if updated.ClientSecret != "" || updated.ClientID != created.ClientID || updated.ClientIDIssuedAt != created.ClientIDIssuedAt {
		t.Errorf("updated = %+v", updated)
	}
	want2 := m2
	want2.GrantTypes, want2.ResponseTypes, want2.Scope = []string{"authorization_code"}, []string{"code"}, "openid"
	// Omitted on PUT, the subject type and the PKCE requirement are kept.
	want2.SubjectType, want2.RequirePKCE = "pairwise", ptr(true)
	sameMeta(t, updated.ClientMetadata, want2)
	stored2, err := e.store.GetClient(ctx, created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored2.SecretHash, stored.SecretHash) {
		t.Error("PUT changed the secret")
	}
	if stored2.MinLevel != "" || stored2.BackchannelLogoutURI != "" || len(stored2.PostLogoutRedirectURIs) != 0 {
		t.Errorf("PUT did not replace omitted fields: %+v", stored2)
	}
	if !stored2.UpdatedAt.Equal(e.clock.Now()) {
		t.Errorf("UpdatedAt = %v, want %v", stored2.UpdatedAt, e.clock.Now())
	}

	// PUT is validated like POST, and may carry a matching client_id only.
	_, err = e.client.UpdateClient(ctx, created.ClientID, adminclient.ClientMetadata{ClientName: "x"})
	wantAPIError(t, err, 400, codeInvalidRedirectURI, "redirect_uris")
	res := e.raw(t, "PUT", "/admin/clients/"+created.ClientID, `{"client_id":"other","client_name":"x","redirect_uris":["https://rp.example/cb"]}`)
	if res.status != 400 || !strings.Contains(res.body, "client_id") {
		t.Errorf("mismatched client_id: %d %s", res.status, res.body)
	}
	res = e.raw(t, "PUT", "/admin/clients/"+created.ClientID, `{"client_id":"`+created.ClientID+`","client_name":"y","redirect_uris":["https://rp.example/cb"]}`)
	if res.status != 200 {
		t.Errorf("matching client_id: %d %s", res.status, res.body)
	}

	// Rotation answers a new secret once and replaces the hash.
	rotated, err := e.client.RotateClientSecret(ctx, created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ClientSecret == "" || rotated.ClientSecret == created.ClientSecret {
		t.Errorf("rotated secret %q", rotated.ClientSecret)
	}
	stored3, err := e.store.GetClient(ctx, created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored3.SecretHash, e.api.Secrets.HashSecret(rotated.ClientSecret)) {
		t.Error("rotation did not store the new hash")
	}

	// Delete, then it is gone.
	if err := e.client.DeleteClient(ctx, created.ClientID); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetClient(ctx, created.ClientID)
	wantAPIError(t, err, 404, codeNotFound, "client_id")
	wantAPIError(t, e.client.DeleteClient(ctx, created.ClientID), 404, codeNotFound)
	_, err = e.client.UpdateClient(ctx, created.ClientID, m2)
	wantAPIError(t, err, 404, codeNotFound)
	_, err = e.client.RotateClientSecret(ctx, created.ClientID)
	wantAPIError(t, err, 404, codeNotFound)
	if list, err := e.client.ListClients(ctx); err != nil || len(list) != 0 {
		t.Errorf("list after delete = %+v, %v", list, err)
	}
	// An empty list is [], not null.
	if res := e.raw(t, "GET", "/admin/clients", ""); !strings.Contains(res.body, `"clients":[]`) {
		t.Errorf("empty list body %s", res.body)
	}
}

func sameMeta(t *testing.T, got, want adminclient.ClientMetadata) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("metadata\n got %s\nwant %s", g, w)
	}
}

func TestPublicClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	m := adminclient.ClientMetadata{ClientName: "SPA", RedirectURIs: []string{"http://127.0.0.1:8081/callback"}, TokenEndpointAuthMethod: "none"}
	created, err := e.client.CreateClient(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if created.ClientSecret != "" {
		t.Error("a public client got a secret")
	}
	stored, err := e.store.GetClient(ctx, created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.SecretHash) != 0 || !stored.Public() {
		t.Errorf("stored %+v", stored)
	}
	_, err = e.client.RotateClientSecret(ctx, created.ClientID)
	wantAPIError(t, err, 400, codeInvalidRequest, "public")

	// Becoming confidential issues a secret, once.
	m.TokenEndpointAuthMethod = "client_secret_basic"
	up, err := e.client.UpdateClient(ctx, created.ClientID, m)
	if err != nil {
		t.Fatal(err)
	}
	if up.ClientSecret == "" {
		t.Fatal("no secret issued to a client that became confidential")
	}
	stored, err = e.store.GetClient(ctx, created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.SecretHash, e.api.Secrets.HashSecret(up.ClientSecret)) {
		t.Error("stored hash does not match the issued secret")
	}
	// Updating it again keeps that secret and shows nothing.
	up2, err := e.client.UpdateClient(ctx, created.ClientID, m)
	if err != nil || up2.ClientSecret != "" {
		t.Fatalf("second update: %+v %v", up2, err)
	}
	// Becoming public again drops the secret.
	m.TokenEndpointAuthMethod = "none"
	if _, err := e.client.UpdateClient(ctx, created.ClientID, m); err != nil {
		t.Fatal(err)
	}
	stored, err = e.store.GetClient(ctx, created.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.SecretHash) != 0 {
		t.Error("a client that became public kept its secret hash")
	}
}

func TestAccounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const password = "correct horse battery staple"
	acc, err := e.client.CreateAccount(ctx, adminclient.NewAccount{
		Phone: "8 999 123-45-67", Email: "Ivan@Example.ru", Password: password,
		LastName: "Иванов", FirstName: "Иван", MiddleName: "Иванович", Level: "confirmed", Birthdate: "1990-01-02", Gender: "M",
	})
	if err != nil {
		t.Fatal(err)
	}
	if acc.ID == "" || acc.Phone != "+79991234567" || acc.Email != "ivan@example.ru" || acc.Level != "confirmed" ||
		!acc.PhoneVerified || !acc.EmailVerified || !acc.HasPassword || acc.Birthdate != "1990-01-02" || acc.Gender != "M" {
		t.Errorf("created %+v", acc)
	}
	stored, err := e.store.GetAccount(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.PasswordHash != fakeHash(password) {
		t.Errorf("stored password hash %q, want the hasher's output", stored.PasswordHash)
	}
	if stored.ID == stored.Phone || stored.ID == stored.Email {
		t.Error("the account id is an identifier")
	}

	res := e.raw(t, "GET", "/admin/accounts/"+acc.ID, "")
	if res.status != 200 {
		t.Fatalf("GET account: %d %s", res.status, res.body)
	}
	if strings.Contains(res.body, stored.PasswordHash) || strings.Contains(res.body, password) || strings.Contains(res.body, "password_hash") {
		t.Errorf("GET account shows the password or its hash: %s", res.body)
	}
	got, err := e.client.GetAccount(ctx, acc.ID)
	if err != nil || !reflect.DeepEqual(got, acc) {
		t.Errorf("GetAccount = %+v, %v; want %+v", got, err, acc)
	}
	_, err = e.client.GetAccount(ctx, "nobody")
	wantAPIError(t, err, 404, codeNotFound, "id")

	// The same phone written differently is taken; the answer names the
	// field, not the value.
	for _, dup := range []adminclient.NewAccount{
		{Phone: "+7 (999) 123 45 67", Password: "correct horse", LastName: "П", FirstName: "П"},
		{Email: "IVAN@example.RU", Password: "correct horse", LastName: "П", FirstName: "П"},
		{SNILS: "112-233-445 95", Email: "ivan@EXAMPLE.ru", Password: "correct horse", LastName: "П", FirstName: "П"},
	} {
		_, err := e.client.CreateAccount(ctx, dup)
		field := "phone"
		if dup.Phone == "" {
			field = "email"
		}
		wantAPIError(t, err, 409, codeConflict, field, "taken")
		var ae *adminclient.APIError
		if errors.As(err, &ae) && (strings.Contains(ae.Description, "999") || strings.Contains(strings.ToLower(ae.Description), "ivan")) {
			t.Errorf("409 echoes the identifier: %q", ae.Description)
		}
	}
	if _, err := e.store.FindAccount(ctx, store.IdentifierSNILS, "11223344595"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a conflicting account was partly stored: %v", err)
	}

	// A second account with other identifiers is fine.
	acc2, err := e.client.CreateAccount(ctx, adminclient.NewAccount{SNILS: "112-233-445 95", Password: "correct horse", LastName: "П", FirstName: "П"})
	if err != nil {
		t.Fatal(err)
	}
	if acc2.ID == acc.ID || acc2.Level != "simplified" || acc2.PhoneVerified || acc2.EmailVerified {
		t.Errorf("second account %+v", acc2)
	}

	_, err = e.client.CreateAccount(ctx, adminclient.NewAccount{Phone: "12", Password: "correct horse", LastName: "П", FirstName: "П"})
	wantAPIError(t, err, 400, codeInvalidRequest, "phone")
}

// racyAccounts hides accounts from FindAccount so that the store's own
// unique check is what catches a taken identifier.
type racyAccounts struct {
	store.Accounts
	hide bool
}

func (r *racyAccounts) FindAccount(ctx context.Context, kind store.IdentifierKind, value string) (*store.Account, error) {
	if r.hide {
		r.hide = false
		return nil, store.ErrNotFound
	}
	return r.Accounts.FindAccount(ctx, kind, value)
}

func TestAccountConflictRace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := adminclient.NewAccount{Email: "a@example.ru", Password: "correct horse", LastName: "П", FirstName: "П"}
	if _, err := e.client.CreateAccount(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.api.Accounts = &racyAccounts{Accounts: e.store, hide: true}
	_, err := e.client.CreateAccount(ctx, req)
	wantAPIError(t, err, 409, codeConflict, "email")
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	keys, err := e.client.ListKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("keys = %+v, %v", keys, err)
	}
	k1, err := e.client.RotateKey(ctx, "RS256")
	if err != nil {
		t.Fatal(err)
	}
	if k1.KID != "kid-1" || k1.Alg != "RS256" || k1.State != adminclient.KeyNext || !k1.ActiveAt.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("k1 = %+v", k1)
	}
	e.clock.Advance(time.Hour)
	k2, err := e.client.RotateKey(ctx, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	states := func() []string {
		t.Helper()
		keys, err := e.client.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, k := range keys {
			s = append(s, k.KID+":"+k.State)
		}
		return s
	}
	eq(t, "states", states(), []string{"kid-1:active", "kid-2:next"})
	e.clock.Advance(time.Hour)
	eq(t, "states", states(), []string{"kid-1:retired", "kid-2:active"})
	e.clock.Advance(24 * time.Hour)
	eq(t, "states", states(), []string{"kid-1:expired", "kid-2:active"})
	if k2.Alg != "ES256" {
		t.Errorf("k2 = %+v", k2)
	}
	res := e.raw(t, "GET", "/admin/keys", "")
	if strings.Contains(res.body, "sealed") || strings.Contains(res.body, "c2VhbGVk") {
		t.Errorf("key list shows the sealed key: %s", res.body)
	}
	for _, alg := range []string{"", "HS256", "none", "rs256"} {
		_, err := e.client.RotateKey(ctx, alg)
		wantAPIError(t, err, 400, codeInvalidRequest, "alg")
	}
	if keys, _ := e.api.Keys.List(ctx); len(keys) != 2 {
		t.Errorf("rejected rotations made keys: %d", len(keys))
	}
}

func TestRequestBody(t *testing.T) {
	e := newEnv(t)
	good := `{"client_name":"x","redirect_uris":["https://rp.example/cb"]}`
	tests := []struct {
		name, contentType, body string
		status                  int
		fragment                string
	}{
		{"no content type", "", good, 415, "Content-Type"},
		{"form", "application/x-www-form-urlencoded", "client_name=x", 415, "Content-Type"},
		{"text", "text/plain", good, 415, "Content-Type"},
		{"json with charset", "application/json; charset=utf-8", good, 201, ""},
		{"empty", "application/json", "", 400, "empty"},
		{"not json", "application/json", "{nope", 400, "JSON"},
		{"truncated", "application/json", `{"client_name":"x"`, 400, "JSON"},
		{"array", "application/json", `[1]`, 400, "object"},
		{"two objects", "application/json", good + good, 400, "one JSON object"},
		{"unknown field", "application/json", `{"client_name":"x","redirect_uris":["https://rp.example/cb"],"client_secret":"mine"}`, 400, `"client_secret"`},
		{"unknown field id", "application/json", `{"client_id":"mine","client_name":"x","redirect_uris":["https://rp.example/cb"]}`, 400, `"client_id"`},
		{"wrong type", "application/json", `{"client_name":"x","redirect_uris":"https://rp.example/cb"}`, 400, "redirect_uris"},
		{"too large", "application/json", `{"client_name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.rawWith(t, "POST", "/admin/clients", tt.contentType, "Bearer "+testToken, tt.body)
			if res.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.status, tt.status, res.body)
			}
			if tt.status >= 400 {
				var er adminclient.ErrorResponse
				if err := json.Unmarshal([]byte(res.body), &er); err != nil || er.Code != codeInvalidRequest || !strings.Contains(er.Description, tt.fragment) {
					t.Errorf("body %s, want invalid_request mentioning %q", res.body, tt.fragment)
				}
				if strings.Contains(res.body, "json:") {
					t.Errorf("body quotes the decoder: %s", res.body)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	err := (&API{}).Check()
	if err == nil {
		t.Fatal("Check of an empty API passed")
	}
	for _, f := range []string{"Clients", "Accounts", "Token", "Secrets", "Passwords", "Normalize", "Keys", "KnownScopes", "NewID"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("Check does not report %s: %v", f, err)
		}
	}
	if err := newEnv(t).api.Check(); err != nil {
		t.Errorf("Check of a full API: %v", err)
	}
}

func TestLogs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const password = "hunter2-very-secret"
	c, err := e.client.CreateClient(ctx, adminclient.ClientMetadata{ClientName: "x", RedirectURIs: []string{"https://rp.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.client.RotateClientSecret(ctx, c.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.client.CreateAccount(ctx, adminclient.NewAccount{Phone: "+79990001122", Password: password, LastName: "П", FirstName: "П"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteClient(ctx, c.ClientID); err != nil {
		t.Fatal(err)
	}
	e.rawWith(t, "GET", "/admin/clients", "", "Bearer wrong-token-value", "")
	logs := e.logs.String()
	for _, want := range []string{"client created", "client secret rotated", "account created", "client deleted", c.ClientID, a.ID, "wrong token"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{c.ClientSecret, r.ClientSecret, password, "+79990001122", testToken, "wrong-token-value"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs hold %q:\n%s", secret, logs)
		}
	}
}

func TestRoutesMatchMethods(t *testing.T) {
	e := newEnv(t)
	for _, rt := range []struct{ method, path string }{{"PATCH", "/admin/clients/x"}, {"DELETE", "/admin/clients"}, {"GET", "/admin/keys/rotate"}} {
		if res := e.raw(t, rt.method, rt.path, ""); res.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 405", rt.method, rt.path, res.status)
		}
	}
}

func TestAccountPasswordPolicy(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.CreateAccount(context.Background(), adminclient.NewAccount{Phone: "+79990001133", Password: "short", LastName: "П", FirstName: "П"})
	wantAPIError(t, err, 400, codeInvalidRequest, "password")
}

func ptr[T any](v T) *T { return &v }

// TestSubjectTypeAndPKCESettings: pairwise subjects by default with a salt
// that never changes, public on request; PKCE required unless a
// confidential client opts out explicitly, and a PUT that omits either keeps
// it (a PUT must not change every sub a relying party stored).
func TestSubjectTypeAndPKCESettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := adminclient.ClientMetadata{ClientName: "RP", RedirectURIs: []string{"https://rp.example/cb"}}

	pw, err := e.client.CreateClient(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.GetClient(ctx, pw.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.SubjectType != store.SubjectPairwise || len(stored.SubjectSalt) < 32 || stored.PKCEOptional {
		t.Fatalf("default client: subject %q, salt %d bytes, pkce optional %v", stored.SubjectType, len(stored.SubjectSalt), stored.PKCEOptional)
	}
	other, err := e.client.CreateClient(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := e.store.GetClient(ctx, other.ClientID); bytes.Equal(o.SubjectSalt, stored.SubjectSalt) {
		t.Error("two clients share a pairwise salt")
	}
	// PUT without subject_type or require_pkce keeps both, and the salt.
	if _, err := e.client.UpdateClient(ctx, pw.ClientID, adminclient.ClientMetadata{ClientName: "RP 2", RedirectURIs: []string{"https://rp.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	after, _ := e.store.GetClient(ctx, pw.ClientID)
	if after.SubjectType != store.SubjectPairwise || !bytes.Equal(after.SubjectSalt, stored.SubjectSalt) {
		t.Errorf("PUT changed the subject: %q", after.SubjectType)
	}

	pub := base
	pub.SubjectType = "public"
	pub.RequirePKCE = ptr(false)
	created, err := e.client.CreateClient(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if created.SubjectType != "public" || created.RequirePKCE == nil || *created.RequirePKCE {
		t.Fatalf("public legacy client: %+v", created.ClientMetadata)
	}
	// A PUT that omits require_pkce keeps the opt-out; one that sends true ends it.
	if got, err := e.client.UpdateClient(ctx, created.ClientID, base); err != nil || *got.RequirePKCE || got.SubjectType != "public" {
		t.Fatalf("PUT without require_pkce: %+v %v", got, err)
	}
	on := base
	on.RequirePKCE = ptr(true)
	if got, err := e.client.UpdateClient(ctx, created.ClientID, on); err != nil || !*got.RequirePKCE {
		t.Fatalf("PUT require_pkce true: %+v %v", got, err)
	}

	// A public client, or one without the code flow, cannot skip PKCE.
	bad := base
	bad.TokenEndpointAuthMethod, bad.RequirePKCE = "none", ptr(false)
	_, err = e.client.CreateClient(ctx, bad)
	wantAPIError(t, err, 400, codeInvalidClientMetadata, "require_pkce")
	bad = adminclient.ClientMetadata{ClientName: "M2M", GrantTypes: []string{"client_credentials"}, RequirePKCE: ptr(false)}
	_, err = e.client.CreateClient(ctx, bad)
	wantAPIError(t, err, 400, codeInvalidClientMetadata, "require_pkce")
	bad = base
	bad.SubjectType = "sector"
	_, err = e.client.CreateClient(ctx, bad)
	wantAPIError(t, err, 400, codeInvalidClientMetadata, "subject_type")
	// The subject type never changes (saying it again is fine).
	toPairwise := base
	toPairwise.SubjectType = "pairwise"
	_, err = e.client.UpdateClient(ctx, created.ClientID, toPairwise)
	wantAPIError(t, err, 400, codeInvalidClientMetadata, "subject_type")
	samePublic := base
	samePublic.SubjectType = "public"
	if _, err := e.client.UpdateClient(ctx, created.ClientID, samePublic); err != nil {
		t.Errorf("PUT repeating the subject type: %v", err)
	}
	// A confidential legacy client made public keeps no opt-out.
	legacy := base
	legacy.RequirePKCE = ptr(false)
	lc, err := e.client.CreateClient(ctx, legacy)
	if err != nil {
		t.Fatal(err)
	}
	toPublic := base
	toPublic.TokenEndpointAuthMethod = "none"
	_, err = e.client.UpdateClient(ctx, lc.ClientID, toPublic)
	wantAPIError(t, err, 400, codeInvalidClientMetadata, "require_pkce")
}

// downAccounts and downClients fail every call as a store that cannot be
// reached does.
type downAccounts struct{ store.Accounts }

func (downAccounts) FindAccount(context.Context, store.IdentifierKind, string) (*store.Account, error) {
	return nil, fmt.Errorf("postgres: find account: %w: connection refused", store.ErrUnavailable)
}

func (downAccounts) GetAccount(context.Context, string) (*store.Account, error) {
	return nil, fmt.Errorf("postgres: get account: %w: connection refused", store.ErrUnavailable)
}

type downClients struct{ store.Clients }

func (downClients) CreateClient(context.Context, *store.Client) error {
	return fmt.Errorf("postgres: create client: %w: connection refused", store.ErrUnavailable)
}

// TestStoreDown: while the database is down, calls that need it answer 503
// temporarily_unavailable with Retry-After (the same call may pass once it
// is back), never a 500, and tell nothing of the cause; other failures are
// still 500.
func TestStoreDown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.api.Accounts = downAccounts{e.store}
	e.api.Clients = downClients{e.store}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/admin/accounts", `{"email":"a@example.ru","password":"correct horse","last_name":"П","first_name":"П"}`},
		{"GET", "/admin/accounts/id-1", ""},
		{"POST", "/admin/clients", `{"client_name":"x","redirect_uris":["https://rp.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`},
	} {
		r := e.raw(t, c.method, c.path, c.body)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: %d, Retry-After %q; want 503 with Retry-After", c.method, c.path, r.status, r.header.Get("Retry-After"))
		}
		if !strings.Contains(r.body, "temporarily_unavailable") || strings.Contains(r.body, "connection refused") || strings.Contains(r.body, "postgres") {
			t.Errorf("%s %s: body %s", c.method, c.path, r.body)
		}
	}
	_, err := e.client.GetAccount(ctx, "id-1")
	wantAPIError(t, err, http.StatusServiceUnavailable, "temporarily_unavailable")
	if !strings.Contains(e.logs.String(), "connection refused") {
		t.Error("the cause was not logged")
	}
}

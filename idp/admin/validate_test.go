package admin

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

// valid is a minimal valid registration for the authorization code flow.
func valid() adminclient.ClientMetadata {
	return adminclient.ClientMetadata{ClientName: "Portal", RedirectURIs: []string{"https://rp.example/callback"}}
}

func with(f func(*adminclient.ClientMetadata)) adminclient.ClientMetadata {
	m := valid()
	f(&m)
	return m
}

func TestClientMetadataRejected(t *testing.T) {
	tests := []struct {
		name  string
		m     adminclient.ClientMetadata
		code  string
		field string // the description must name it
	}{
		{"name missing", with(func(m *adminclient.ClientMetadata) { m.ClientName = "" }), codeInvalidClientMetadata, "client_name"},
		{"name blank", with(func(m *adminclient.ClientMetadata) { m.ClientName = "   " }), codeInvalidClientMetadata, "client_name"},
		{"name too long", with(func(m *adminclient.ClientMetadata) { m.ClientName = strings.Repeat("я", 201) }), codeInvalidClientMetadata, "client_name"},
		{"name control char", with(func(m *adminclient.ClientMetadata) { m.ClientName = "Portal\n2" }), codeInvalidClientMetadata, "client_name"},

		{"redirect_uris missing for code", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = nil }), codeInvalidRedirectURI, "redirect_uris"},
		{"redirect relative", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"/callback"} }), codeInvalidRedirectURI, "redirect_uris[0]"},
		{"redirect no host", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"https:///callback"} }), codeInvalidRedirectURI, "redirect_uris[0]"},
		{"redirect fragment", with(func(m *adminclient.ClientMetadata) {
			m.RedirectURIs = []string{"https://rp.example/ok", "https://rp.example/cb#frag"}
		}), codeInvalidRedirectURI, "redirect_uris[1]"},
		{"redirect empty fragment", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"https://rp.example/cb#"} }), codeInvalidRedirectURI, "fragment"},
		{"redirect http non-loopback", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"http://rp.example/cb"} }), codeInvalidRedirectURI, "https"},
		{"redirect http lookalike loopback", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"http://127.0.0.1.evil.example/cb"} }), codeInvalidRedirectURI, "https"},
		{"redirect custom scheme", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"com.example.app:/cb"} }), codeInvalidRedirectURI, "custom schemes are not supported"},
		{"redirect wildcard host", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"https://*.rp.example/cb"} }), codeInvalidRedirectURI, "wildcard"},
		{"redirect wildcard path", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"https://rp.example/*"} }), codeInvalidRedirectURI, "wildcard"},
		{"redirect user info", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"https://user:pw@rp.example/cb"} }), codeInvalidRedirectURI, "user information"},
		{"redirect space", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"https://rp.example/a b"} }), codeInvalidRedirectURI, "spaces"},
		{"redirect javascript", with(func(m *adminclient.ClientMetadata) { m.RedirectURIs = []string{"javascript:alert(1)"} }), codeInvalidRedirectURI, "redirect_uris[0]"},

		{"post logout fragment", with(func(m *adminclient.ClientMetadata) { m.PostLogoutRedirectURIs = []string{"https://rp.example/bye#x"} }), codeInvalidRedirectURI, "post_logout_redirect_uris[0]"},
		{"post logout http", with(func(m *adminclient.ClientMetadata) { m.PostLogoutRedirectURIs = []string{"http://rp.example/bye"} }), codeInvalidRedirectURI, "post_logout_redirect_uris[0]"},
		{"post logout wildcard", with(func(m *adminclient.ClientMetadata) { m.PostLogoutRedirectURIs = []string{"https://rp.example/*"} }), codeInvalidRedirectURI, "post_logout_redirect_uris[0]"},
		{"post logout relative", with(func(m *adminclient.ClientMetadata) { m.PostLogoutRedirectURIs = []string{"bye"} }), codeInvalidRedirectURI, "post_logout_redirect_uris[0]"},

		{"grant unknown", with(func(m *adminclient.ClientMetadata) { m.GrantTypes = []string{"password"} }), codeInvalidClientMetadata, "grant_types"},
		{"grant implicit", with(func(m *adminclient.ClientMetadata) { m.GrantTypes = []string{"authorization_code", "implicit"} }), codeInvalidClientMetadata, "grant_types"},
		{"refresh without code", with(func(m *adminclient.ClientMetadata) {
			m.GrantTypes = []string{"client_credentials", "refresh_token"}
		}), codeInvalidClientMetadata, "refresh_token"},

		{"response type token", with(func(m *adminclient.ClientMetadata) { m.ResponseTypes = []string{"token"} }), codeInvalidClientMetadata, "response_types"},
		{"response type id_token", with(func(m *adminclient.ClientMetadata) { m.ResponseTypes = []string{"code", "id_token"} }), codeInvalidClientMetadata, "response_types"},
		{"response code without grant", adminclient.ClientMetadata{
			ClientName: "Batch", GrantTypes: []string{"client_credentials"}, ResponseTypes: []string{"code"},
		}, codeInvalidClientMetadata, "response_types"},

		{"auth method unknown", with(func(m *adminclient.ClientMetadata) { m.TokenEndpointAuthMethod = "client_secret_jwt" }), codeInvalidClientMetadata, "token_endpoint_auth_method"},
		{"public client credentials", adminclient.ClientMetadata{
			ClientName: "Batch", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "none",
		}, codeInvalidClientMetadata, "client_credentials"},

		{"scope unknown", with(func(m *adminclient.ClientMetadata) { m.Scope = "openid teleport" }), codeInvalidClientMetadata, "teleport"},

		{"min_level unknown", with(func(m *adminclient.ClientMetadata) { m.MinLevel = "gold" }), codeInvalidClientMetadata, "min_level"},

		{"backchannel http", with(func(m *adminclient.ClientMetadata) { m.BackchannelLogoutURI = "http://rp.example/bc" }), codeInvalidClientMetadata, "backchannel_logout_uri"},
		{"backchannel relative", with(func(m *adminclient.ClientMetadata) { m.BackchannelLogoutURI = "/bc" }), codeInvalidClientMetadata, "backchannel_logout_uri"},
		{"backchannel fragment", with(func(m *adminclient.ClientMetadata) { m.BackchannelLogoutURI = "https://rp.example/bc#x" }), codeInvalidClientMetadata, "backchannel_logout_uri"},

		{"id token alg HS256", with(func(m *adminclient.ClientMetadata) { m.IDTokenSignedResponseAlg = "HS256" }), codeInvalidClientMetadata, "id_token_signed_response_alg"},
		{"id token alg none", with(func(m *adminclient.ClientMetadata) { m.IDTokenSignedResponseAlg = "none" }), codeInvalidClientMetadata, "id_token_signed_response_alg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := clientFromMetadata(tt.m, knownScope)
			if p == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if p.status != 400 || p.code != tt.code {
				t.Errorf("got %d %s, want 400 %s", p.status, p.code, tt.code)
			}
			if !strings.Contains(p.description, tt.field) {
				t.Errorf("description %q does not name %q", p.description, tt.field)
			}
		})
	}
}

func TestClientMetadataAccepted(t *testing.T) {
	tests := []struct {
		name  string
		m     adminclient.ClientMetadata
		check func(t *testing.T, c *store.Client)
	}{
		{"defaults", valid(), func(t *testing.T, c *store.Client) {
			eq(t, "grant_types", c.GrantTypes, []string{"authorization_code"})
			eq(t, "response_types", c.ResponseTypes, []string{"code"})
			eq(t, "scopes", c.Scopes, []string{"openid"})
			if c.TokenEndpointAuthMethod != "client_secret_basic" || c.Public() {
				t.Errorf("auth method %q", c.TokenEndpointAuthMethod)
			}
			if c.MinLevel != "" || c.IDTokenSignedResponseAlg != "" {
				t.Errorf("min_level %q alg %q, want empty", c.MinLevel, c.IDTokenSignedResponseAlg)
			}
		}},
		{"loopback http", with(func(m *adminclient.ClientMetadata) {
			m.RedirectURIs = []string{"http://127.0.0.1:8081/callback", "http://[::1]:9000/cb", "http://localhost/cb?x=1"}
			m.PostLogoutRedirectURIs = []string{"http://localhost:8081/"}
			m.BackchannelLogoutURI = "http://127.0.0.1:8081/backchannel"
		}), func(t *testing.T, c *store.Client) {
			eq(t, "redirect_uris", c.RedirectURIs, []string{"http://127.0.0.1:8081/callback", "http://[::1]:9000/cb", "http://localhost/cb?x=1"})
			if c.BackchannelLogoutURI != "http://127.0.0.1:8081/backchannel" {
				t.Errorf("backchannel %q", c.BackchannelLogoutURI)
			}
		}},
		{"public client, everything set", adminclient.ClientMetadata{
			ClientName:               "  Каталог услуг  ",
			RedirectURIs:             []string{"https://rp.example/cb", "https://rp.example/cb"},
			PostLogoutRedirectURIs:   []string{"https://rp.example/bye"},
			GrantTypes:               []string{"authorization_code", "refresh_token"},
			ResponseTypes:            []string{"code"},
			Scope:                    " openid  profile snils openid ",
			TokenEndpointAuthMethod:  "none",
			BackchannelLogoutURI:     "https://rp.example/bc",
			MinLevel:                 "standard",
			IDTokenSignedResponseAlg: "ES256",
		}, func(t *testing.T, c *store.Client) {
			if c.Name != "Каталог услуг" || !c.Public() || c.MinLevel != store.LevelStandard || c.IDTokenSignedResponseAlg != "ES256" {
				t.Errorf("got %+v", c)
			}
			eq(t, "redirect_uris", c.RedirectURIs, []string{"https://rp.example/cb"})
			eq(t, "scopes", c.Scopes, []string{"openid", "profile", "snils"})
			eq(t, "grant_types", c.GrantTypes, []string{"authorization_code", "refresh_token"})
		}},
		{"client credentials only", adminclient.ClientMetadata{
			ClientName: "Batch", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_post",
		}, func(t *testing.T, c *store.Client) {
			if len(c.ResponseTypes) != 0 || len(c.RedirectURIs) != 0 {
				t.Errorf("response_types %v redirect_uris %v, want none", c.ResponseTypes, c.RedirectURIs)
			}
		}},
		{"name of 200 characters", with(func(m *adminclient.ClientMetadata) { m.ClientName = strings.Repeat("я", 200) }), func(t *testing.T, c *store.Client) {
			if len([]rune(c.Name)) != 200 {
				t.Errorf("name has %d characters", len([]rune(c.Name)))
			}
		}},
		{"every level", with(func(m *adminclient.ClientMetadata) { m.MinLevel = "confirmed" }), func(t *testing.T, c *store.Client) {
			if c.MinLevel != store.LevelConfirmed {
				t.Errorf("min_level %q", c.MinLevel)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := clientFromMetadata(tt.m, knownScope)
			if p != nil {
				t.Fatalf("rejected: %v", p)
			}
			tt.check(t, c)
		})
	}
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func TestNewAccountValidation(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	base := func() adminclient.NewAccount {
		return adminclient.NewAccount{Phone: "8 (999) 123-45-67", Password: "correct horse", LastName: "Иванов", FirstName: "Иван"}
	}
	mod := func(f func(*adminclient.NewAccount)) adminclient.NewAccount {
		a := base()
		f(&a)
		return a
	}
	bad := []struct {
		name  string
		req   adminclient.NewAccount
		field string
	}{
		{"no identifier", mod(func(a *adminclient.NewAccount) { a.Phone = "" }), "phone, email or snils"},
		{"bad phone", mod(func(a *adminclient.NewAccount) { a.Phone = "555" }), "phone"},
		{"bad email", mod(func(a *adminclient.NewAccount) { a.Email = "nobody" }), "email"},
		{"bad snils", mod(func(a *adminclient.NewAccount) { a.SNILS = "123" }), "snils"},
		{"no password", mod(func(a *adminclient.NewAccount) { a.Password = "" }), "password"},
		{"huge password", mod(func(a *adminclient.NewAccount) { a.Password = strings.Repeat("x", 1025) }), "password"},
		{"no last name", mod(func(a *adminclient.NewAccount) { a.LastName = " " }), "last_name"},
		{"no first name", mod(func(a *adminclient.NewAccount) { a.FirstName = "" }), "first_name"},
		{"long middle name", mod(func(a *adminclient.NewAccount) { a.MiddleName = strings.Repeat("и", 201) }), "middle_name"},
		{"control char", mod(func(a *adminclient.NewAccount) { a.FirstName = "Ив\x00ан" }), "first_name"},
		{"bad level", mod(func(a *adminclient.NewAccount) { a.Level = "gold" }), "level"},
		{"bad birthdate", mod(func(a *adminclient.NewAccount) { a.Birthdate = "01.02.1990" }), "birthdate"},
		{"impossible birthdate", mod(func(a *adminclient.NewAccount) { a.Birthdate = "1990-02-30" }), "birthdate"},
		{"future birthdate", mod(func(a *adminclient.NewAccount) { a.Birthdate = "2025-03-02" }), "birthdate"},
		{"bad gender", mod(func(a *adminclient.NewAccount) { a.Gender = "X" }), "gender"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			acc, p := accountFromRequest(tt.req, fakeNormalize, now)
			if p == nil {
				t.Fatalf("accepted: %+v", acc)
			}
			if p.status != 400 || p.code != codeInvalidRequest || !strings.Contains(p.description, tt.field) {
				t.Errorf("got %d %s %q, want 400 invalid_request naming %q", p.status, p.code, p.description, tt.field)
			}
			if strings.Contains(p.description, "normalize:") || (tt.req.Phone != "" && strings.Contains(p.description, tt.req.Phone)) {
				t.Errorf("description %q echoes the value or the normalizer's error", p.description)
			}
		})
	}

	acc, p := accountFromRequest(mod(func(a *adminclient.NewAccount) {
		a.Email = "Ivan@Example.RU"
		a.SNILS = "112-233-445 95"
		a.MiddleName = " Иванович "
		a.Birthdate = "1990-02-28"
		a.Gender = "M"
	}), fakeNormalize, now)
	if p != nil {
		t.Fatalf("rejected: %v", p)
	}
	want := store.Account{
		Level: store.LevelSimplified, LastName: "Иванов", FirstName: "Иван", MiddleName: "Иванович",
		Birthdate: "1990-02-28", Gender: "M", Phone: "+79991234567", Email: "ivan@example.ru", SNILS: "11223344595",
		PhoneVerified: true, EmailVerified: true,
	}
	if !reflect.DeepEqual(*acc, want) {
		t.Errorf("account = %+v\nwant %+v", *acc, want)
	}
}

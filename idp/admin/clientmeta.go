package admin

import (
	"crypto/rand"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

// Values a client may register.
var (
	grantTypes  = []string{"authorization_code", "refresh_token", "client_credentials"}
	authMethods = []string{"client_secret_basic", "client_secret_post", "none"}
	idTokenAlgs = []string{"", "RS256", "ES256"}
)

const maxClientName = 200

// clientFromMetadata validates registration metadata (RFC 7591 section 2)
// and returns the client it describes, defaults filled in. Only the
// metadata fields of the result are set.
func clientFromMetadata(m adminclient.ClientMetadata, knownScope func(string) bool) (*store.Client, *problem) {
	c := &store.Client{
		Name:                     strings.TrimSpace(m.ClientName),
		TokenEndpointAuthMethod:  m.TokenEndpointAuthMethod,
		BackchannelLogoutURI:     m.BackchannelLogoutURI,
		MinLevel:                 store.Level(m.MinLevel),
		RequireMFA:               m.RequireMFA,
		IDTokenSignedResponseAlg: m.IDTokenSignedResponseAlg,
		SubjectType:              store.SubjectType(m.SubjectType),
		PKCEOptional:             m.RequirePKCE != nil && !*m.RequirePKCE,
	}

	switch n := utf8.RuneCountInString(c.Name); {
	case n == 0:
		return nil, badMetadata("client_name is required")
	case n > maxClientName:
		return nil, badMetadata("client_name is longer than %d characters", maxClientName)
	case strings.ContainsFunc(c.Name, unicode.IsControl):
		return nil, badMetadata("client_name must not hold control characters")
	}

	c.GrantTypes = dedupe(m.GrantTypes)
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{"authorization_code"}
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(grantTypes, g) {
			return nil, badMetadata("grant_types: %q is not supported (use %s)", g, strings.Join(grantTypes, ", "))
		}
	}
	authCode := slices.Contains(c.GrantTypes, "authorization_code")
	if slices.Contains(c.GrantTypes, "refresh_token") && !authCode {
		return nil, badMetadata("grant_types: refresh_token needs authorization_code")
	}

	// RFC 7591 section 2.1: response_types and grant_types must agree.
	c.ResponseTypes = dedupe(m.ResponseTypes)
	if len(c.ResponseTypes) == 0 && authCode {
		c.ResponseTypes = []string{"code"}
	}
	for _, rt := range c.ResponseTypes {
		if rt != "code" {
			return nil, badMetadata("response_types: %q is not supported (use code)", rt)
		}
	}
	if authCode != slices.Contains(c.ResponseTypes, "code") {
		if authCode {
			return nil, badMetadata("response_types must include code when grant_types includes authorization_code")
		}
		return nil, badMetadata("response_types code needs the authorization_code grant in grant_types")
	}

	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = "client_secret_basic"
	}
	if !slices.Contains(authMethods, c.TokenEndpointAuthMethod) {
		return nil, badMetadata("token_endpoint_auth_method: %q is not supported (use %s)", c.TokenEndpointAuthMethod, strings.Join(authMethods, ", "))
	}
	if c.Public() && slices.Contains(c.GrantTypes, "client_credentials") {
		return nil, badMetadata("grant_types: a public client (token_endpoint_auth_method none) cannot use client_credentials")
	}

	c.RedirectURIs = dedupe(m.RedirectURIs)
	if authCode && len(c.RedirectURIs) == 0 {
		return nil, badRedirect("redirect_uris is required for the authorization_code grant")
	}
	for i, u := range c.RedirectURIs {
		if msg := checkURI(u); msg != "" {
			return nil, badRedirect("redirect_uris[%d] %s", i, msg)
		}
	}
	c.PostLogoutRedirectURIs = dedupe(m.PostLogoutRedirectURIs)
	for i, u := range c.PostLogoutRedirectURIs {
		if msg := checkURI(u); msg != "" {
			return nil, badRedirect("post_logout_redirect_uris[%d] %s", i, msg)
		}
	}
	if c.BackchannelLogoutURI != "" {
		if msg := checkURI(c.BackchannelLogoutURI); msg != "" {
			return nil, badMetadata("backchannel_logout_uri %s", msg)
		}
	}

	c.Scopes = dedupe(strings.Fields(m.Scope))
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid"}
	}
	for _, s := range c.Scopes {
		if !knownScope(s) {
			return nil, badMetadata("scope: %q is not a known scope", s)
		}
	}

	if c.MinLevel != "" && !c.MinLevel.Valid() {
		return nil, badMetadata("min_level: %q is not a level (use simplified, standard or confirmed)", m.MinLevel)
	}
	if !slices.Contains(idTokenAlgs, c.IDTokenSignedResponseAlg) {
		return nil, badMetadata("id_token_signed_response_alg: %q is not supported (use RS256 or ES256)", c.IDTokenSignedResponseAlg)
	}
	switch c.SubjectType {
	case "", store.SubjectPublic, store.SubjectPairwise:
	default:
		return nil, badMetadata("subject_type: %q is not supported (use pairwise or public)", m.SubjectType)
	}
	if c.PKCEOptional && (c.Public() || !authCode) {
		// RFC 9700 §2.1.1: a public client always proves possession with
		// PKCE; the opt-out exists only for confidential legacy clients.
		return nil, badMetadata("require_pkce: only a confidential client of the authorization_code grant may be registered without PKCE")
	}
	return c, nil
}

// applyDefaults fills what a new registration leaves out: pairwise subjects
// (OpenID Connect Core §8) unless the client asks for the shared public sub.
func applyDefaults(c *store.Client) {
	if c.SubjectType == "" {
		c.SubjectType = store.SubjectPairwise
	}
}

// pairwiseSaltBytes is the length of a client's pairwise salt.
const pairwiseSaltBytes = 32

// ensureSalt gives a pairwise client its salt, once: a salt that changed
// would change every sub the client has stored.
func ensureSalt(c *store.Client) error {
	if !c.Pairwise() || len(c.SubjectSalt) > 0 {
		return nil
	}
	c.SubjectSalt = make([]byte, pairwiseSaltBytes)
	_, err := rand.Read(c.SubjectSalt)
	return err
}

// checkURI returns what is wrong with a redirect or logout URI, or "". Only
// https is allowed, and http on a loopback host for development and native
// apps (RFC 8252 section 7.3); custom private-use schemes are not supported
// yet. Redirect URIs are matched exactly, so wildcards are refused.
func checkURI(raw string) string {
	const schemes = "must use https (http only on a loopback host: 127.0.0.1, [::1], localhost; custom schemes are not supported)"
	if strings.Contains(raw, "*") {
		return "must not contain a wildcard (*)"
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "must not contain spaces or control characters"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URI"
	}
	switch {
	case !u.IsAbs():
		return "must be an absolute URI"
	case u.Scheme != "https" && u.Scheme != "http":
		return schemes
	case u.Hostname() == "":
		return "must have a host"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not contain a fragment"
	case u.User != nil:
		return "must not contain user information"
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return schemes
	}
	return ""
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// dedupe returns the values without repeats, in order of first appearance.
func dedupe(values []string) []string {
	var out []string
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// setMetadata copies the metadata fields of src onto dst. A subject type
// left empty, and a PKCE requirement not given (pkceGiven false), keep
// dst's (the caller refuses a subject type that differs: it never changes).
func setMetadata(dst, src *store.Client, pkceGiven bool) {
	dst.Name = src.Name
	dst.RedirectURIs = src.RedirectURIs
	dst.PostLogoutRedirectURIs = src.PostLogoutRedirectURIs
	dst.GrantTypes = src.GrantTypes
	dst.ResponseTypes = src.ResponseTypes
	dst.Scopes = src.Scopes
	dst.TokenEndpointAuthMethod = src.TokenEndpointAuthMethod
	dst.BackchannelLogoutURI = src.BackchannelLogoutURI
	dst.MinLevel = src.MinLevel
	dst.RequireMFA = src.RequireMFA
	dst.IDTokenSignedResponseAlg = src.IDTokenSignedResponseAlg
	if src.SubjectType != "" {
		dst.SubjectType = src.SubjectType
	}
	if pkceGiven {
		dst.PKCEOptional = src.PKCEOptional
	}
}

// clientInfo is the answer for a stored client, without its secret.
func clientInfo(c *store.Client) adminclient.ClientInfo {
	requirePKCE := !c.PKCEOptional
	return adminclient.ClientInfo{
		ClientID:         c.ID,
		ClientIDIssuedAt: c.CreatedAt.Unix(),
		ClientMetadata: adminclient.ClientMetadata{
			ClientName:               c.Name,
			RedirectURIs:             c.RedirectURIs,
			PostLogoutRedirectURIs:   c.PostLogoutRedirectURIs,
			GrantTypes:               c.GrantTypes,
			ResponseTypes:            c.ResponseTypes,
			Scope:                    strings.Join(c.Scopes, " "),
			TokenEndpointAuthMethod:  c.TokenEndpointAuthMethod,
			BackchannelLogoutURI:     c.BackchannelLogoutURI,
			MinLevel:                 string(c.MinLevel),
			RequireMFA:               c.RequireMFA,
			IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
			SubjectType:              string(subjectType(c)),
			RequirePKCE:              &requirePKCE,
		},
	}
}

// subjectType is the client's subject type, public when it has none.
func subjectType(c *store.Client) store.SubjectType {
	if c.SubjectType == "" {
		return store.SubjectPublic
	}
	return c.SubjectType
}

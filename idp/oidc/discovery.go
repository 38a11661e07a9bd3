package oidc

import (
	"encoding/json"
	"net/http"

	"github.com/esia-oidc/idp/consent"
)

// The acr values are the levels, alone or with -mfa (consent.ACR): a client
// asks for a minimum account level, and for a second factor, with
// acr_values; the ID token's acr names the level the account had and
// whether a second factor was proven.
var acrValues = consent.ACRValues()

// discovery builds the OpenID Provider Metadata (OpenID Connect Discovery
// 1.0 §3, RFC 8414, RFC 9207 §3).
func (p *Provider) discovery() ([]byte, error) {
	iss := p.issuer
	claims := append([]string{"iss", "aud", "exp", "iat", "nonce"}, consent.ClaimNames()...)
	doc := map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         iss + "/authorize",
		"token_endpoint":                                 iss + "/token",
		"userinfo_endpoint":                              iss + "/userinfo",
		"jwks_uri":                                       iss + "/jwks",
		"end_session_endpoint":                           iss + "/logout",
		"introspection_endpoint":                         iss + "/introspect",
		"revocation_endpoint":                            iss + "/revoke",
		"scopes_supported":                               consent.Names(),
		"claims_supported":                               claims,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                        []string{"pairwise", "public"},
		"id_token_signing_alg_values_supported":          []string{"RS256", "ES256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic"},
		"revocation_endpoint_auth_methods_supported":     []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":               []string{"S256"},
		"acr_values_supported":                           acrValues,
		"prompt_values_supported":                        []string{"none", "login", "consent"},
		"ui_locales_supported":                           []string{"ru", "en"},
		"claims_parameter_supported":                     true,
		"verified_claims_supported":                      true,
		"trust_frameworks_supported":                     []string{consent.TrustFramework},
		"evidence_supported":                             consent.EvidenceTypes,
		"documents_supported":                            []string{"passport", "foreign_document"},
		"claims_in_verified_claims_supported":            consent.VerifiableClaims,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"authorization_response_iss_parameter_supported": true,
		"frontchannel_logout_supported":                  false,
		"backchannel_logout_supported":                   true,
		"backchannel_logout_session_supported":           true,
	}
	return json.MarshalIndent(doc, "", "  ")
}

// handleDiscovery serves the provider's metadata, at OpenID Connect
// Discovery's path and at RFC 8414's. Like the JWKS it is public and read
// by relying parties running in browsers, so any origin may fetch it (no
// credentials are involved).
func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(p.discover)
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	// Short: a rotated key must reach relying parties before it signs.
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(p.cfg.Keys.JWKS())
}

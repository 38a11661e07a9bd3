package consent

import (
	"slices"
	"strings"
	"time"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/store"
)

// Verified claims (OpenID Connect for Identity Assurance 1.0): the claims
// about a citizen's identity that a check vouches for are released, besides
// their plain form, inside a verified_claims object that says how they were
// checked, so a relying party can tell a SNILS checked against the state
// registries from one the citizen typed.

// TrustFramework is the trust framework of every verification here: the
// ESIA-style rules of this provider (standard: personal data checked
// against the state registries; confirmed: identity proven in person at a
// service centre, by a letter code, a bank or a qualified signature).
const TrustFramework = "ru_esia"

// VerifiableClaims are the claims a registry check vouches for, in the
// order they are documented (discovery's claims_in_verified_claims_supported).
var VerifiableClaims = []string{"family_name", "given_name", "middle_name", "name", "birthdate", "gender", "snils", "inn", "id_doc", "citizenship"}

// EvidenceTypes are the evidence types released (discovery's
// evidence_supported).
var EvidenceTypes = []string{"electronic_record", "document", "electronic_signature"}

// VerifiedRequest is what a claims request parameter asks of
// verified_claims (§5 of the specification): Claims, when not nil, the
// claims wanted inside it (else every one the grant releases); TrustFrameworks
// and AssuranceLevels, when not empty, the values accepted (a verification
// matching none of them is not released).
type VerifiedRequest struct {
	Claims          []string
	TrustFrameworks []string
	AssuranceLevels []string
}

// VerifiedClaims returns the verified_claims of the account for the
// granted scopes, or nil when its data are not verified now (no passed
// check, or changed since) or the grant releases none of the verified
// claims. req may be nil (released by the scopes alone).
func VerifiedClaims(a *store.Account, granted []string, req *VerifiedRequest) map[string]any {
	if !account.Verified(a) || a.Level.Rank() < store.LevelStandard.Rank() {
		return nil
	}
	if req != nil {
		if len(req.TrustFrameworks) > 0 && !slices.Contains(req.TrustFrameworks, TrustFramework) {
			return nil
		}
		if len(req.AssuranceLevels) > 0 && !slices.Contains(req.AssuranceLevels, string(a.Level)) {
			return nil
		}
	}
	released := Claims(a, granted)
	claims := map[string]any{}
	for _, name := range VerifiableClaims {
		v, ok := released[name]
		if !ok || (req != nil && req.Claims != nil && !slices.Contains(req.Claims, name)) {
			continue
		}
		claims[name] = v
	}
	if len(claims) == 0 {
		return nil
	}
	v := a.Verification
	verification := map[string]any{
		"trust_framework":      TrustFramework,
		"assurance_level":      string(a.Level),
		"time":                 v.DecidedAt.UTC().Format(time.RFC3339),
		"verification_process": v.ID,
	}
	var evidence []map[string]any
	for _, e := range account.CurrentEvidence(a) {
		if ev := evidenceOf(a, e); ev != nil {
			evidence = append(evidence, ev)
		}
	}
	if len(evidence) > 0 {
		verification["evidence"] = evidence
	}
	return map[string]any{"verification": verification, "claims": claims}
}

// evidenceOf describes one piece of evidence in the specification's terms:
//   - the registry check: an electronic record of the state registries,
//     checked against the authoritative source ("data");
//   - an operator: the identity document, checked in person ("vpip");
//   - a letter: a code sent by post to the citizen's address and typed
//     back, knowledge only its addressee has ("kbv");
//   - a bank: its record of a customer it identified in person ("vpip",
//     by the bank).
func evidenceOf(a *store.Account, e store.Evidence) map[string]any {
	at := e.At.UTC().Format(time.RFC3339)
	check := func(method, org string) []map[string]any {
		return []map[string]any{{"check_method": method, "organization": org, "txn": e.Ref, "time": at}}
	}
	switch e.Kind {
	case store.EvidenceRegistry:
		return map[string]any{
			"type": "electronic_record", "check_details": check("data", "state_registries"), "time": at,
			"record": map[string]any{"type": "state_registry", "source": map[string]any{"name": "state_registries", "country_code": "RUS"}},
		}
	case store.EvidenceOperator:
		doc := map[string]any{"type": "passport"}
		if a.Passport == nil {
			doc["type"] = "foreign_document"
		}
		return map[string]any{"type": "document", "check_details": check("vpip", "service_centre"), "time": at, "document_details": doc}
	case store.EvidenceLetter:
		return map[string]any{
			"type": "electronic_record", "check_details": check("kbv", "post"), "time": at,
			"record": map[string]any{"type": "postal_letter_code"},
		}
	case store.EvidenceBank:
		// The bank's record of a customer it identified in person; Ref is
		// "bank:" and the connector's id.
		return map[string]any{
			"type": "electronic_record", "check_details": check("vpip", "bank"), "time": at,
			"record": map[string]any{"type": "bank_account", "source": map[string]any{"name": strings.TrimPrefix(e.Ref, "bank:"), "country_code": "RUS"}},
		}
	case store.EvidenceSignature:
		return signatureEvidence(a, e, at)
	}
	return nil
}

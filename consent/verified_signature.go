package consent

import "github.com/esia-oidc/idp/store"

// signatureEvidence describes a confirmation by a qualified electronic
// signature (OpenID Connect for Identity Assurance, evidence type
// "electronic_signature"): the signature type "qes" (a qualified
// electronic signature), the certificate's issuer and serial number, when
// it was used. Ref is the certificate's fingerprint; the account's bound
// certificate of that fingerprint gives issuer and serial (a certificate
// unbound since still counts, without them).
func signatureEvidence(a *store.Account, e store.Evidence, at string) map[string]any {
	ev := map[string]any{
		"type":           "electronic_signature",
		"signature_type": "qes",
		"created_at":     at,
		"time":           at,
		"check_details":  []map[string]any{{"check_method": "pvr", "organization": "certification_centre", "txn": e.Ref, "time": at}},
	}
	if c := a.Factors.Certificate(e.Ref); c != nil {
		ev["issuer"] = c.Issuer
		ev["serial_number"] = c.Serial
	}
	return ev
}

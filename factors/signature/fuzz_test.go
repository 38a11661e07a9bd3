package signature_test

import (
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
)

// FuzzParsePerson: whatever certificate parses, reading its subject in the
// qualified profile never panics, and a person it returns has a SNILS of
// 11 digits.
func FuzzParsePerson(f *testing.F) {
	ca, err := devca.New("Fuzz CA", devca.KeyECDSA, "")
	if err != nil {
		f.Fatal(err)
	}
	for _, q := range []bool{false, true} {
		c, _, err := ca.Issue(citizen, devca.Options{Key: devca.KeyECDSA, Qualified: q})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.Raw)
	}
	f.Add(ca.Cert.Raw)
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		p, err := signature.ParsePerson(c)
		if err == nil && len(p.SNILS) != 11 {
			t.Fatalf("SNILS %q", p.SNILS)
		}
		_ = signature.Qualified(c)
		_ = signature.HardwareKey(c)
	})
}

// FuzzOpen: whatever text is pasted as a signature, reading it never
// panics and never accepts it without a signer.
func FuzzOpen(f *testing.F) {
	ca, err := devca.New("Fuzz CA", devca.KeyECDSA, "")
	if err != nil {
		f.Fatal(err)
	}
	cert, key, err := ca.Issue(citizen, devca.Options{Key: devca.KeyECDSA})
	if err != nil {
		f.Fatal(err)
	}
	challenge := []byte("login:idp.example:fuzz")
	cms, err := signature.SignCMS(challenge, cert, key)
	if err != nil {
		f.Fatal(err)
	}
	jws, err := signature.SignJWS(challenge, cert, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base64.StdEncoding.EncodeToString(cms))
	f.Add(jws)
	f.Add("-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----")
	f.Add("e30.e30.e30")
	f.Fuzz(func(t *testing.T, sig string) {
		signer, _, err := signature.Open(sig, challenge)
		if err == nil && signer == nil {
			t.Fatal("accepted without a signer")
		}
		if err != nil && signature.Reason(err) == "" {
			t.Fatalf("error without a refusal code: %v", err)
		}
	})
}

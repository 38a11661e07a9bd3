package signature_test

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
)

// A detached CMS signature made by another tool, as the page tells
// citizens: `openssl cms -sign -binary -outform DER`, base64, is read and
// verified; over another text it is "another challenge".
func TestOpenSSLSignature(t *testing.T) {
	ca, err := devca.New("Interop CA", devca.KeyRSA, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, keyType := range []string{devca.KeyRSA, devca.KeyECDSA} {
		t.Run(keyType, func(t *testing.T) {
			cert, key, err := ca.Issue(citizen, devca.Options{Key: keyType})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			k, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			challenge := signature.NewChallenge("idp.example")
			for name, write := range map[string]func(string) error{
				"cert.pem":      func(p string) error { return devca.WritePEM(p, 0o600, "CERTIFICATE", cert.Raw) },
				"key.pem":       func(p string) error { return devca.WritePEM(p, 0o600, "PRIVATE KEY", k) },
				"challenge.txt": func(p string) error { return os.WriteFile(p, []byte(challenge), 0o600) },
			} {
				if err := write(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			out, err := exec.Command("openssl", "cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256",
				"-in", filepath.Join(dir, "challenge.txt"), "-signer", filepath.Join(dir, "cert.pem"), "-inkey", filepath.Join(dir, "key.pem")).Output()
			if err != nil {
				t.Fatalf("openssl cms -sign (openssl is part of Debian's base system): %v", err)
			}
			sig := base64.StdEncoding.EncodeToString(out)
			signer, _, err := signature.Open(sig, []byte(challenge))
			if err != nil || !signer.Equal(cert) {
				t.Fatalf("Open: %v", err)
			}
			if _, _, err := signature.Open(sig, []byte(signature.NewChallenge("idp.example"))); !errors.Is(err, signature.ErrWrongChallenge) {
				t.Errorf("over another challenge: %v", err)
			}
			if d, ok := signature.SignedDigest(sig); !ok || len(d) != 32 {
				t.Errorf("SignedDigest %x %v", d, ok)
			}
		})
	}
}

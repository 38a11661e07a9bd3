package signature_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
)

// A SNILS whose control number holds (the Pension Fund's example).
const testSNILS = "11223344595"

var citizen = devca.Citizen{SNILS: "112-233-445 95", INN: "500100732259", LastName: "Иванова", FirstName: "Анна", MiddleName: "Сергеевна"}

// pki is a development centre served over HTTP (CRL and OCSP), with a
// counter of the OCSP requests and a switch that takes the responder down.
type pki struct {
	ca       *devca.CA
	srv      *httptest.Server
	ocspHits atomic.Int64
	crlHits  atomic.Int64
	ocspDown atomic.Bool
	crlDown  atomic.Bool
}

func newPKI(t *testing.T, keyType string) *pki {
	t.Helper()
	p := &pki{}
	var h http.Handler
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/ocsp"):
			p.ocspHits.Add(1)
			if p.ocspDown.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
		case r.URL.Path == "/crl":
			p.crlHits.Add(1)
			if p.crlDown.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	ca, err := devca.New("Test CA", keyType, p.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, h = ca, ca.Handler()
	return p
}

func (p *pki) issue(t *testing.T, o devca.Options) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	c, k, err := p.ca.Issue(citizen, o)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func (p *pki) verifier(failOpen bool) *signature.Verifier {
	return &signature.Verifier{
		Trust:      signature.NewTrustStore(p.ca.Cert),
		Revocation: &signature.Revocation{FailOpen: failOpen, Timeout: 2 * time.Second},
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	for _, keyType := range []string{devca.KeyRSA, devca.KeyECDSA} {
		t.Run(keyType, func(t *testing.T) {
			p := newPKI(t, keyType)
			other := newPKI(t, keyType)
			now := time.Now()
			good, _ := p.issue(t, devca.Options{Key: keyType, Qualified: true})
			soft, _ := p.issue(t, devca.Options{Key: keyType})
			kc1, _ := p.issue(t, devca.Options{Key: keyType, Qualified: true, Class: signature.OIDPolicyKC1})
			ka1, _ := p.issue(t, devca.Options{Key: keyType, Qualified: true, Class: signature.OIDPolicyKA1})
			expired, _ := p.issue(t, devca.Options{Key: keyType, NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(-1, 0, 0)})
			revoked, _ := p.issue(t, devca.Options{Key: keyType})
			p.ca.Revoke(revoked.SerialNumber)
			foreign, _ := other.issue(t, devca.Options{Key: keyType})

			for _, tc := range []struct {
				name string
				cert *x509.Certificate
				want error
				amr  string
			}{
				{"qualified", good, nil, "hwk"},
				{"qualified KA1", ka1, nil, "hwk"},
				{"qualified KC1 software store", kc1, nil, "swk"},
				{"software", soft, nil, "swk"},
				{"expired", expired, signature.ErrExpired, ""},
				{"revoked", revoked, signature.ErrRevoked, ""},
				{"untrusted", foreign, signature.ErrUntrusted, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got, err := p.verifier(false).Verify(ctx, tc.cert, nil)
					if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
						t.Fatalf("Verify: %v, want %v", err, tc.want)
					}
					if tc.want != nil {
						if signature.Reason(err) == "" {
							t.Errorf("no reason code for %v", err)
						}
						return
					}
					if got.AMR() != tc.amr || got.Person.SNILS != testSNILS || got.Person.LastName != "Иванова" ||
						got.Person.FirstName != "Анна" || got.Person.MiddleName != "Сергеевна" || got.Person.INN != "500100732259" {
						t.Errorf("certificate %+v amr %s", got.Person, got.AMR())
					}
					if got.Person.Qualified != (tc.cert != soft) {
						t.Errorf("qualified %t", got.Person.Qualified)
					}
					if len(got.Chain) != 2 || !got.Chain[1].Equal(p.ca.Cert) {
						t.Errorf("chain of %d", len(got.Chain))
					}
				})
			}
		})
	}
}

// Revocation: OCSP decides when it answers; the CRL when it does not; an
// answer is cached; neither fails closed, or open when configured.
func TestRevocationSources(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t, devca.KeyECDSA)
	good, _ := p.issue(t, devca.Options{Key: devca.KeyECDSA})
	revoked, _ := p.issue(t, devca.Options{Key: devca.KeyECDSA})
	p.ca.Revoke(revoked.SerialNumber)

	v := p.verifier(false)
	if _, err := v.Verify(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	if n := p.ocspHits.Load(); n != 1 {
		t.Errorf("OCSP asked %d times for one certificate; want 1 (cached)", n)
	}
	_, err := v.Verify(ctx, revoked, nil)
	if !errors.Is(err, signature.ErrRevoked) || !strings.Contains(err.Error(), "ocsp") {
		t.Errorf("revoked by OCSP: %v", err)
	}

	// The responder down: the CRL decides.
	p.ocspDown.Store(true)
	v = p.verifier(false)
	if _, err := v.Verify(ctx, good, nil); err != nil {
		t.Errorf("good by CRL: %v", err)
	}
	_, err = v.Verify(ctx, revoked, nil)
	if !errors.Is(err, signature.ErrRevoked) || !strings.Contains(err.Error(), "crl") {
		t.Errorf("revoked by CRL: %v", err)
	}

	// Both down: closed by default, open when configured; a fresh
	// verifier has nothing cached.
	p.crlDown.Store(true)
	if _, err := p.verifier(false).Verify(ctx, good, nil); !errors.Is(err, signature.ErrRevocationUnknown) {
		t.Errorf("fail-closed: %v", err)
	}
	if _, err := p.verifier(true).Verify(ctx, good, nil); err != nil {
		t.Errorf("fail-open: %v", err)
	}
	// A configured CRL file serves when the distribution point is down.
	der, err := p.ca.CRL()
	if err != nil {
		t.Fatal(err)
	}
	crl, err := signature.ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	v = p.verifier(false)
	v.Revocation.CRLs = append(v.Revocation.CRLs, crl)
	if _, err := v.Verify(ctx, revoked, nil); !errors.Is(err, signature.ErrRevoked) {
		t.Errorf("revoked by a configured CRL: %v", err)
	}
	if _, err := v.Verify(ctx, good, nil); err != nil {
		t.Errorf("good by a configured CRL: %v", err)
	}
}

func TestSignedChallenge(t *testing.T) {
	p := newPKI(t, devca.KeyRSA)
	challenge := []byte(signature.NewChallenge("idp.example"))
	other := []byte(signature.NewChallenge("idp.example"))
	for _, keyType := range []string{devca.KeyRSA, devca.KeyECDSA} {
		cert, key := p.issue(t, devca.Options{Key: keyType})
		cms, err := signature.SignCMS(challenge, cert, key)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := signature.SignJWS(challenge, cert, key, p.ca.Cert)
		if err != nil {
			t.Fatal(err)
		}
		cmsB64 := base64.StdEncoding.EncodeToString(cms)
		// A broken signature: the last byte of the CMS (inside the
		// signature value) flipped; a JWS with another signature.
		broken := append([]byte(nil), cms...)
		broken[len(broken)-1] ^= 0xff
		otherJWS, err := signature.SignJWS(other, cert, key)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(jws, ".")
		otherParts := strings.Split(otherJWS, ".")
		spliced := parts[0] + "." + parts[1] + "." + otherParts[2]
		for _, tc := range []struct {
			name      string
			sig       string
			challenge []byte
			want      error
		}{
			{"cms", cmsB64, challenge, nil},
			{"cms pem", "-----BEGIN PKCS7-----\n" + wrap(cmsB64) + "-----END PKCS7-----\n", challenge, nil},
			{"cms wrapped base64", wrap(cmsB64), challenge, nil},
			{"jws", jws, challenge, nil},
			{"cms other challenge", cmsB64, other, signature.ErrWrongChallenge},
			{"jws other challenge", jws, other, signature.ErrWrongChallenge},
			{"cms broken", base64.StdEncoding.EncodeToString(broken), challenge, signature.ErrBadSignature},
			{"jws spliced signature", spliced, challenge, signature.ErrBadSignature},
			{"empty", "", challenge, signature.ErrMalformed},
			{"garbage", "not a signature", challenge, signature.ErrMalformed},
			{"jws without x5c", jwsWithoutX5C(t, challenge, key), challenge, signature.ErrMalformed},
		} {
			t.Run(keyType+"/"+tc.name, func(t *testing.T) {
				signer, _, err := signature.Open(tc.sig, tc.challenge)
				if tc.want != nil {
					if !errors.Is(err, tc.want) {
						t.Fatalf("Open: %v, want %v", err, tc.want)
					}
					return
				}
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !signer.Equal(cert) {
					t.Error("another signer")
				}
			})
		}
	}
}

func wrap(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	return b.String() + s + "\n"
}

func TestParsePerson(t *testing.T) {
	p := newPKI(t, devca.KeyECDSA)
	for _, tc := range []struct {
		name string
		c    devca.Citizen
		want signature.Person
		err  error
	}{
		{"full", citizen, signature.Person{SNILS: testSNILS, INN: "500100732259", LastName: "Иванова", FirstName: "Анна", MiddleName: "Сергеевна", CommonName: "Иванова Анна Сергеевна"}, nil},
		{"no patronymic", devca.Citizen{SNILS: testSNILS, LastName: "Smith", FirstName: "John"}, signature.Person{SNILS: testSNILS, LastName: "Smith", FirstName: "John", CommonName: "Smith John"}, nil},
		{"bad inn dropped", devca.Citizen{SNILS: testSNILS, INN: "500100732250", LastName: "Петров", FirstName: "Пётр"}, signature.Person{SNILS: testSNILS, LastName: "Петров", FirstName: "Пётр", CommonName: "Петров Пётр"}, nil},
		{"padded legal inn", devca.Citizen{SNILS: testSNILS, INN: "007707083893", OGRN: "1027700132195", LastName: "Петров", FirstName: "Пётр"}, signature.Person{SNILS: testSNILS, INN: "7707083893", OGRN: "1027700132195", LastName: "Петров", FirstName: "Пётр", CommonName: "Петров Пётр"}, nil},
		{"no snils", devca.Citizen{LastName: "Петров", FirstName: "Пётр"}, signature.Person{LastName: "Петров", FirstName: "Пётр", CommonName: "Петров Пётр"}, signature.ErrNoIdentity},
		{"bad snils", devca.Citizen{SNILS: "11223344596", LastName: "Петров", FirstName: "Пётр"}, signature.Person{LastName: "Петров", FirstName: "Пётр", CommonName: "Петров Пётр"}, signature.ErrNoIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, _, err := p.ca.Issue(tc.c, devca.Options{Key: devca.KeyECDSA})
			if err != nil {
				t.Fatal(err)
			}
			got, err := signature.ParsePerson(cert)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("ParsePerson: %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	p := signature.Person{SNILS: testSNILS, LastName: "Ёлкина", FirstName: "Анна", MiddleName: "Сергеевна"}
	for _, tc := range []struct {
		snils, last, first, middle string
		want                       bool
	}{
		{testSNILS, "Ёлкина", "Анна", "Сергеевна", true},
		{testSNILS, "елкина", "АННА", "сергеевна", true},
		{testSNILS, "Ёлкина", "Анна", "", false},
		{"11223344596", "Ёлкина", "Анна", "Сергеевна", false},
		{testSNILS, "Ёлкин", "Анна", "Сергеевна", false},
	} {
		if got := p.Matches(tc.snils, tc.last, tc.first, tc.middle); got != tc.want {
			t.Errorf("Matches(%q %q %q %q) = %v", tc.snils, tc.last, tc.first, tc.middle, got)
		}
	}
}

func TestReasonCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range signature.ReasonCodes() {
		if c == "" || seen[c] {
			t.Errorf("code %q empty or twice", c)
		}
		seen[c] = true
	}
	if signature.Reason(errors.New("internal")) != "" {
		t.Error("an internal error has a refusal code")
	}
}

func jwsWithoutX5C(t *testing.T, payload []byte, key crypto.Signer) string {
	t.Helper()
	alg := jose.RS256
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		alg = jose.ES256
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

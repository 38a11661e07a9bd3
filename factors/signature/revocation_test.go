package signature_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
)

// forgingCA is a development centre whose OCSP responder and CRL
// distribution point answer what the test sets: answers devca would not
// give.
type forgingCA struct {
	ca   *devca.CA
	ocsp atomic.Pointer[func(req *ocsp.Request) []byte]
	crl  atomic.Pointer[func() []byte]
}

func newForgingCA(t *testing.T) *forgingCA {
	t.Helper()
	f := &forgingCA{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/ocsp" && f.ocsp.Load() != nil:
			b, _ := io.ReadAll(r.Body)
			req, err := ocsp.ParseRequest(b)
			if err != nil {
				http.Error(w, "request", http.StatusBadRequest)
				return
			}
			w.Write((*f.ocsp.Load())(req))
		case r.URL.Path == "/crl" && f.crl.Load() != nil:
			w.Write((*f.crl.Load())())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	ca, err := devca.New("Forging CA", devca.KeyECDSA, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f.ca = ca
	return f
}

// answerOCSP has the responder answer "good", signed by the responder
// certificate and key.
func (f *forgingCA) answerOCSP(t *testing.T, responder *x509.Certificate, key crypto.Signer, thisUpdate, nextUpdate time.Time) {
	answer := func(req *ocsp.Request) []byte {
		b, err := ocsp.CreateResponse(f.ca.Cert, responder, ocsp.Response{
			Status: ocsp.Good, SerialNumber: req.SerialNumber, ThisUpdate: thisUpdate, NextUpdate: nextUpdate, Certificate: responder,
		}, key)
		if err != nil {
			t.Error(err)
		}
		return b
	}
	f.ocsp.Store(&answer)
}

// responder issues a certificate of the centre for an OCSP responder, with
// the extended key usages and validity given.
func (f *forgingCA) responder(t *testing.T, usage []x509.ExtKeyUsage, notBefore, notAfter time.Time) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "OCSP responder"},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: usage,
	}, f.ca.Cert, key.Public(), f.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// An OCSP answer counts only when signed by the issuer or by a responder
// it delegated OCSP signing to, valid now: "good" signed by another
// certificate of the centre (a citizen's) is no answer, and with no CRL
// to fall back on the state is unknown.
func TestOCSPDelegatedResponder(t *testing.T) {
	ctx := context.Background()
	f := newForgingCA(t)
	cert, _, err := f.ca.Issue(citizen, devca.Options{Key: devca.KeyECDSA})
	if err != nil {
		t.Fatal(err)
	}
	citizenCert, citizenKey, err := f.ca.Issue(devca.Citizen{SNILS: "08765430300", LastName: "Петров", FirstName: "Пётр"}, devca.Options{Key: devca.KeyECDSA})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	delegated, delegatedKey := f.responder(t, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, now.Add(-time.Hour), now.AddDate(0, 1, 0))
	expired, expiredKey := f.responder(t, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, now.AddDate(0, -2, 0), now.AddDate(0, -1, 0))
	for _, tc := range []struct {
		name      string
		responder *x509.Certificate
		key       crypto.Signer
		want      string // in the error; "" for accepted
	}{
		{"issuer", f.ca.Cert, f.ca.Key, ""},
		{"delegated", delegated, delegatedKey, ""},
		{"end-entity", citizenCert, citizenKey, "not delegated OCSP signing"},
		{"expired delegated", expired, expiredKey, "responder certificate is expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.answerOCSP(t, tc.responder, tc.key, now.Add(-time.Minute), now.Add(time.Hour))
			r := &signature.Revocation{Timeout: 2 * time.Second}
			err := r.CheckOne(ctx, cert, f.ca.Cert)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckOne: %v", err)
				}
				return
			}
			if !errors.Is(err, signature.ErrRevocationUnknown) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckOne: %v, want %v with %q", err, signature.ErrRevocationUnknown, tc.want)
			}
		})
	}
}

// An OCSP answer without nextUpdate is refused once its thisUpdate is
// older than the cache's max age; a recent one serves.
func TestOCSPWithoutNextUpdate(t *testing.T) {
	ctx := context.Background()
	f := newForgingCA(t)
	cert, _, err := f.ca.Issue(citizen, devca.Options{Key: devca.KeyECDSA})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r := &signature.Revocation{Timeout: 2 * time.Second, MaxCache: time.Hour}
	f.answerOCSP(t, f.ca.Cert, f.ca.Key, now.Add(-2*time.Hour), time.Time{})
	if err := r.CheckOne(ctx, cert, f.ca.Cert); !errors.Is(err, signature.ErrRevocationUnknown) || !strings.Contains(err.Error(), "without a next update") {
		t.Fatalf("an answer of two hours without nextUpdate: %v", err)
	}
	f.answerOCSP(t, f.ca.Cert, f.ca.Key, now.Add(-10*time.Minute), time.Time{})
	if err := r.CheckOne(ctx, cert, f.ca.Cert); err != nil {
		t.Fatalf("an answer of ten minutes without nextUpdate: %v", err)
	}
}

// A CRL counts only when it names the certificate's issuer: one signed by
// the issuer's key under another name is no answer (at a distribution
// point, and configured).
func TestCRLIssuerName(t *testing.T) {
	ctx := context.Background()
	f := newForgingCA(t)
	cert, _, err := f.ca.Issue(citizen, devca.Options{Key: devca.KeyECDSA})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	renamed := *f.ca.Cert
	renamed.RawSubject = nil
	renamed.Subject = pkix.Name{CommonName: "Another CA"}
	forged, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
	}, &renamed, f.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(der []byte) {
		crl := func() []byte { return der }
		f.crl.Store(&crl)
	}
	serve(forged)
	err = (&signature.Revocation{Timeout: 2 * time.Second}).CheckOne(ctx, cert, f.ca.Cert)
	if !errors.Is(err, signature.ErrRevocationUnknown) || !strings.Contains(err.Error(), "not by the certificate's issuer") {
		t.Fatalf("a CRL under another name: %v", err)
	}
	forgedCRL, err := x509.ParseRevocationList(forged)
	if err != nil {
		t.Fatal(err)
	}
	f.crl.Store(nil)
	err = (&signature.Revocation{Timeout: 2 * time.Second, CRLs: []*x509.RevocationList{forgedCRL}}).CheckOne(ctx, cert, f.ca.Cert)
	if !errors.Is(err, signature.ErrRevocationUnknown) {
		t.Fatalf("a configured CRL under another name: %v", err)
	}
	good, err := f.ca.CRL()
	if err != nil {
		t.Fatal(err)
	}
	serve(good)
	if err := (&signature.Revocation{Timeout: 2 * time.Second}).CheckOne(ctx, cert, f.ca.Cert); err != nil {
		t.Fatalf("the issuer's CRL: %v", err)
	}
}

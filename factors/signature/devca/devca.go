// Package devca is a development certification centre: it issues test
// certificates in the Russian qualified-certificate profile (SNILS, INN,
// OGRN, surname, given names; the qualified marker for a "hardware" key,
// none for a software one), server certificates for the mTLS listener,
// and serves a CRL and an OCSP responder for them. It is for development
// and tests only (idp dev-ca); nothing in it is fit for a real centre.
package devca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/idp/identifier"
)

// CA is a development certification centre.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// BaseURL is where Handler is served: issued certificates name
	// BaseURL+"/crl" and BaseURL+"/ocsp" (none when empty).
	BaseURL string
	Now     func() time.Time

	mu      sync.Mutex
	revoked map[string]time.Time // serial (hex) -> when
	crlNum  int64
}

// Key types.
const (
	KeyRSA   = "rsa"
	KeyECDSA = "ecdsa"
)

func newKey(kind string) (crypto.Signer, error) {
	switch kind {
	case KeyRSA, "":
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyECDSA:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("devca: unknown key type %q (rsa or ecdsa)", kind)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

func (ca *CA) now() time.Time {
	if ca.Now == nil {
		return time.Now()
	}
	return ca.Now()
}

// New makes a centre with a self-signed certificate valid for ten years.
func New(name, keyType, baseURL string) (*CA, error) {
	key, err := newKey(keyType)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Development CA"}, Country: []string{"RU"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, BaseURL: strings.TrimRight(baseURL, "/"), revoked: map[string]time.Time{}}, nil
}

// Citizen is what an issued certificate's subject names.
type Citizen struct {
	SNILS, INN, OGRN                string
	LastName, FirstName, MiddleName string
}

// Options are an issued certificate's properties.
type Options struct {
	// Key is KeyRSA (default) or KeyECDSA.
	Key string
	// Qualified adds the qualified-profile marker, with the signature-tool
	// class Class: by default KC2, a certified ("hardware") device, amr
	// hwk; without the marker, a software key, amr swk.
	Qualified bool
	// Class is the signature-tool class policy of a qualified certificate
	// (signature.OIDPolicyKC1 to OIDPolicyKA1); nil means KC2. KC1 (a
	// software key store) gives a qualified certificate with amr swk.
	Class asn1.ObjectIdentifier
	// NotBefore, NotAfter: the validity (default: from an hour ago, a
	// year).
	NotBefore, NotAfter time.Time
}

// Issue makes a citizen's certificate and its key.
func (ca *CA) Issue(c Citizen, o Options) (*x509.Certificate, crypto.Signer, error) {
	key, err := newKey(o.Key)
	if err != nil {
		return nil, nil, err
	}
	now := ca.now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.AddDate(1, 0, 0)
	}
	var extra []pkix.AttributeTypeAndValue
	add := func(oid asn1.ObjectIdentifier, v string) {
		if v != "" {
			extra = append(extra, pkix.AttributeTypeAndValue{Type: oid, Value: v})
		}
	}
	add(signature.OIDSN, c.LastName)
	add(signature.OIDGN, strings.TrimSpace(c.FirstName+" "+c.MiddleName))
	snils := c.SNILS
	if n, err := identifier.NormalizeSNILS(snils); err == nil {
		snils = n // the profile writes 11 digits
	}
	add(signature.OIDSNILS, snils)
	add(signature.OIDINN, c.INN)
	add(signature.OIDOGRN, c.OGRN)
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			CommonName: strings.TrimSpace(strings.Join([]string{c.LastName, c.FirstName, c.MiddleName}, " ")),
			Country:    []string{"RU"},
			ExtraNames: extra,
		},
		NotBefore:   o.NotBefore,
		NotAfter:    o.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection},
	}
	if ca.BaseURL != "" {
		tmpl.CRLDistributionPoints = []string{ca.BaseURL + "/crl"}
		tmpl.OCSPServer = []string{ca.BaseURL + "/ocsp"}
	}
	if o.Qualified {
		subjectTool, _ := asn1.MarshalWithParams("СКЗИ «Ключ разработчика» (devca)", "utf8")
		issuerTool, _ := asn1.Marshal(struct {
			A, B, C, D string `asn1:"utf8"`
		}{"devca", "devca", "devca", "devca"})
		tmpl.ExtraExtensions = []pkix.Extension{
			{Id: signature.OIDSubjectSignTool, Value: subjectTool},
			{Id: signature.OIDIssuerSignTool, Value: issuerTool},
		}
		class := o.Class
		if class == nil {
			class = signature.OIDPolicyKC2
		}
		ints := make([]uint64, len(class))
		for i, n := range class {
			ints[i] = uint64(n)
		}
		policy, err := x509.OIDFromInts(ints)
		if err != nil {
			return nil, nil, err
		}
		tmpl.Policies = []x509.OID{policy}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// IssueServer makes a TLS server certificate for the hosts (names or IP
// addresses), valid for a year.
func (ca *CA) IssueServer(hosts ...string) (tls.Certificate, error) {
	key, err := newKey(KeyECDSA)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}, nil
}

// Revoke revokes the certificate of the serial number.
func (ca *CA) Revoke(serial *big.Int) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.revoked == nil {
		ca.revoked = map[string]time.Time{}
	}
	ca.revoked[serial.Text(16)] = ca.now().UTC().Truncate(time.Second)
}

// CRL is the centre's current CRL (DER), valid for a day.
func (ca *CA) CRL() ([]byte, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.crlNum++
	now := ca.now()
	var entries []x509.RevocationListEntry
	for s, at := range ca.revoked {
		n, _ := new(big.Int).SetString(s, 16)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: at})
	}
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(ca.crlNum),
		ThisUpdate:                now.Add(-time.Minute),
		NextUpdate:                now.Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
}

// Handler serves GET /crl and the OCSP responder (POST /ocsp, and GET
// /ocsp/{base64 request}, RFC 6960 appendix A).
func (ca *CA) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /crl", func(w http.ResponseWriter, r *http.Request) {
		b, err := ca.CRL()
		if err != nil {
			http.Error(w, "crl", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(b)
	})
	mux.HandleFunc("POST /ocsp", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<10))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		ca.answerOCSP(w, b)
	})
	mux.HandleFunc("GET /ocsp/{req...}", func(w http.ResponseWriter, r *http.Request) {
		b, err := base64.StdEncoding.DecodeString(r.PathValue("req"))
		if err != nil {
			http.Error(w, "request", http.StatusBadRequest)
			return
		}
		ca.answerOCSP(w, b)
	})
	return mux
}

func (ca *CA) answerOCSP(w http.ResponseWriter, b []byte) {
	req, err := ocsp.ParseRequest(b)
	if err != nil {
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(ocsp.MalformedRequestErrorResponse)
		return
	}
	now := ca.now()
	tmpl := ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: req.SerialNumber,
		ThisUpdate:   now.Add(-time.Minute),
		NextUpdate:   now.Add(time.Hour),
	}
	ca.mu.Lock()
	if at, ok := ca.revoked[req.SerialNumber.Text(16)]; ok {
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, at, ocsp.KeyCompromise
	}
	ca.mu.Unlock()
	resp, err := ocsp.CreateResponse(ca.Cert, ca.Cert, tmpl, ca.Key)
	if err != nil {
		http.Error(w, "ocsp", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Write(resp)
}

// Files of a saved centre.
const (
	certFile  = "ca.pem"
	keyFile   = "ca-key.pem"
	stateFile = "state.json"
)

type state struct {
	BaseURL string               `json:"base_url"`
	Revoked map[string]time.Time `json:"revoked"`
	CRLNum  int64                `json:"crl_number"`
}

// Save writes the centre to dir: ca.pem (what a trust store names),
// ca-key.pem (mode 0600) and state.json (its revocations).
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := WritePEM(filepath.Join(dir, certFile), 0o644, "CERTIFICATE", ca.Cert.Raw); err != nil {
		return err
	}
	k, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return err
	}
	if err := WritePEM(filepath.Join(dir, keyFile), 0o600, "PRIVATE KEY", k); err != nil {
		return err
	}
	ca.mu.Lock()
	b, err := json.MarshalIndent(state{BaseURL: ca.BaseURL, Revoked: ca.revoked, CRLNum: ca.crlNum}, "", "  ")
	ca.mu.Unlock()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stateFile), b, 0o600)
}

// Load reads a centre saved by Save.
func Load(dir string) (*CA, error) {
	certs, err := signature.ReadCertificates(filepath.Join(dir, certFile))
	if err != nil {
		return nil, err
	}
	key, err := ReadKey(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("devca: %s: %w", stateFile, err)
	}
	if st.Revoked == nil {
		st.Revoked = map[string]time.Time{}
	}
	return &CA{Cert: certs[0], Key: key, BaseURL: st.BaseURL, revoked: st.Revoked, crlNum: st.CRLNum}, nil
}

// WritePEM writes one PEM block to a file with the mode.
func WritePEM(path string, mode os.FileMode, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

// ReadKey reads a PEM private key: PKCS#8, PKCS#1 (RSA) or SEC 1 (EC).
func ReadKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKey(b)
}

// ParseKey reads a PEM private key: PKCS#8, PKCS#1 (RSA) or SEC 1 (EC).
func ParseKey(b []byte) (crypto.Signer, error) {
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("no PEM private key")
		}
		var k any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key %T", k)
		}
		return s, nil
	}
}

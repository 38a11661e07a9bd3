package signature

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// TrustStore is the set of CA certificates whose certificates the provider
// accepts: the accredited certification centres (or their root). Every
// certificate in it is a trust anchor.
type TrustStore struct {
	roots *x509.CertPool
	certs []*x509.Certificate
}

// NewTrustStore returns a trust store of the given CA certificates.
func NewTrustStore(cas ...*x509.Certificate) *TrustStore {
	t := &TrustStore{roots: x509.NewCertPool()}
	for _, c := range cas {
		t.Add(c)
	}
	return t
}

// Add makes c a trust anchor too.
func (t *TrustStore) Add(c *x509.Certificate) {
	if slices.ContainsFunc(t.certs, c.Equal) {
		return
	}
	t.roots.AddCert(c)
	t.certs = append(t.certs, c)
}

// Len is the number of anchors.
func (t *TrustStore) Len() int { return len(t.certs) }

// Certificates are the anchors, in the order added.
func (t *TrustStore) Certificates() []*x509.Certificate { return slices.Clone(t.certs) }

// LoadTrustStore reads CA certificates from PEM files and directories
// (every *.pem, *.crt and *.cer file in one, not recursing). A file that
// holds no certificate, or one that does not parse, is an error: a trust
// store silently smaller than configured would refuse citizens for no
// reason an operator could see.
func LoadTrustStore(paths ...string) (*TrustStore, error) {
	t := NewTrustStore()
	for _, p := range paths {
		files, err := filesOf(p, ".pem", ".crt", ".cer")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			certs, err := ReadCertificates(f)
			if err != nil {
				return nil, err
			}
			for _, c := range certs {
				if !c.IsCA {
					return nil, fmt.Errorf("signature: %s: %q is not a CA certificate", f, c.Subject.CommonName)
				}
				t.Add(c)
			}
		}
	}
	return t, nil
}

// filesOf lists the files a configured path names: itself, or the files
// of a directory with one of the extensions, sorted.
func filesOf(p string, exts ...string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && slices.Contains(exts, strings.ToLower(filepath.Ext(e.Name()))) {
			out = append(out, filepath.Join(p, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("signature: %s holds no %s file", p, strings.Join(exts, ", "))
	}
	return out, nil
}

func crlFiles(p string) ([]string, error) { return filesOf(p, ".crl", ".pem") }

func readFile(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return b, nil
}

// pemBlock returns the bytes of the first PEM block of the type in b, or
// nil.
func pemBlock(b []byte, typ string) []byte {
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil
		}
		if blk.Type == typ {
			return blk.Bytes
		}
	}
}

// ReadCertificates reads the certificates of a PEM file (or of one DER
// certificate).
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("signature: %s: %w", path, err)
	}
	return certs, nil
}

// ParseCertificates reads PEM CERTIFICATE blocks, or one DER certificate.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, errors.New("no certificate (neither PEM nor DER)")
		}
		out = append(out, c)
	}
	return out, nil
}

package signature

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Revocation checks whether certificates were revoked: by OCSP (the
// responders a certificate names), then by CRL (its distribution points,
// and the CRLs configured as files). Answers are cached until their
// nextUpdate (at most MaxCache): a revoked certificate stays revoked, and
// a good one is asked again after that. When neither way gives an answer
// (responders down, CRL stale), the check fails closed (ErrRevocationUnknown)
// unless FailOpen is set, when it passes and is logged.
type Revocation struct {
	// Client fetches CRLs and asks responders; nil means a client with
	// Timeout.
	Client *http.Client
	// Timeout bounds one fetch (5 s when zero).
	Timeout time.Duration
	// FailOpen accepts a certificate whose revocation state is unknown.
	FailOpen bool
	// MaxCache bounds how long an answer is kept (1 h when zero); an
	// answer or a CRL without nextUpdate is refused once its thisUpdate
	// is older than MaxCache, and kept for a tenth of it.
	MaxCache time.Duration
	// CRLs are configured revocation lists (files), consulted after the
	// distribution points.
	CRLs   []*x509.RevocationList
	Now    func() time.Time
	Logger *slog.Logger

	mu   sync.Mutex
	ocsp map[string]cached[int]
	crls map[string]cached[*crlSet]
}

type cached[T any] struct {
	v       T
	expires time.Time
}

// crlSet is a fetched CRL: its serials, issuer (the certificate that
// signed it, and the name it names) and freshness.
type crlSet struct {
	issuer     *x509.Certificate
	rawIssuer  []byte
	issuerName string
	serials    map[string]bool
	nextUpdate time.Time
}

// maxCRL bounds a fetched CRL (the lists of large centres run to tens of
// megabytes) and maxOCSP a responder's answer.
const (
	maxCRL  = 64 << 20
	maxOCSP = 64 << 10
)

func (r *Revocation) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Revocation) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

func (r *Revocation) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	t := r.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	return &http.Client{Timeout: t}
}

func (r *Revocation) maxCache() time.Duration {
	if r.MaxCache <= 0 {
		return time.Hour
	}
	return r.MaxCache
}

// Check checks every certificate of chain but the last (the anchor)
// against its issuer, the next one.
func (r *Revocation) Check(ctx context.Context, chain []*x509.Certificate) error {
	for i := 0; i+1 < len(chain); i++ {
		if err := r.CheckOne(ctx, chain[i], chain[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// CheckOne checks one certificate issued by issuer: nil when it is known
// good (or unknown, when FailOpen), an error wrapping ErrRevoked when
// revoked, ErrRevocationUnknown when neither OCSP nor a CRL answers.
func (r *Revocation) CheckOne(ctx context.Context, c, issuer *x509.Certificate) error {
	status, via, err := r.status(ctx, c, issuer)
	switch {
	case status == ocsp.Revoked:
		return fmt.Errorf("%w (%s)", ErrRevoked, via)
	case status == ocsp.Good:
		return nil
	}
	if r.FailOpen {
		r.logger().WarnContext(ctx, "signature: revocation state unknown; accepted (fail-open)", "serial", c.SerialNumber.Text(16), "issuer", c.Issuer.String(), "err", err)
		return nil
	}
	return fmt.Errorf("%w: %v", ErrRevocationUnknown, err)
}

// status asks OCSP, then the CRLs; via names which answered.
func (r *Revocation) status(ctx context.Context, c, issuer *x509.Certificate) (status int, via string, err error) {
	var errs []error
	if len(c.OCSPServer) > 0 {
		s, err := r.askOCSP(ctx, c, issuer)
		if err == nil && s != ocsp.Unknown {
			return s, "ocsp", nil
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, errors.New("ocsp: status unknown"))
		}
	}
	s, err := r.checkCRLs(ctx, c, issuer)
	if err == nil {
		return s, "crl", nil
	}
	errs = append(errs, err)
	return ocsp.Unknown, "", errors.Join(errs...)
}

func certKey(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawIssuer)
	return hex.EncodeToString(h[:]) + "/" + c.SerialNumber.Text(16)
}

// askOCSP asks the certificate's responders in turn, from the cache first.
func (r *Revocation) askOCSP(ctx context.Context, c, issuer *x509.Certificate) (int, error) {
	key := certKey(c)
	now := r.now()
	r.mu.Lock()
	if e, ok := r.ocsp[key]; ok && now.Before(e.expires) {
		r.mu.Unlock()
		return e.v, nil
	}
	r.mu.Unlock()
	req, err := ocsp.CreateRequest(c, issuer, nil)
	if err != nil {
		return ocsp.Unknown, fmt.Errorf("ocsp: %w", err)
	}
	var errs []error
	for _, server := range c.OCSPServer {
		if !httpURL(server) {
			continue
		}
		resp, err := r.postOCSP(ctx, server, req, c, issuer)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.Status != ocsp.Unknown {
			r.mu.Lock()
			if r.ocsp == nil {
				r.ocsp = map[string]cached[int]{}
			}
			r.ocsp[key] = cached[int]{v: resp.Status, expires: r.expiry(now, resp.NextUpdate, resp.Status == ocsp.Revoked)}
			r.mu.Unlock()
		}
		return resp.Status, nil
	}
	if len(errs) == 0 {
		return ocsp.Unknown, errors.New("ocsp: no http responder")
	}
	return ocsp.Unknown, errors.Join(errs...)
}

// expiry is when an answer leaves the cache: at nextUpdate, within
// MaxCache; a revocation is for good, and kept the longest.
func (r *Revocation) expiry(now, next time.Time, revoked bool) time.Time {
	limit := now.Add(r.maxCache())
	switch {
	case revoked:
		return limit
	case next.IsZero():
		return now.Add(r.maxCache() / 10)
	case next.Before(limit):
		return next
	}
	return limit
}

// clockSkew is how far ahead of this clock a responder's thisUpdate may be.
const clockSkew = 5 * time.Minute

func (r *Revocation) postOCSP(ctx context.Context, server string, req []byte, c, issuer *x509.Certificate) (*ocsp.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, server, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("ocsp: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	hreq.Header.Set("Accept", "application/ocsp-response")
	hresp, err := r.client().Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("ocsp: %w", err)
	}
	defer hresp.Body.Close()
	if hresp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ocsp: responder answered %s", hresp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(hresp.Body, maxOCSP+1))
	if err != nil || len(body) > maxOCSP {
		return nil, fmt.Errorf("ocsp: read answer: %v", err)
	}
	// ParseResponseForCert checks the answer's signature (by the issuer,
	// or a responder certificate the issuer signed) and that it is about
	// this certificate; delegatedResponder that the issuer delegated OCSP
	// signing to that certificate.
	resp, err := ocsp.ParseResponseForCert(body, c, issuer)
	if err != nil {
		return nil, fmt.Errorf("ocsp: %w", err)
	}
	now := r.now()
	if err := delegatedResponder(resp.Certificate, issuer, now); err != nil {
		return nil, err
	}
	if err := r.current(resp.ThisUpdate, resp.NextUpdate, now); err != nil {
		return nil, fmt.Errorf("ocsp: answer %w", err)
	}
	return resp, nil
}

// current checks the freshness of an answer or CRL issued at thisUpdate
// and to be renewed at nextUpdate: not from the future (beyond the clock
// skew), not past its nextUpdate, and, without one, not older than
// MaxCache (else an answer or a CRL of any age would do).
func (r *Revocation) current(thisUpdate, nextUpdate, now time.Time) error {
	switch {
	case thisUpdate.After(now.Add(clockSkew)):
		return fmt.Errorf("not current (issued %s, in the future)", thisUpdate.Format(time.RFC3339))
	case !nextUpdate.IsZero() && now.After(nextUpdate):
		return fmt.Errorf("not current (next update %s)", nextUpdate.Format(time.RFC3339))
	case nextUpdate.IsZero() && now.Sub(thisUpdate) > r.maxCache():
		return fmt.Errorf("not current (issued %s without a next update, older than %s)", thisUpdate.Format(time.RFC3339), r.maxCache())
	}
	return nil
}

// delegatedResponder checks the responder certificate an answer embeds
// (none, or the issuer itself, when the issuer signed it): RFC 6960
// 4.2.2.2 wants it to name OCSP signing, and it must be valid now. Without
// this, any certificate of the centre, a citizen's too, could sign "good"
// for any other.
func delegatedResponder(rc, issuer *x509.Certificate, now time.Time) error {
	if rc == nil || rc.Equal(issuer) {
		return nil
	}
	if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return errors.New("ocsp: the responder certificate is not delegated OCSP signing")
	}
	if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
		return errors.New("ocsp: the responder certificate is expired or not yet valid")
	}
	return nil
}

// checkCRLs looks the certificate up in the CRLs of its distribution
// points and in the configured ones issued by its issuer. It fails when
// no current CRL of the issuer could be had.
func (r *Revocation) checkCRLs(ctx context.Context, c, issuer *x509.Certificate) (int, error) {
	var errs []error
	found := false
	for _, u := range c.CRLDistributionPoints {
		if !httpURL(u) {
			continue
		}
		set, err := r.fetchCRL(ctx, u, issuer)
		if err == nil && !bytes.Equal(set.rawIssuer, c.RawIssuer) {
			err = fmt.Errorf("crl: %s is issued by %q, not by the certificate's issuer %q", u, set.issuerName, c.Issuer.String())
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found = true
		if set.serials[c.SerialNumber.Text(16)] {
			return ocsp.Revoked, nil
		}
	}
	now := r.now()
	for _, l := range r.CRLs {
		if !bytes.Equal(l.RawIssuer, c.RawIssuer) || l.CheckSignatureFrom(issuer) != nil || now.After(l.NextUpdate) {
			continue
		}
		found = true
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return ocsp.Revoked, nil
			}
		}
	}
	if found {
		return ocsp.Good, nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("crl: the certificate names no http distribution point, and no configured CRL of its issuer is current"))
	}
	return ocsp.Unknown, errors.Join(errs...)
}

// fetchCRL returns the CRL at u, from the cache while current.
func (r *Revocation) fetchCRL(ctx context.Context, u string, issuer *x509.Certificate) (*crlSet, error) {
	now := r.now()
	r.mu.Lock()
	if e, ok := r.crls[u]; ok && now.Before(e.expires) && e.v.issuer.Equal(issuer) {
		r.mu.Unlock()
		return e.v, nil
	}
	r.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	resp, err := r.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("crl: %s answered %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCRL+1))
	if err != nil || len(body) > maxCRL {
		return nil, fmt.Errorf("crl: read %s: %v", u, err)
	}
	l, err := ParseCRL(body)
	if err != nil {
		return nil, fmt.Errorf("crl: %s: %w", u, err)
	}
	if err := l.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("crl: %s: not signed by the issuer: %w", u, err)
	}
	if err := r.current(l.ThisUpdate, l.NextUpdate, now); err != nil {
		return nil, fmt.Errorf("crl: %s is %w", u, err)
	}
	set := &crlSet{issuer: issuer, rawIssuer: l.RawIssuer, issuerName: l.Issuer.String(), serials: make(map[string]bool, len(l.RevokedCertificateEntries)), nextUpdate: l.NextUpdate}
	for _, e := range l.RevokedCertificateEntries {
		set.serials[e.SerialNumber.Text(16)] = true
	}
	r.mu.Lock()
	if r.crls == nil {
		r.crls = map[string]cached[*crlSet]{}
	}
	r.crls[u] = cached[*crlSet]{v: set, expires: r.expiry(now, l.NextUpdate, false)}
	r.mu.Unlock()
	return set, nil
}

// ParseCRL reads a CRL in DER or PEM ("X509 CRL").
func ParseCRL(b []byte) (*x509.RevocationList, error) {
	if blk := pemBlock(b, "X509 CRL"); blk != nil {
		b = blk
	}
	return x509.ParseRevocationList(b)
}

// LoadCRLs reads CRL files (DER or PEM).
func LoadCRLs(paths ...string) ([]*x509.RevocationList, error) {
	var out []*x509.RevocationList
	for _, p := range paths {
		files, err := crlFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := readFile(f)
			if err != nil {
				return nil, err
			}
			l, err := ParseCRL(b)
			if err != nil {
				return nil, fmt.Errorf("signature: %s: %w", f, err)
			}
			out = append(out, l)
		}
	}
	return out, nil
}

func httpURL(u string) bool {
	return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}

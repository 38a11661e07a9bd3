package server

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/idp/login"
	"github.com/esia-oidc/idp/store"
)

// newSignature builds the electronic-signature login of the configuration
// (IDP_SIGNATURE_CA and the rest), or nil when it is off.
func (s *Server) newSignature(now store.Clock) (*login.Signature, error) {
	cfg := s.cfg
	if !cfg.SignatureEnabled() {
		return nil, nil
	}
	trust, err := signature.LoadTrustStore(cfg.SignatureCA...)
	if err != nil {
		return nil, fmt.Errorf("signature trust store (IDP_SIGNATURE_CA): %w", err)
	}
	crls, err := signature.LoadCRLs(cfg.SignatureCRL...)
	if err != nil {
		return nil, fmt.Errorf("signature CRLs (IDP_SIGNATURE_CRL): %w", err)
	}
	site := cfg.Issuer
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Host != "" {
		site = u.Host
	}
	sig := &login.Signature{
		Verifier: &signature.Verifier{
			Trust: trust,
			Revocation: &signature.Revocation{
				Timeout: cfg.SignatureTimeout, FailOpen: cfg.SignatureFailOpen, CRLs: crls,
				Now: now, Logger: s.logger,
			},
			Now: now,
		},
		Site:   site,
		Issuer: cfg.Issuer,
	}
	if cfg.MTLSListen != "" {
		sig.MTLSURL = cfg.MTLSPublicURL()
	}
	s.logger.Info("signature login on", "trusted_cas", trust.Len(), "crls", len(crls), "fail_open", cfg.SignatureFailOpen, "mtls", sig.MTLSURL)
	if cfg.SignatureFailOpen {
		s.logger.Warn("signature login: a certificate whose revocation state is unknown is accepted (IDP_SIGNATURE_FAIL_OPEN)")
	}
	return sig, nil
}

// mtlsHandler is the mTLS listener's handler: the login's client
// certificate endpoint only, behind the logging and security middleware.
func (s *Server) mtlsHandler(l *login.Login) http.Handler {
	trusted := s.cfg.TrustedProxyPrefixes()
	return httpx.Chain(l.TLSHandler(),
		httpx.RequestID,
		httpx.AccessLog(s.logger, trusted),
		httpx.Recover(s.logger),
		httpx.SecurityHeaders(true),
		httpx.LimitBody(maxBody),
	)
}

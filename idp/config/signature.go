package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// The electronic-signature login's settings:
//
//   - IDP_SIGNATURE_CA: the trust store, comma-separated PEM files or
//     directories of CA certificates (the accredited centres). Empty: the
//     signature login is off.
//   - IDP_SIGNATURE_CRL: CRL files or directories consulted beside the
//     certificates' distribution points (for centres whose lists are
//     mirrored locally).
//   - IDP_SIGNATURE_FAIL_OPEN: accept a certificate whose revocation state
//     cannot be learnt (no OCSP answer, no current CRL); false (closed) by
//     default.
//   - IDP_SIGNATURE_REVOCATION_TIMEOUT: how long one OCSP or CRL fetch may
//     take.
//   - IDP_MTLS_LISTEN, IDP_MTLS_URL, IDP_MTLS_CERT_FILE, IDP_MTLS_KEY_FILE:
//     the listener that asks browsers for a TLS client certificate, its
//     public https URL (default https:// and the listen address; required
//     when that address names no host, such as :8443) and its
//     server certificate and key. It terminates TLS itself: a proxy in front
//     must pass TLS through.

var signatureSettings = []setting{
	list("signature_ca", "IDP_SIGNATURE_CA", "signature-ca", "trusted CA certificates of the signature login: comma-separated PEM files or directories (empty: off)", func(c *Config) *[]string { return &c.SignatureCA }),
	list("signature_crl", "IDP_SIGNATURE_CRL", "signature-crl", "CRL files or directories consulted beside the distribution points", func(c *Config) *[]string { return &c.SignatureCRL }),
	boolean("signature_fail_open", "IDP_SIGNATURE_FAIL_OPEN", "signature-fail-open", "accept a certificate whose revocation state is unknown (default: refuse)", func(c *Config) *bool { return &c.SignatureFailOpen }),
	dur("signature_revocation_timeout", "IDP_SIGNATURE_REVOCATION_TIMEOUT", "signature-revocation-timeout", "bound of one OCSP or CRL fetch", func(c *Config) *time.Duration { return &c.SignatureTimeout }),
	str("mtls_listen", "IDP_MTLS_LISTEN", "mtls-listen", "address of the TLS client-certificate listener of the signature login (empty: off)", func(c *Config) *string { return &c.MTLSListen }),
	str("mtls_url", "IDP_MTLS_URL", "mtls-url", "public https URL of that listener (default: https:// and its address; required when that address names no host)", func(c *Config) *string { return &c.MTLSURL }),
	str("mtls_cert_file", "IDP_MTLS_CERT_FILE", "mtls-cert-file", "PEM server certificate (chain) of that listener", func(c *Config) *string { return &c.MTLSCertFile }),
	str("mtls_key_file", "IDP_MTLS_KEY_FILE", "mtls-key-file", "PEM private key of that listener", func(c *Config) *string { return &c.MTLSKeyFile }),
}

func list(key, env, flag, usage string, field func(*Config) *[]string) setting {
	return setting{key: key, env: env, flag: flag, usage: usage, set: func(c *Config, v string) error {
		*field(c) = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				*field(c) = append(*field(c), p)
			}
		}
		return nil
	}}
}

// SignatureEnabled reports whether the signature login is configured.
func (c *Config) SignatureEnabled() bool { return len(c.SignatureCA) > 0 }

// MTLSPublicURL is the mTLS listener's public URL.
func (c *Config) MTLSPublicURL() string {
	if c.MTLSURL != "" {
		return strings.TrimRight(c.MTLSURL, "/")
	}
	return "https://" + c.MTLSListen
}

func (c *Config) validateSignature(add func(key, format string, args ...any)) {
	if c.SignatureTimeout <= 0 {
		add("signature_revocation_timeout", "must be a positive duration, got %s", c.SignatureTimeout)
	}
	if c.MTLSListen == "" {
		return
	}
	if host, _, err := net.SplitHostPort(c.MTLSListen); err != nil {
		add("mtls_listen", "must be host:port or :port, got %q", c.MTLSListen)
	} else {
		if c.Dev && !isLoopback(host) {
			add("mtls_listen", "must be a loopback address in development mode, got %q", c.MTLSListen)
		}
		if c.MTLSURL == "" && (host == "" || net.ParseIP(host).IsUnspecified()) {
			// The default URL (https:// and the address) would name no host.
			add("mtls_url", "is required when mtls_listen %q names no host: the public https URL browsers reach the listener at", c.MTLSListen)
		}
	}
	if !c.SignatureEnabled() {
		add("mtls_listen", "needs signature_ca (IDP_SIGNATURE_CA): the certificates it asks for are judged against it")
	}
	if c.MTLSCertFile == "" || c.MTLSKeyFile == "" {
		add("mtls_cert_file", "the mTLS listener needs its server certificate and key (IDP_MTLS_CERT_FILE, IDP_MTLS_KEY_FILE)")
	}
	if c.MTLSURL != "" {
		if u, err := url.Parse(c.MTLSURL); err != nil || u.Scheme != "https" || u.Host == "" {
			add("mtls_url", "must be an https URL, got %q", c.MTLSURL)
		}
	}
}

package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/esia-oidc/idp/idp/config"
)

// serveMTLS serves the signature login's client-certificate endpoint on
// its own TLS listener (IDP_MTLS_LISTEN, or the inherited "mtls" socket).
// The handshake asks for a client certificate but requires none
// (tls.RequestClientCert): the handler judges what came, against the
// signature trust store, and explains a missing or refused one on the
// login page. TLS ends here: a proxy in front must pass it through, since
// a certificate named in a header is never believed.
func serveMTLS(inherited net.Listener, cfg *config.Config, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	cert, err := tls.LoadX509KeyPair(cfg.MTLSCertFile, cfg.MTLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("mTLS listener (IDP_MTLS_CERT_FILE, IDP_MTLS_KEY_FILE): %w", err)
	}
	ln, err := listen(inherited, cfg.MTLSListen)
	if err != nil {
		return nil, fmt.Errorf("mTLS listener: %w", err)
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequestClientCert,
			MinVersion:   tls.VersionTLS12,
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go hs.ServeTLS(ln, "", "")
	logger.Info("serving the signature login's mTLS listener", "addr", ln.Addr().String(), "url", cfg.MTLSPublicURL())
	return func() { hs.Close() }, nil
}

package config

import (
	"errors"
	"slices"
	"testing"
)

func TestValidateSignature(t *testing.T) {
	t.Parallel()
	withMTLS := func(c *Config) {
		c.SignatureCA = []string{"/etc/idp/ca"}
		c.MTLSListen, c.MTLSCertFile, c.MTLSKeyFile = ":8443", "/etc/idp/mtls.pem", "/etc/idp/mtls-key.pem"
		c.MTLSURL = "https://mtls.idp.example.ru"
	}
	for _, tc := range []struct {
		name   string
		base   func() *Config
		mutate func(*Config)
		want   []string
	}{
		{"off", validProd, func(c *Config) {}, nil},
		{"trust store only", validProd, func(c *Config) { c.SignatureCA = []string{"/etc/idp/ca"} }, nil},
		{"mtls", validProd, withMTLS, nil},
		{"mtls without its URL on a port only", validProd, func(c *Config) { withMTLS(c); c.MTLSURL = "" }, []string{"mtls_url"}},
		{"mtls without its URL on all addresses", validProd, func(c *Config) { withMTLS(c); c.MTLSURL, c.MTLSListen = "", "0.0.0.0:8443" }, []string{"mtls_url"}},
		{"mtls without its URL on [::]", validProd, func(c *Config) { withMTLS(c); c.MTLSURL, c.MTLSListen = "", "[::]:8443" }, []string{"mtls_url"}},
		{"mtls without its URL on a host", validProd, func(c *Config) { withMTLS(c); c.MTLSURL, c.MTLSListen = "", "mtls.idp.example.ru:8443" }, nil},
		{"mtls without a trust store", validProd, func(c *Config) { withMTLS(c); c.SignatureCA = nil }, []string{"mtls_listen"}},
		{"mtls without its certificate", validProd, func(c *Config) { withMTLS(c); c.MTLSKeyFile = "" }, []string{"mtls_cert_file"}},
		{"mtls URL not https", validProd, func(c *Config) { withMTLS(c); c.MTLSURL = "http://mtls.idp.example.ru" }, []string{"mtls_url"}},
		{"mtls bad address", validProd, func(c *Config) { withMTLS(c); c.MTLSListen = "8443" }, []string{"mtls_listen"}},
		{"mtls not loopback in dev", validDev, func(c *Config) { withMTLS(c); c.MTLSListen = "0.0.0.0:8443" }, []string{"mtls_listen"}},
		{"no timeout", validProd, func(c *Config) { c.SignatureTimeout = 0 }, []string{"signature_revocation_timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base()
			tc.mutate(c)
			err := c.Validate()
			var got []string
			var ve *ValidationError
			if errors.As(err, &ve) {
				for _, p := range ve.Problems {
					got = append(got, p.Key)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
}

func TestSignatureSettingsLoad(t *testing.T) {
	env := map[string]string{
		"IDP_DEV": "true", "IDP_SIGNATURE_CA": "/a.pem, /dir", "IDP_SIGNATURE_FAIL_OPEN": "true",
		"IDP_SIGNATURE_CRL": "/crls", "IDP_SIGNATURE_REVOCATION_TIMEOUT": "2s",
	}
	c, err := Load([]string{"--mtls-listen", "127.0.0.1:8443"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.SignatureCA, []string{"/a.pem", "/dir"}) || !c.SignatureFailOpen || !slices.Equal(c.SignatureCRL, []string{"/crls"}) ||
		c.SignatureTimeout.String() != "2s" || c.MTLSListen != "127.0.0.1:8443" || c.MTLSPublicURL() != "https://127.0.0.1:8443" || !c.SignatureEnabled() {
		t.Errorf("loaded %+v", c)
	}
}

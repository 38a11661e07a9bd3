package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
)

const devCAUsage = `usage: idp dev-ca <command> --dir DIR [flags]

A development certification centre, for development and tests only: it
issues certificates in the qualified-certificate profile and serves a CRL
and an OCSP responder. Trust it with IDP_SIGNATURE_CA=DIR/ca.pem.

commands:
  init         make a centre in DIR (--key rsa|ecdsa, --url where "serve" will listen, e.g. http://127.0.0.1:8090)
  issue        issue a citizen's certificate: --snils, --last, --first, --middle, --inn, --ogrn,
               --key rsa|ecdsa, --qualified (the qualified marker with class KC2, a "hardware" device: amr hwk; otherwise swk),
               --days N (validity), --expired, --out PREFIX (writes PREFIX.pem, PREFIX-key.pem,
               PREFIX.p12 with --p12-password, default "dev")
  server-cert  issue a TLS server certificate for the mTLS listener: --host (repeatable), --out PREFIX
  revoke       revoke a certificate: --serial HEX or --cert FILE
  crl          write the current CRL (DER) to --out FILE
  serve        serve GET /crl and the OCSP responder (POST /ocsp) on --listen ADDR
`

func devCA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, devCAUsage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("dev-ca "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the centre's directory")
	var err error
	switch cmd {
	case "init":
		key := fs.String("key", devca.KeyECDSA, "rsa or ecdsa")
		base := fs.String("url", "http://127.0.0.1:8090", "base URL of `idp dev-ca serve` (named in issued certificates)")
		if err = parseDir(fs, rest, dir); err != nil {
			return err
		}
		ca, err := devca.New("Development CA", *key, *base)
		if err != nil {
			return err
		}
		if err := ca.Save(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "centre made in %s; trust it with IDP_SIGNATURE_CA=%s/ca.pem\n", *dir, *dir)
		return nil
	case "issue":
		return devCAIssue(fs, rest, dir, stdout)
	case "server-cert":
		var hosts listFlag
		fs.Var(&hosts, "host", "host name or IP address (repeatable)")
		out := fs.String("out", "", "output prefix")
		if err = parseDir(fs, rest, dir); err != nil {
			return err
		}
		if len(hosts) == 0 || *out == "" {
			return errors.New("dev-ca server-cert: --host and --out are required")
		}
		ca, err := devca.Load(*dir)
		if err != nil {
			return err
		}
		tc, err := ca.IssueServer(hosts...)
		if err != nil {
			return err
		}
		return writeCertKey(*out, tc.Certificate, tc.PrivateKey)
	case "revoke":
		serial := fs.String("serial", "", "serial number, hex")
		certFile := fs.String("cert", "", "certificate file")
		if err = parseDir(fs, rest, dir); err != nil {
			return err
		}
		ca, err := devca.Load(*dir)
		if err != nil {
			return err
		}
		n, ok := new(big.Int).SetString(strings.TrimPrefix(*serial, "0x"), 16)
		if *certFile != "" {
			certs, err := signature.ReadCertificates(*certFile)
			if err != nil {
				return err
			}
			n, ok = certs[0].SerialNumber, true
		}
		if !ok {
			return errors.New("dev-ca revoke: --serial HEX or --cert FILE")
		}
		ca.Revoke(n)
		if err := ca.Save(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", n.Text(16))
		return nil
	case "crl":
		out := fs.String("out", "", "output file")
		if err = parseDir(fs, rest, dir); err != nil {
			return err
		}
		ca, err := devca.Load(*dir)
		if err != nil {
			return err
		}
		b, err := ca.CRL()
		if err != nil {
			return err
		}
		return os.WriteFile(*out, b, 0o644)
	case "serve":
		listen := fs.String("listen", "127.0.0.1:8090", "listen address")
		if err = parseDir(fs, rest, dir); err != nil {
			return err
		}
		return devCAServe(ctx, *dir, *listen, stdout)
	}
	fmt.Fprint(stderr, devCAUsage)
	return fmt.Errorf("dev-ca: unknown command %q", cmd)
}

func parseDir(fs *flag.FlagSet, args []string, dir *string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("dev-ca: --dir is required")
	}
	return nil
}

func devCAIssue(fs *flag.FlagSet, args []string, dir *string, stdout io.Writer) error {
	var c devca.Citizen
	fs.StringVar(&c.SNILS, "snils", "", "SNILS")
	fs.StringVar(&c.INN, "inn", "", "INN")
	fs.StringVar(&c.OGRN, "ogrn", "", "OGRN")
	fs.StringVar(&c.LastName, "last", "", "surname")
	fs.StringVar(&c.FirstName, "first", "", "given name")
	fs.StringVar(&c.MiddleName, "middle", "", "patronymic")
	key := fs.String("key", devca.KeyECDSA, "rsa or ecdsa")
	qualified := fs.Bool("qualified", false, "the qualified marker with class KC2 (\"hardware\": amr hwk)")
	days := fs.Int("days", 365, "validity in days")
	expired := fs.Bool("expired", false, "issue a certificate that expired yesterday")
	out := fs.String("out", "", "output prefix")
	p12pw := fs.String("p12-password", "dev", "password of the PKCS#12 file")
	if err := parseDir(fs, args, dir); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("dev-ca issue: --out is required")
	}
	ca, err := devca.Load(*dir)
	if err != nil {
		return err
	}
	o := devca.Options{Key: *key, Qualified: *qualified, NotAfter: time.Now().AddDate(0, 0, *days)}
	if *expired {
		o.NotBefore, o.NotAfter = time.Now().AddDate(-1, 0, 0), time.Now().AddDate(0, 0, -1)
	}
	cert, k, err := ca.Issue(c, o)
	if err != nil {
		return err
	}
	if err := writeCertKey(*out, [][]byte{cert.Raw}, k); err != nil {
		return err
	}
	p12, err := pkcs12.Modern.Encode(k, cert, []*x509.Certificate{ca.Cert}, *p12pw)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out+".p12", p12, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serial %s\nfingerprint %s\nfiles %s.pem %s-key.pem %s.p12\n", cert.SerialNumber.Text(16), signature.Fingerprint(cert), *out, *out, *out)
	return nil
}

func devCAServe(ctx context.Context, dir, listen string, stdout io.Writer) error {
	ca, err := devca.Load(dir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// Revocations made meanwhile by `idp dev-ca revoke` are read again on
	// every request.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := ca
		if fresh, err := devca.Load(dir); err == nil {
			cur = fresh
		}
		cur.Handler().ServeHTTP(w, r)
	})
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	fmt.Fprintf(stdout, "serving the CRL and OCSP of %s on http://%s\n", dir, ln.Addr())
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// writeCertKey writes PREFIX.pem (the chain) and PREFIX-key.pem (PKCS#8,
// mode 0600).
func writeCertKey(prefix string, chain [][]byte, key any) error {
	var pemChain []byte
	for _, der := range chain {
		pemChain = append(pemChain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.WriteFile(prefix+".pem", pemChain, 0o644); err != nil {
		return err
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return devca.WritePEM(prefix+"-key.pem", 0o600, "PRIVATE KEY", k)
}

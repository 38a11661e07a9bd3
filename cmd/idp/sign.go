package main

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
)

const signUsage = `usage: idp sign --challenge TEXT (--cert FILE --key FILE | --p12 FILE [--password PW]) [--format cms|jws]

Signs the challenge shown on the login page ("Электронная подпись") and
prints the signature to paste there: a CMS detached signature in base64
(default) or a compact JWS with the certificate in x5c. The key is a PEM
private key with its PEM certificate (chain), or a PKCS#12 file. The
password of a PKCS#12 file may come from IDP_SIGN_PASSWORD instead of the
flag. --challenge - reads the challenge from standard input.
`

func sign(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, signUsage) }
	challenge := fs.String("challenge", "", "the challenge text, or - for standard input")
	certFile := fs.String("cert", "", "PEM certificate (chain: the signer first)")
	keyFile := fs.String("key", "", "PEM private key")
	p12File := fs.String("p12", "", "PKCS#12 file with key and certificate")
	password := fs.String("password", "", "PKCS#12 password (or IDP_SIGN_PASSWORD)")
	format := fs.String("format", "cms", "cms or jws")
	if err := fs.Parse(args); err != nil {
		return err
	}
	text := *challenge
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return err
		}
		text = string(b)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		fs.Usage()
		return errors.New("sign: --challenge is required")
	}
	var cert *x509.Certificate
	var chain []*x509.Certificate
	var key crypto.Signer
	switch {
	case *p12File != "":
		b, err := os.ReadFile(*p12File)
		if err != nil {
			return err
		}
		pw := *password
		if pw == "" {
			pw = getenv("IDP_SIGN_PASSWORD")
		}
		k, c, cas, err := pkcs12.DecodeChain(b, pw)
		if err != nil {
			return fmt.Errorf("sign: %s: %w", *p12File, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return fmt.Errorf("sign: unsupported key %T", k)
		}
		cert, chain, key = c, cas, s
	case *certFile != "" && *keyFile != "":
		certs, err := signature.ReadCertificates(*certFile)
		if err != nil {
			return err
		}
		if key, err = devca.ReadKey(*keyFile); err != nil {
			return fmt.Errorf("sign: %s: %w", *keyFile, err)
		}
		cert, chain = certs[0], certs[1:]
	default:
		fs.Usage()
		return errors.New("sign: --cert and --key, or --p12")
	}
	switch *format {
	case "cms":
		der, err := signature.SignCMS([]byte(text), cert, key, chain...)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(der))
	case "jws":
		s, err := signature.SignJWS([]byte(text), cert, key, chain...)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, s)
	default:
		return fmt.Errorf("sign: --format is cms or jws, not %q", *format)
	}
	return nil
}

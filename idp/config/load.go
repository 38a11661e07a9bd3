package config

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"

	"go.yaml.in/yaml/v3"
)

// Load builds the configuration from, in rising order of precedence, the
// defaults, the YAML file named by --config (or IDP_CONFIG), the environment
// read through getenv (nil means none; an empty value counts as unset) and
// the flags in args (what follows "idp serve"). Secrets (admin token, secret
// keys, the SMTP URL with its password, the SMS gateway's token) have no
// flags so that they never show in a process list.
//
// Load reports values that do not parse (every one at once, as a
// *ValidationError) but does not judge them: call Validate. On --help it
// returns an error wrapping flag.ErrHelp; print Usage then.
//
// After merging, Load fills derived defaults: in development mode the issuer
// (DevIssuer) and a random admin token and secret key; the listen address
// from the issuer's port (":8080" when it has none), bound to 127.0.0.1 in
// development mode.
func Load(args []string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("config", "", "YAML configuration file")
	for _, s := range settings {
		switch {
		case s.flag == "":
		case s.isBool:
			fs.Bool(s.flag, false, s.usage)
		default:
			fs.String(s.flag, "", s.usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	explicit := make(map[string]string)
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = f.Value.String() })

	cfg := Defaults()
	path := getenv("IDP_CONFIG")
	if v, ok := explicit["config"]; ok {
		path = v
	}
	if path != "" {
		if err := cfg.loadFile(path); err != nil {
			return nil, err
		}
	}

	var problems []Problem
	for _, s := range settings {
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if err := s.set(cfg, v); err != nil {
			problems = append(problems, Problem{Key: s.key, Source: s.env, Message: err.Error()})
		}
	}
	for _, s := range settings {
		v, ok := explicit[s.flag]
		if s.flag == "" || !ok {
			continue
		}
		if err := s.set(cfg, v); err != nil {
			problems = append(problems, Problem{Key: s.key, Source: "--" + s.flag, Message: err.Error()})
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	cfg.fillDerived()
	return cfg, nil
}

// loadFile decodes the YAML file at path over c. Unknown keys are errors, so
// that a misspelt key does not silently keep its default.
func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: read file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// fillDerived fills the defaults that depend on other settings.
func (c *Config) fillDerived() {
	if c.Dev {
		if c.Issuer == "" {
			c.Issuer = DevIssuer
		}
		if c.AdminToken == "" {
			c.AdminToken = randomHex(32)
			c.AdminTokenGenerated = true
		}
		if c.SecretKey == "" {
			c.SecretKey = randomHex(32)
			c.SecretKeyGenerated = true
		}
	}
	if c.Listen == "" {
		port := "8080"
		if u, err := url.Parse(c.Issuer); err == nil && u.Port() != "" {
			port = u.Port()
		}
		host := ""
		if c.Dev {
			host = "127.0.0.1"
		}
		c.Listen = net.JoinHostPort(host, port)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b)
}

// Package bank logs citizens in through their bank: each bank is an
// upstream OpenID Connect provider, configured by the operator as a
// Connector (issuer, client id and secret, scopes, claim mapping, and
// whether the bank identified its customers in person). A Connector is a
// factors.Redirector: Start makes the authorization request (code flow
// with PKCE S256, state and nonce, through golang.org/x/oauth2), Finish
// checks the callback, redeems the code, verifies the ID token with
// github.com/coreos/go-oidc and reads userinfo, and maps the claims to
// this provider's fields (claims.go), verified or not.
package bank

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/store"
)

// Config is one bank as the operator configures it (the YAML file's
// banks list, or IDP_BANKS as JSON).
type Config struct {
	// ID names the connector in URLs, links and the history: lower-case
	// letters, digits and hyphens, at most 32.
	ID string `yaml:"id" json:"id"`
	// NameRU and NameEN are the bank's name on the pages (NameEN defaults
	// to NameRU).
	NameRU string `yaml:"name_ru" json:"name_ru"`
	NameEN string `yaml:"name_en" json:"name_en"`
	// Issuer is the bank's OpenID Connect issuer (discovery at
	// Issuer/.well-known/openid-configuration): https, or http to a
	// loopback host.
	Issuer       string `yaml:"issuer" json:"issuer"`
	ClientID     string `yaml:"client_id" json:"client_id"`
	ClientSecret string `yaml:"client_secret" json:"client_secret"`
	// Scopes asked of the bank; openid is always asked. Empty: DefaultScopes.
	Scopes []string `yaml:"scopes" json:"scopes"`
	// Claims overrides DefaultClaims: field -> claim path ("" drops it).
	Claims map[string]string `yaml:"claims" json:"claims"`
	// IdentifiesInPerson: the bank identified its customers in person
	// (with their passport, at a branch), so its verified data may raise
	// an account to confirmed.
	IdentifiesInPerson bool `yaml:"identifies_in_person" json:"identifies_in_person"`
	// Confirm lists what must match for the confirmed level, of
	// ConfirmGroups; empty: all of them.
	Confirm []string `yaml:"confirm" json:"confirm"`
}

// DefaultScopes are asked when a connector names none: this provider's
// own scopes for the fields of DefaultClaims.
var DefaultScopes = []string{"openid", "fullname", "birthdate", "gender", "birthplace", "citizenship", "snils", "inn", "id_doc", "mobile", "email"}

// The groups of fields that must match for a bank to confirm an account.
const (
	ConfirmSNILS     = "snils"
	ConfirmName      = "name"
	ConfirmBirthdate = "birthdate"
	ConfirmPassport  = "passport"
)

// ConfirmGroups lists the groups, in the order a mismatch is explained.
var ConfirmGroups = []string{ConfirmSNILS, ConfirmName, ConfirmBirthdate, ConfirmPassport}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Validate lists every problem of the configuration, as "field: problem".
func (c *Config) Validate() []string {
	var out []string
	if !idPattern.MatchString(c.ID) {
		out = append(out, "id: lower-case letters, digits and hyphens, at most 32, is required")
	}
	if strings.TrimSpace(c.NameRU) == "" {
		out = append(out, "name_ru: the bank's name is required")
	}
	if err := checkIssuer(c.Issuer); err != nil {
		out = append(out, "issuer: "+err.Error())
	}
	if c.ClientID == "" {
		out = append(out, "client_id: required")
	}
	if c.ClientSecret == "" {
		out = append(out, "client_secret: required (the bank's confidential client)")
	}
	if _, err := NewMapping(c.Claims); err != nil {
		out = append(out, err.Error())
	}
	for _, g := range c.Confirm {
		if !slices.Contains(ConfirmGroups, g) {
			out = append(out, fmt.Sprintf("confirm: unknown %q (known: %s)", g, strings.Join(ConfirmGroups, ", ")))
		}
	}
	return out
}

// checkIssuer accepts an https URL, or http to a loopback host.
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("an https URL of the bank's issuer is required")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return errors.New("must be https (http only to a loopback host)")
}

// Connector is a configured bank; it implements factors.Redirector. The
// bank's discovery document is fetched at first use, and again after a
// failure: a bank that is down at start does not stop the server.
type Connector struct {
	cfg     Config
	mapping Mapping
	scopes  []string
	confirm []string
	client  *http.Client
	oauth   oauth2.Config

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

var _ factors.Redirector = (*Connector)(nil)

// New returns the connector of cfg (which must be valid), whose callback
// is redirectURL, calling the bank through client (a client with a
// 10-second timeout when nil).
func New(cfg Config, redirectURL string, client *http.Client) (*Connector, error) {
	if problems := cfg.Validate(); len(problems) > 0 {
		return nil, fmt.Errorf("bank %q: %s", cfg.ID, strings.Join(problems, "; "))
	}
	m, err := NewMapping(cfg.Claims)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	confirm := cfg.Confirm
	if len(confirm) == 0 {
		confirm = ConfirmGroups
	}
	return &Connector{
		cfg: cfg, mapping: m, scopes: slices.Clone(scopes), confirm: slices.Clone(confirm), client: client,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: redirectURL, Scopes: slices.Clone(scopes)},
	}, nil
}

// Name is the connector's id.
func (c *Connector) Name() string { return c.cfg.ID }

// Kind is factors.KindRedirect.
func (c *Connector) Kind() factors.Kind { return factors.KindRedirect }

// AMR is "fed" (RFC 8176: federated authentication).
func (c *Connector) AMR() string { return "fed" }

// Enrolled reports whether the account linked this bank.
func (c *Connector) Enrolled(a *store.Account) bool { return a.Factors.Bank(c.cfg.ID) != nil }

// DisplayName is the bank's name in the language ("ru" or "en").
func (c *Connector) DisplayName(lang string) string {
	if lang == "en" && c.cfg.NameEN != "" {
		return c.cfg.NameEN
	}
	return c.cfg.NameRU
}

// IdentifiesInPerson reports whether the bank identified its customers in
// person, so that its verified data may confirm an account.
func (c *Connector) IdentifiesInPerson() bool { return c.cfg.IdentifiesInPerson }

// ConfirmGroups lists what must match for the bank to confirm an account.
func (c *Connector) ConfirmGroups() []string { return slices.Clone(c.confirm) }

// Errors of Start and Finish. Each carries what the citizen is told;
// details are wrapped for the log.
var (
	// ErrUnavailable: the bank did not answer (discovery, token or
	// userinfo endpoint).
	ErrUnavailable = errors.New("bank: the bank is unavailable")
	// ErrDenied: the citizen declined at the bank (access_denied).
	ErrDenied = errors.New("bank: the citizen declined at the bank")
	// ErrRefused: the bank answered with an error, or with a response
	// that does not hold (wrong state, issuer, nonce, a token that does
	// not verify).
	ErrRefused = errors.New("bank: the bank's answer was refused")
)

func (c *Connector) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, c.verifier, nil
	}
	p, err := oidc.NewProvider(c.ctx(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: discovery: %w", ErrUnavailable, err)
	}
	c.provider = p
	c.verifier = p.Verifier(&oidc.Config{ClientID: c.cfg.ClientID})
	c.oauth.Endpoint = p.Endpoint()
	return c.provider, c.verifier, nil
}

// ctx carries the connector's HTTP client to go-oidc and x/oauth2.
func (c *Connector) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, c.client), c.client)
}

// Start makes the authorization request: a fresh state, nonce and PKCE
// verifier (S256), which the caller keeps until the callback.
func (c *Connector) Start(ctx context.Context) (string, factors.Pending, error) {
	if _, _, err := c.discover(ctx); err != nil {
		return "", factors.Pending{}, err
	}
	p := factors.Pending{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
	c.mu.Lock()
	target := c.oauth.AuthCodeURL(p.State, oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier))
	c.mu.Unlock()
	return target, p, nil
}

// Finish checks the callback against p, redeems the code with the
// verifier, verifies the ID token (signature, issuer, audience, expiry)
// and its nonce, reads userinfo (whose sub must be the ID token's) and
// maps the claims of both, userinfo's over the ID token's.
func (c *Connector) Finish(ctx context.Context, p factors.Pending, q url.Values) (*factors.Upstream, error) {
	cb, err := ParseCallback(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if p.State == "" || subtle.ConstantTimeCompare([]byte(cb.State), []byte(p.State)) != 1 {
		return nil, fmt.Errorf("%w: state does not match", ErrRefused)
	}
	if cb.Error != "" {
		if cb.Error == "access_denied" {
			return nil, ErrDenied
		}
		return nil, fmt.Errorf("%w: the bank answered %s", ErrRefused, cb.Error)
	}
	// RFC 9207: a response naming another issuer is a mix-up.
	if cb.Issuer != "" && cb.Issuer != c.cfg.Issuer {
		return nil, fmt.Errorf("%w: iss %q is not the bank's", ErrRefused, cb.Issuer)
	}
	provider, verifier, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	oauth := c.oauth
	c.mu.Unlock()
	hctx := c.ctx(ctx)
	tok, err := oauth.Exchange(hctx, cb.Code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, fmt.Errorf("%w: token endpoint: %w", ErrRefused, err)
		}
		return nil, fmt.Errorf("%w: token endpoint: %w", ErrUnavailable, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: no ID token", ErrRefused)
	}
	idt, err := verifier.Verify(hctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: ID token: %w", ErrRefused, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return nil, fmt.Errorf("%w: the ID token's nonce does not match", ErrRefused)
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		return nil, fmt.Errorf("%w: the ID token's sub is empty or too long", ErrRefused)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: ID token claims: %w", ErrRefused, err)
	}
	if provider.UserInfoEndpoint() != "" {
		ui, err := provider.UserInfo(hctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, fmt.Errorf("%w: userinfo: %w", ErrUnavailable, err)
		}
		// OpenID Connect Core §5.3.2: userinfo's sub must be the ID token's.
		if ui.Subject != idt.Subject {
			return nil, fmt.Errorf("%w: userinfo's sub is not the ID token's", ErrRefused)
		}
		more := map[string]any{}
		if err := ui.Claims(&more); err != nil {
			return nil, fmt.Errorf("%w: userinfo claims: %w", ErrRefused, err)
		}
		for k, v := range more {
			claims[k] = v
		}
	}
	return &factors.Upstream{Factor: c.cfg.ID, Subject: idt.Subject, Fields: c.mapping.Map(claims)}, nil
}

// random returns 192 random bits, base64url.
func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Set is the configured banks, in the operator's order.
type Set struct{ list []*Connector }

// NewSet opens the connectors of cfgs, whose callback is redirectURL; ids
// must be unique.
func NewSet(cfgs []Config, redirectURL string, client *http.Client) (*Set, error) {
	s := &Set{}
	for _, cfg := range cfgs {
		if s.Get(cfg.ID) != nil {
			return nil, fmt.Errorf("bank %q: configured twice", cfg.ID)
		}
		c, err := New(cfg, redirectURL, client)
		if err != nil {
			return nil, err
		}
		s.list = append(s.list, c)
	}
	return s, nil
}

// List returns the connectors; none for a nil Set.
func (s *Set) List() []*Connector {
	if s == nil {
		return nil
	}
	return s.list
}

// Get returns the connector of the id, or nil.
func (s *Set) Get(id string) *Connector {
	for _, c := range s.List() {
		if c.cfg.ID == id {
			return c
		}
	}
	return nil
}

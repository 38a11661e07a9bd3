package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/esia-oidc/idp/store"
)

// The demo data of development mode.
const (
	DemoClientID    = "demo-catalog"
	DemoRedirectURI = "http://127.0.0.1:8081/callback"
	DemoPhone       = "+79990000001"
	DemoEmail       = "demo@example.ru"
	DemoSNILS       = "11223344595"
	DemoPassword    = "demo-password"
	// DemoVerifier is the PKCE verifier of the printed authorize URL. It is
	// public: it only serves the demo in development mode.
	DemoVerifier = "demo-verifier-that-is-public-and-only-for-development-mode"
)

// SeedDemo stores the demo client and the demo citizen (development mode).
func (s *Server) SeedDemo(ctx context.Context) error {
	now := time.Now().UTC()
	err := s.Durable.CreateClient(ctx, &store.Client{
		ID:                      DemoClientID,
		Name:                    "Каталог услуг (демо)",
		RedirectURIs:            []string{DemoRedirectURI},
		PostLogoutRedirectURIs:  []string{"http://127.0.0.1:8081/"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "fullname", "profile", "birthdate", "gender", "email", "mobile", "phone", "snils", "offline_access"},
		TokenEndpointAuthMethod: "none",
		CreatedAt:               now,
		UpdatedAt:               now,
	})
	if err != nil && !errors.Is(err, store.ErrConflict) { // already seeded
		return fmt.Errorf("seed demo client: %w", err)
	}
	if _, err := s.Durable.FindAccount(ctx, store.IdentifierPhone, DemoPhone); err == nil {
		return nil
	}
	hash, err := s.Passwords.Hash(ctx, DemoPassword)
	if err != nil {
		return fmt.Errorf("seed demo citizen: %w", err)
	}
	err = s.Durable.CreateAccount(ctx, &store.Account{
		ID:            newID(),
		Level:         store.LevelStandard,
		LastName:      "Иванов",
		FirstName:     "Иван",
		MiddleName:    "Иванович",
		Birthdate:     "1990-01-01",
		Gender:        "M",
		Phone:         DemoPhone,
		Email:         DemoEmail,
		SNILS:         DemoSNILS,
		PhoneVerified: true,
		EmailVerified: true,
		PasswordHash:  hash,
		CreatedAt:     now,
		UpdatedAt:     now,
	})
	if err != nil {
		return fmt.Errorf("seed demo citizen: %w", err)
	}
	return nil
}

// DemoAuthorizeURL is an authorization request of the demo client with PKCE.
func DemoAuthorizeURL(issuer string) string {
	sum := sha256.Sum256([]byte(DemoVerifier))
	q := url.Values{
		"client_id":             {DemoClientID},
		"response_type":         {"code"},
		"scope":                 {"openid fullname email mobile"},
		"redirect_uri":          {DemoRedirectURI},
		"state":                 {"demo-state"},
		"nonce":                 {"demo-nonce"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	return issuer + "/authorize?" + q.Encode()
}

// PrintDevHint tells a person how to log in to the development server.
func (s *Server) PrintDevHint(w io.Writer) {
	iss := s.cfg.Issuer
	fmt.Fprintf(w, `
  Development mode: everything is kept in memory and LOST AT EXIT.

  Issuer         %[1]s   (discovery: %[1]s/.well-known/openid-configuration)
  Log in         open this URL in a browser:
                 %[2]s
  Demo citizen   phone +7 999 000-00-01, or %[3]s, or SNILS 112-233-445 95
                 password: %[4]s
  After login    the browser is sent to %[5]s?code=...  (nothing listens there;
                 copy the code from the address bar) and exchange it:
                 curl -s %[1]s/token -d grant_type=authorization_code -d client_id=%[6]s \
                   -d redirect_uri=%[5]s -d code_verifier=%[7]s -d code=CODE
  Dev outbox     %[1]s/dev/outbox   (SMS and e-mail codes)
  Admin API      Authorization: Bearer %[8]s

`, iss, DemoAuthorizeURL(iss), DemoEmail, DemoPassword, DemoRedirectURI, DemoClientID, DemoVerifier, s.cfg.AdminToken)
}

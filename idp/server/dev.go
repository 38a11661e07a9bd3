package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
)

// The demo data of development mode.
const (
	DemoClientID    = "demo-catalog"
	DemoRedirectURI = "http://127.0.0.1:8081/callback"
	// DemoPostLogoutURI and DemoBackchannelLogoutURI are the catalog
	// portal's (cmd/catalog) pages on its default address.
	DemoPostLogoutURI        = "http://127.0.0.1:8081/"
	DemoBackchannelLogoutURI = "http://127.0.0.1:8081/backchannel-logout"
	DemoPhone                = "+79990000001"
	DemoEmail                = "demo@example.ru"
	DemoSNILS                = "11223344595"
	DemoPassword             = "demo-password"
	// The other demo citizens: simplified, and confirmed; and the demo
	// operator of the console (/operator), also a supervisor. They share
	// DemoPassword.
	DemoPhoneSimplified = "+79990000002"
	DemoPhoneConfirmed  = "+79990000003"
	DemoSNILSConfirmed  = "98765432183"
	DemoOperator        = "demo"
	// DemoVerifier is the PKCE verifier of the printed authorize URL. It is
	// public: it only serves the demo in development mode.
	DemoVerifier = "demo-verifier-that-is-public-and-only-for-development-mode"
)

// DemoClientScopes lists the scopes the demo client may ask for: those of
// the catalog portal's services (cmd/catalog; its tests check that every
// scope a service asks for is here and in the consent table).
func DemoClientScopes() []string {
	return []string{"openid", "fullname", "profile", "birthdate", "gender", "email", "mobile", "phone", "snils", "offline_access"}
}

// ErrSeedNotInMemory: SeedDemo was asked to seed a durable store that is not
// the in-memory one. A demo citizen with a published password must never
// reach a database that production mode may serve later.
var ErrSeedNotInMemory = errors.New("server: the demo data are seeded only into the in-memory store")

// SeedsDemo reports whether development mode seeds the demo client and
// citizen: only when the data of record are kept in memory.
func (s *Server) SeedsDemo() bool {
	_, mem := s.Durable.(*memory.Store)
	return s.cfg.Dev && mem
}

// SeedDemo stores the demo client and the demo citizen (development mode, in
// memory only: ErrSeedNotInMemory otherwise).
func (s *Server) SeedDemo(ctx context.Context) error {
	if !s.SeedsDemo() {
		return ErrSeedNotInMemory
	}
	now := time.Now().UTC()
	err := s.Durable.CreateClient(ctx, &store.Client{
		ID:                      DemoClientID,
		Name:                    "Каталог услуг (демо)",
		RedirectURIs:            []string{DemoRedirectURI},
		PostLogoutRedirectURIs:  []string{DemoPostLogoutURI},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  DemoClientScopes(),
		TokenEndpointAuthMethod: "none",
		BackchannelLogoutURI:    DemoBackchannelLogoutURI,
		CreatedAt:               now,
		UpdatedAt:               now,
	})
	if err != nil && !errors.Is(err, store.ErrConflict) { // already seeded
		return fmt.Errorf("seed demo client: %w", err)
	}
	hash, err := s.Passwords.Hash(ctx, DemoPassword)
	if err != nil {
		return fmt.Errorf("seed demo citizens: %w", err)
	}
	for _, c := range demoCitizens() {
		if _, err := s.Durable.FindAccount(ctx, store.IdentifierPhone, c.Phone); err == nil {
			continue // already seeded
		}
		c.ID, c.PasswordHash, c.PhoneVerified, c.CreatedAt, c.UpdatedAt = newID(), hash, true, now, now
		c.EmailVerified = c.Email != ""
		if c.Level.Rank() >= store.LevelStandard.Rank() {
			// Checked data: a passed registry check (and, for confirmed,
			// an operator's check) on the data as they are.
			d := account.CheckedDigest(c)
			c.Verification = &store.Verification{ID: "demo-check-" + c.ID, Status: store.VerificationApproved, Digest: d, RequestedAt: now, DecidedAt: now}
			c.Evidence = []store.Evidence{{Kind: store.EvidenceRegistry, At: now, Ref: c.Verification.ID, Digest: d}}
			if c.Level == store.LevelConfirmed {
				c.ConfirmationMethod = store.EvidenceOperator
				c.Evidence = append(c.Evidence, store.Evidence{Kind: store.EvidenceOperator, At: now, Ref: "demo-operator", Digest: d})
			}
		}
		if err := s.Durable.CreateAccount(ctx, c); err != nil {
			return fmt.Errorf("seed demo citizen: %w", err)
		}
	}
	if _, err := s.Durable.FindOperator(ctx, DemoOperator); errors.Is(err, store.ErrNotFound) {
		err = s.Durable.CreateOperator(ctx, &store.Operator{
			ID: newID(), Login: DemoOperator, Name: "Демо-оператор", PasswordHash: hash,
			Roles: []string{store.RoleOperator, store.RoleSupervisor}, CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			return fmt.Errorf("seed demo operator: %w", err)
		}
	}
	return nil
}

// demoCitizens are the demo citizens, one of each level: Иван Иванов at
// standard with checked personal data, Мария Петрова at simplified (she
// can fill in her data and watch the check), Ольга Смирнова confirmed.
func demoCitizens() []*store.Account {
	return []*store.Account{
		{
			Level: store.LevelStandard, LastName: "Иванов", FirstName: "Иван", MiddleName: "Иванович",
			Birthdate: "1990-01-01", Gender: "M", Birthplace: "г. Москва", Citizenship: "RUS",
			Phone: DemoPhone, Email: DemoEmail, SNILS: DemoSNILS, INN: "500100732259",
			RegistrationAddress: "101000, г. Москва, ул. Мясницкая, д. 1, кв. 1",
			Passport:            &store.Document{Type: store.DocPassport, Series: "4510", Number: "123456", IssueDate: "2010-01-15", Issuer: "ОВД района Басманный г. Москвы", DepartmentCode: "770-001"},
		},
		{
			Level: store.LevelSimplified, LastName: "Петрова", FirstName: "Мария", MiddleName: "Сергеевна",
			Phone: DemoPhoneSimplified,
		},
		{
			Level: store.LevelConfirmed, LastName: "Смирнова", FirstName: "Ольга", MiddleName: "Викторовна",
			Birthdate: "1985-03-02", Gender: "F", Birthplace: "г. Тула", Citizenship: "RUS",
			Phone: DemoPhoneConfirmed, SNILS: DemoSNILSConfirmed,
			Passport: &store.Document{Type: store.DocPassport, Series: "7005", Number: "654321", IssueDate: "2005-04-01", Issuer: "ОВД Центрального района г. Тулы", DepartmentCode: "710-001"},
		},
	}
}

// demoIdentifiers are the demo citizen's identifiers.
var demoIdentifiers = []struct {
	kind  store.IdentifierKind
	value string
}{
	{store.IdentifierPhone, DemoPhone},
	{store.IdentifierEmail, DemoEmail},
	{store.IdentifierSNILS, DemoSNILS},
	{store.IdentifierPhone, DemoPhoneSimplified},
	{store.IdentifierPhone, DemoPhoneConfirmed},
	{store.IdentifierSNILS, DemoSNILSConfirmed},
}

// DemoDataError says that the durable store holds demo records, which
// production mode refuses to serve, and how to remove them.
type DemoDataError struct {
	Client   bool     // the demo client demo-catalog exists
	Accounts []string // ids of accounts with a demo identifier and the demo password
}

func (e *DemoDataError) Error() string {
	var b strings.Builder
	b.WriteString("the database holds the demo data of development mode, which production refuses to serve:")
	var grants, consents []string // WHERE terms
	if e.Client {
		fmt.Fprintf(&b, "\n  client %s (public, redirects to %s)", DemoClientID, DemoRedirectURI)
		grants = append(grants, "client_id = "+sqlString(DemoClientID))
		consents = append(consents, "client_id = "+sqlString(DemoClientID))
	}
	ids := make([]string, len(e.Accounts))
	for i, id := range e.Accounts {
		fmt.Fprintf(&b, "\n  account %s (a demo identifier and the published password %q)", id, DemoPassword)
		ids[i] = sqlString(id)
	}
	list := strings.Join(ids, ", ")
	if len(ids) > 0 {
		grants = append(grants, "subject IN ("+list+")")
		consents = append(consents, "account_id IN ("+list+")")
	}
	b.WriteString("\nAn `idp serve --dev` run on this database seeded them (development mode no longer seeds a database)." +
		"\nRemove them, with what was issued to them, in psql on IDP_DATABASE_URL:\n  BEGIN;")
	fmt.Fprintf(&b, "\n  DELETE FROM grants WHERE %s;", strings.Join(grants, " OR "))
	fmt.Fprintf(&b, "\n  DELETE FROM consents WHERE %s;", strings.Join(consents, " OR "))
	if e.Client {
		fmt.Fprintf(&b, "\n  DELETE FROM clients WHERE id = %s;", sqlString(DemoClientID))
	}
	if len(ids) > 0 {
		fmt.Fprintf(&b, "\n  DELETE FROM accounts WHERE id IN (%s);", list)
	}
	b.WriteString("\n  COMMIT;")
	return b.String()
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// checkNoDemo returns a *DemoDataError when the durable store holds the demo
// client, or an account that holds one of the demo citizen's identifiers
// and still accepts the published demo password. An account that only
// shares an identifier (+7 999 is a real operator's prefix) is a citizen's
// and is left alone.
func (s *Server) checkNoDemo(ctx context.Context) error {
	found := &DemoDataError{}
	_, err := s.Durable.GetClient(ctx, DemoClientID)
	switch {
	case err == nil:
		found.Client = true
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("look for the demo client: %w", err)
	}
	seen := map[string]bool{}
	for _, id := range demoIdentifiers {
		acct, err := s.Durable.FindAccount(ctx, id.kind, id.value)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look for the demo citizen: %w", err)
		}
		if seen[acct.ID] || acct.PasswordHash == "" {
			continue
		}
		seen[acct.ID] = true
		ok, err := s.Passwords.Verify(ctx, DemoPassword, acct.PasswordHash)
		if err != nil && !errors.Is(err, password.ErrMalformed) {
			return fmt.Errorf("look for the demo citizen: %w", err)
		}
		if ok {
			found.Accounts = append(found.Accounts, acct.ID)
		}
	}
	if found.Client || len(found.Accounts) > 0 {
		return found
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

// PrintDevHint tells a person how to log in to the development server: with
// the demo data when SeedsDemo, else where the server is and its admin token.
func (s *Server) PrintDevHint(w io.Writer) {
	iss := s.cfg.Issuer
	// The admin token is shown only when it was generated for this run: a
	// token from the environment or a file is the operator's secret and
	// stays out of terminals and logs.
	admin := "the token in IDP_ADMIN_TOKEN"
	if s.cfg.AdminTokenGenerated {
		admin = s.cfg.AdminToken
	}
	if !s.SeedsDemo() {
		fmt.Fprintf(w, `
  Development mode on a database: no demo client or citizen (they are seeded
  only into the in-memory store). Register clients and accounts with the
  admin API.

  Issuer         %[1]s   (discovery: %[1]s/.well-known/openid-configuration)
  Register       %[1]s/register   (the code is in the dev outbox)
  Account        %[1]s/account
  Operator       %[1]s/operator   (create operators with POST /admin/operators)
  Dev outbox     %[1]s/dev/outbox   (SMS and e-mail codes, letters)
  Admin API      Authorization: Bearer %[2]s

`, iss, admin)
		return
	}
	fmt.Fprintf(w, `
  Development mode: everything is kept in memory and LOST AT EXIT.

  Issuer         %[1]s   (discovery: %[1]s/.well-known/openid-configuration)
  Log in         open this URL in a browser:
                 %[2]s
  Demo citizens  password: %[4]s  (each of them)
                   +7 999 000-00-01 (or %[3]s, or SNILS 112-233-445 95)
                     Иван Иванов, standard, personal data checked
                   +7 999 000-00-02  Мария Петрова, simplified: fill in her
                     personal data at /account/personal to watch the check
                   +7 999 000-00-03  Ольга Смирнова, confirmed
  After login    the browser is sent to %[5]s?code=...: the catalog portal
                 (cmd/catalog; make run starts it beside this server) takes it
                 from there. Without the portal, copy the code from the address
                 bar and exchange it:
                 curl -s %[1]s/token -d grant_type=authorization_code -d client_id=%[6]s \
                   -d redirect_uri=%[5]s -d code_verifier=%[7]s -d code=CODE
  Register       %[1]s/register   (the code is in the dev outbox)
  Account        %[1]s/account    (personal data, letter code, phone and e-mail)
  Operator       %[1]s/operator   (login %[9]s, password %[4]s)
  Dev outbox     %[1]s/dev/outbox   (SMS and e-mail codes, letters)
  Admin API      Authorization: Bearer %[8]s

`, iss, DemoAuthorizeURL(iss), DemoEmail, DemoPassword, DemoRedirectURI, DemoClientID, DemoVerifier, admin, DemoOperator)
}

package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/esia-oidc/idp/factors/bank"
	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/login"
	"github.com/esia-oidc/idp/internal/tracing"
	"github.com/esia-oidc/idp/store"
)

// The bank simulator (development mode, IDP_BANK_SIM): this provider plays
// a bank for another instance of itself. It holds the client of that
// instance's bank login and citizens at the confirmed level, whose
// personal data are checked (so it releases them in verified_claims), all
// in memory.

// The simulator's client: published, as the demo password is, because the
// simulator only ever runs in development mode.
const (
	BankSimClientID     = "idp-bank-sim"
	BankSimClientSecret = "bank-sim-secret-for-development-only"
)

// SimCitizen is a citizen of the bank simulator, as its citizens file
// (IDP_BANK_SIM_CITIZENS, YAML or JSON) lists them. Every one logs in at
// the simulator by phone and DemoPassword.
type SimCitizen struct {
	Phone      string       `yaml:"phone" json:"phone"`
	Email      string       `yaml:"email" json:"email"`
	LastName   string       `yaml:"last_name" json:"last_name"`
	FirstName  string       `yaml:"first_name" json:"first_name"`
	MiddleName string       `yaml:"middle_name" json:"middle_name"`
	Birthdate  string       `yaml:"birthdate" json:"birthdate"` // YYYY-MM-DD
	Gender     string       `yaml:"gender" json:"gender"`       // M or F
	Birthplace string       `yaml:"birthplace" json:"birthplace"`
	SNILS      string       `yaml:"snils" json:"snils"`
	INN        string       `yaml:"inn" json:"inn"`
	Passport   *SimPassport `yaml:"passport" json:"passport"`
}

// SimPassport is a simulator citizen's Russian passport.
type SimPassport struct {
	Series         string `yaml:"series" json:"series"`
	Number         string `yaml:"number" json:"number"`
	IssueDate      string `yaml:"issue_date" json:"issue_date"`
	Issuer         string `yaml:"issuer" json:"issuer"`
	DepartmentCode string `yaml:"department_code" json:"department_code"`
}

// BankSimCitizens are the simulator's own citizens: Иван Иванов as the
// demo server knows him (his bank login links to his account there and
// confirms it), and Пётр Банков, whom the demo server does not know (his
// bank login registers him).
func BankSimCitizens() []SimCitizen {
	return []SimCitizen{
		{
			Phone: DemoPhone, Email: DemoEmail, LastName: "Иванов", FirstName: "Иван", MiddleName: "Иванович",
			Birthdate: "1990-01-01", Gender: "M", Birthplace: "г. Москва", SNILS: DemoSNILS, INN: "500100732259",
			Passport: &SimPassport{Series: "4510", Number: "123456", IssueDate: "2010-01-15", Issuer: "ОВД района Басманный г. Москвы", DepartmentCode: "770-001"},
		},
		{
			Phone: "+79990000011", LastName: "Банков", FirstName: "Пётр", MiddleName: "Петрович",
			Birthdate: "1988-07-14", Gender: "M", Birthplace: "г. Калуга", SNILS: "12345678964",
			Passport: &SimPassport{Series: "4512", Number: "765432", IssueDate: "2012-08-01", Issuer: "ОВД района Хамовники г. Москвы", DepartmentCode: "770-002"},
		},
	}
}

// SeedBankSim stores the simulator's client and citizens (development mode,
// in memory only: ErrSeedNotInMemory otherwise).
func (s *Server) SeedBankSim(ctx context.Context) error {
	if !s.SeedsDemo() {
		return ErrSeedNotInMemory
	}
	citizens := BankSimCitizens()
	if s.cfg.BankSimCitizens != "" {
		var err error
		if citizens, err = readSimCitizens(s.cfg.BankSimCitizens); err != nil {
			return err
		}
	}
	now := time.Now().UTC()
	err := s.Durable.CreateClient(ctx, &store.Client{
		ID:                      BankSimClientID,
		SecretHash:              s.Sealer.HashSecret(BankSimClientSecret),
		Name:                    "Вход через банк (симулятор)",
		RedirectURIs:            []string{s.cfg.BankSimRedirectURI},
		GrantTypes:              []string{"authorization_code"},
		ResponseTypes:           []string{"code"},
		Scopes:                  bank.DefaultScopes,
		TokenEndpointAuthMethod: "client_secret_basic",
		CreatedAt:               now,
		UpdatedAt:               now,
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("seed the bank simulator's client: %w", err)
	}
	hash, err := s.Passwords.Hash(ctx, DemoPassword)
	if err != nil {
		return fmt.Errorf("seed the bank simulator's citizens: %w", err)
	}
	for i, c := range citizens {
		a, err := simAccount(c)
		if err != nil {
			return fmt.Errorf("bank simulator citizen #%d: %w", i+1, err)
		}
		a.ID, a.PasswordHash, a.CreatedAt, a.UpdatedAt = newID(), hash, now, now
		// Checked by the registries and identified in person: the bank
		// vouches for all of it in verified_claims.
		d := account.CheckedDigest(a)
		a.Verification = &store.Verification{ID: "bank-sim-check-" + a.ID, Status: store.VerificationApproved, Digest: d, RequestedAt: now, DecidedAt: now}
		a.Evidence = []store.Evidence{
			{Kind: store.EvidenceRegistry, At: now, Ref: a.Verification.ID, Digest: d},
			{Kind: store.EvidenceOperator, At: now, Ref: "bank-branch", Digest: d},
		}
		if err := s.Durable.CreateAccount(ctx, a); err != nil {
			return fmt.Errorf("seed bank simulator citizen #%d: %w", i+1, err)
		}
	}
	return nil
}

// openBanks gives the login the configured banks, whose callback is the
// issuer's /login/bank/callback.
func (s *Server) openBanks(l *login.Login) error {
	if len(s.cfg.Banks) == 0 {
		return nil
	}
	set, err := bank.NewSet(s.cfg.Banks, s.cfg.Issuer+"/login/bank/callback",
		&http.Client{Timeout: 10 * time.Second, Transport: tracing.Transport("bank", nil)})
	if err != nil {
		return fmt.Errorf("banks: %w", err)
	}
	l.Banks = set
	s.bankName = func(id, lang string) string {
		if c := set.Get(id); c != nil {
			return c.DisplayName(lang)
		}
		return ""
	}
	for _, c := range set.List() {
		s.logger.Info("bank login", "bank", c.Name(), "identifies_in_person", c.IdentifiesInPerson())
	}
	return nil
}

// readSimCitizens reads a citizens file.
func readSimCitizens(path string) ([]SimCitizen, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bank simulator citizens: %w", err)
	}
	var out []SimCitizen
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("bank simulator citizens %s: %w", path, err)
	}
	return out, nil
}

// simAccount is the confirmed account of a simulator citizen.
func simAccount(c SimCitizen) (*store.Account, error) {
	phone, err := identifier.NormalizePhone(c.Phone)
	if err != nil {
		return nil, fmt.Errorf("phone %q: %w", c.Phone, err)
	}
	a := &store.Account{
		Level: store.LevelConfirmed, ConfirmationMethod: store.EvidenceOperator,
		LastName: c.LastName, FirstName: c.FirstName, MiddleName: c.MiddleName,
		Birthdate: c.Birthdate, Gender: c.Gender, Birthplace: c.Birthplace, Citizenship: account.DefaultCitizenship,
		Phone: phone, PhoneVerified: true, INN: c.INN,
	}
	if c.Email != "" {
		if a.Email, err = identifier.NormalizeEmail(c.Email); err != nil {
			return nil, fmt.Errorf("email %q: %w", c.Email, err)
		}
		a.EmailVerified = true
	}
	if c.SNILS != "" {
		if a.SNILS, err = identifier.NormalizeSNILS(c.SNILS); err != nil {
			return nil, fmt.Errorf("snils %q: %w", c.SNILS, err)
		}
	}
	if p := c.Passport; p != nil {
		a.Passport = &store.Document{Type: store.DocPassport, Series: p.Series, Number: p.Number, IssueDate: p.IssueDate, Issuer: p.Issuer, DepartmentCode: p.DepartmentCode}
	}
	return a, nil
}

// PrintBankSimHint tells a person how the simulator is reached.
func (s *Server) PrintBankSimHint(w io.Writer) {
	fmt.Fprintf(w, `
  Bank simulator (development mode, in memory): this server plays a bank.

  Issuer         %[1]s
  Client         %[2]s, secret %[3]s, redirect %[4]s
  Give the other server
                 IDP_BANKS='[{"id":"sim","name_ru":"Банк-симулятор","name_en":"Bank simulator","issuer":"%[1]s","client_id":"%[2]s","client_secret":"%[3]s","identifies_in_person":true}]'
  Citizens       password %[5]s (each of them)
                   +7 999 000-00-01  Иван Иванов (the demo server's, now confirmed by the bank)
                   +7 999 000-00-11  Пётр Банков (unknown to the demo server: registers)

`, s.cfg.Issuer, BankSimClientID, BankSimClientSecret, s.cfg.BankSimRedirectURI, DemoPassword)
}

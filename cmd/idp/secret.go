package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/reseal"
	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/store/postgres"
)

const secretUsage = `usage: idp secret reseal [--database-url URL] [--config FILE]

Seals every signing key in the database again under IDP_SECRET_KEY, opening
it under IDP_SECRET_KEY or one of IDP_SECRET_KEY_PREVIOUS (comma-separated),
and reports the client secrets still hashed under a previous key. Talks to
the database directly, like migrate; safe beside running servers and to run
again. Exits 1 when a key cannot be opened or a client secret is under a key
that is neither current nor previous.
`

// secretCmd runs `idp secret ...`: the one-off jobs of a rotation of
// IDP_SECRET_KEY.
func secretCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reseal" {
		fmt.Fprint(stderr, secretUsage)
		return flag.ErrHelp
	}
	cfg, err := config.Load(args[1:], getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, secretUsage)
		return err
	}
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("secret reseal: no database: set IDP_DATABASE_URL or --database-url")
	}
	if cfg.SecretKey == "" || cfg.SecretKeyGenerated {
		return errors.New("secret reseal: set IDP_SECRET_KEY to the new secret key, and IDP_SECRET_KEY_PREVIOUS to the ones before it")
	}
	if err := cfg.ValidateOnly("database_url", "secret_key", "secret_key_previous"); err != nil {
		return err
	}
	sealer, err := seal.New(cfg.SecretKeyBytes(), cfg.PreviousSecretKeyBytes()...)
	if err != nil {
		return fmt.Errorf("secret reseal: %w", err)
	}
	st, err := postgres.Open(ctx, cfg.DatabaseURL, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	report, err := reseal.Run(ctx, st, sealer)
	if err != nil {
		return err
	}
	if err := report.Write(stdout); err != nil {
		return err
	}
	if len(report.Unreadable) > 0 || len(report.SecretsUnknown) > 0 {
		return errors.New("secret reseal: some values cannot be opened or verified under the configured keys (see above)")
	}
	return nil
}

// Command idp is the identity provider's server and its admin CLI:
//
//	idp serve [--dev] [flags]      run the server
//	idp migrate                    apply database migrations
//	idp secret reseal              re-seal secrets at rest under a new IDP_SECRET_KEY
//	idp clients create|list|get|delete|rotate-secret
//	idp keys list|rotate
//	idp accounts create|get
//	idp version
//	idp healthcheck [--url URL]    exit 0 when the server's /healthz answers 200
//	idp dev-ca init|issue|...      a development certification centre
//	idp sign --challenge TEXT ...  sign a login challenge with a certificate's key
//
// The admin subcommands talk to a running server's admin API (IDP_ISSUER or
// --server, IDP_ADMIN_TOKEN or --token); migrate and secret talk to the
// database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "idp:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: idp <command> [arguments]

commands:
  serve      run the server (--dev: development mode, in memory, demo data)
  migrate    apply the database migrations (IDP_DATABASE_URL)
  secret     reseal: seal secrets at rest again under a new IDP_SECRET_KEY
  clients    create, list, get, delete, rotate-secret OAuth clients
  keys       list, rotate signing keys
  accounts   create, get accounts
  operators  create service-centre operators (the /operator console)
  version    print the version
  healthcheck  exit 0 when this container's server answers 200 at /healthz (no shell needed)
  dev-ca     a development certification centre: init, issue, revoke, crl, serve (tests and development only)
  sign       sign a login challenge with a certificate's key (CMS or JWS), for "Электронная подпись"
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout)
	case "secret":
		return secretCmd(ctx, rest, getenv, stdout, stderr)
	case "clients":
		return clients(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return keysCmd(ctx, rest, getenv, stdout, stderr)
	case "accounts":
		return accounts(ctx, rest, getenv, stdout, stderr)
	case "operators":
		return operators(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, rest, getenv, stdout, stderr)
	case "dev-ca":
		return devCA(ctx, rest, stdout, stderr)
	case "sign":
		return sign(rest, getenv, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "idp", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
)

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// verb is one admin CLI command: setup declares its flags and returns what
// it does with the admin client and its positional arguments; the result,
// when not nil, is printed as JSON.
type verb func(fs *flag.FlagSet) func(ctx context.Context, c *adminclient.Client, args []string) (any, error)

// run parses the verb's flags (plus --server and --token), opens the admin
// client and prints the result.
func (v verb) run(ctx context.Context, name string, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	def := getenv("IDP_ISSUER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	srv := fs.String("server", def, "base URL of the server (IDP_ISSUER)")
	tok := fs.String("token", "", "admin token (default IDP_ADMIN_TOKEN)")
	do := v(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	t := *tok
	if t == "" {
		t = getenv("IDP_ADMIN_TOKEN")
	}
	if t == "" {
		return errors.New("no admin token: set IDP_ADMIN_TOKEN or --token")
	}
	c := adminclient.New(strings.TrimRight(*srv, "/"), t, &http.Client{Timeout: 30 * time.Second})
	out, err := do(ctx, c, fs.Args())
	if err != nil || out == nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// byID is a verb that takes one positional argument, an id.
func byID(what string, call func(ctx context.Context, c *adminclient.Client, id string) (any, error)) verb {
	return func(*flag.FlagSet) func(context.Context, *adminclient.Client, []string) (any, error) {
		return func(ctx context.Context, c *adminclient.Client, args []string) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("expected one %s", what)
			}
			return call(ctx, c, args[0])
		}
	}
}

// noArgs is a verb without flags or arguments of its own.
func noArgs(call func(ctx context.Context, c *adminclient.Client) (any, error)) verb {
	return func(*flag.FlagSet) func(context.Context, *adminclient.Client, []string) (any, error) {
		return func(ctx context.Context, c *adminclient.Client, _ []string) (any, error) { return call(ctx, c) }
	}
}

// dispatch runs "noun verb [flags] [args]".
func dispatch(ctx context.Context, noun, help string, verbs map[string]verb, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: idp %s %s\n", noun, help)
		return flag.ErrHelp
	}
	v, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "usage: idp %s %s\n", noun, help)
		return fmt.Errorf("unknown %s command %q", noun, args[0])
	}
	return v.run(ctx, noun+" "+args[0], args[1:], getenv, stdout)
}

func clients(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	create := func(fs *flag.FlagSet) func(context.Context, *adminclient.Client, []string) (any, error) {
		var m adminclient.ClientMetadata
		var redirects, logouts, grants listFlag
		fs.StringVar(&m.ClientName, "name", "", "client name (required)")
		fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
		fs.Var(&logouts, "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
		fs.Var(&grants, "grant-type", "authorization_code, refresh_token, client_credentials (repeatable)")
		fs.StringVar(&m.Scope, "scope", "", "space-separated scopes the client may request")
		fs.StringVar(&m.TokenEndpointAuthMethod, "auth-method", "", "client_secret_basic (default), client_secret_post, none")
		fs.StringVar(&m.MinLevel, "min-level", "", "simplified, standard or confirmed")
		fs.BoolVar(&m.RequireMFA, "require-mfa", false, "every login for the client needs a second factor")
		fs.StringVar(&m.IDTokenSignedResponseAlg, "id-token-alg", "", "RS256 (default) or ES256")
		fs.StringVar(&m.BackchannelLogoutURI, "backchannel-logout-uri", "", "back-channel logout URI")
		fs.StringVar(&m.SubjectType, "subject-type", "", "pairwise (default: a sub of the client's own) or public (the account id, shared with other public clients)")
		requirePKCE := fs.Bool("require-pkce", true, "require PKCE in the code flow; false only for a confidential legacy client")
		return func(ctx context.Context, c *adminclient.Client, _ []string) (any, error) {
			m.RedirectURIs, m.PostLogoutRedirectURIs, m.GrantTypes = redirects, logouts, grants
			m.RequirePKCE = requirePKCE
			return c.CreateClient(ctx, m)
		}
	}
	return dispatch(ctx, "clients", "create|list|get|delete|rotate-secret [flags]", map[string]verb{
		"create": create,
		"list":   noArgs(func(ctx context.Context, c *adminclient.Client) (any, error) { return c.ListClients(ctx) }),
		"get": byID("client id", func(ctx context.Context, c *adminclient.Client, id string) (any, error) {
			return c.GetClient(ctx, id)
		}),
		"delete": byID("client id", func(ctx context.Context, c *adminclient.Client, id string) (any, error) {
			return nil, c.DeleteClient(ctx, id)
		}),
		"rotate-secret": byID("client id", func(ctx context.Context, c *adminclient.Client, id string) (any, error) {
			return c.RotateClientSecret(ctx, id)
		}),
	}, args, getenv, stdout, stderr)
}

func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	rotate := func(fs *flag.FlagSet) func(context.Context, *adminclient.Client, []string) (any, error) {
		alg := fs.String("alg", "RS256", "RS256 or ES256")
		return func(ctx context.Context, c *adminclient.Client, _ []string) (any, error) {
			return c.RotateKey(ctx, *alg)
		}
	}
	return dispatch(ctx, "keys", "list|rotate [--alg RS256|ES256]", map[string]verb{
		"list":   noArgs(func(ctx context.Context, c *adminclient.Client) (any, error) { return c.ListKeys(ctx) }),
		"rotate": rotate,
	}, args, getenv, stdout, stderr)
}

func accounts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	create := func(fs *flag.FlagSet) func(context.Context, *adminclient.Client, []string) (any, error) {
		var a adminclient.NewAccount
		fs.StringVar(&a.Phone, "phone", "", "phone number")
		fs.StringVar(&a.Email, "email", "", "e-mail address")
		fs.StringVar(&a.SNILS, "snils", "", "SNILS")
		fs.StringVar(&a.Password, "password", "", "password (default: IDP_ACCOUNT_PASSWORD)")
		fs.StringVar(&a.LastName, "last-name", "", "last name")
		fs.StringVar(&a.FirstName, "first-name", "", "first name")
		fs.StringVar(&a.MiddleName, "middle-name", "", "middle name")
		fs.StringVar(&a.Level, "level", "", "simplified (default), standard or confirmed")
		fs.StringVar(&a.Birthdate, "birthdate", "", "YYYY-MM-DD")
		fs.StringVar(&a.Gender, "gender", "", "M or F")
		return func(ctx context.Context, c *adminclient.Client, _ []string) (any, error) {
			if a.Password == "" {
				a.Password = getenv("IDP_ACCOUNT_PASSWORD")
			}
			return c.CreateAccount(ctx, a)
		}
	}
	return dispatch(ctx, "accounts", "create|get|unlock [flags]", map[string]verb{
		"create": create,
		"get": byID("account id", func(ctx context.Context, c *adminclient.Client, id string) (any, error) {
			return c.GetAccount(ctx, id)
		}),
		"unlock": byID("account id", func(ctx context.Context, c *adminclient.Client, id string) (any, error) {
			return map[string]string{"unlocked": id}, c.UnlockAccount(ctx, id)
		}),
	}, args, getenv, stdout, stderr)
}

// operators mirrors POST /admin/operators: the service-centre staff of the
// operator console.
func operators(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	create := func(fs *flag.FlagSet) func(context.Context, *adminclient.Client, []string) (any, error) {
		var o adminclient.NewOperator
		var roles listFlag
		fs.StringVar(&o.Login, "login", "", "login: lower case letters, digits, . _ - @")
		fs.StringVar(&o.Name, "name", "", "the operator's name")
		fs.StringVar(&o.Password, "password", "", "password (default: IDP_OPERATOR_PASSWORD)")
		fs.Var(&roles, "role", "operator or supervisor (repeat for both; default operator)")
		return func(ctx context.Context, c *adminclient.Client, _ []string) (any, error) {
			if o.Password == "" {
				o.Password = getenv("IDP_OPERATOR_PASSWORD")
			}
			o.Roles = roles
			if len(o.Roles) == 0 {
				o.Roles = []string{"operator"}
			}
			return c.CreateOperator(ctx, o)
		}
	}
	return dispatch(ctx, "operators", "create [flags]", map[string]verb{"create": create}, args, getenv, stdout, stderr)
}

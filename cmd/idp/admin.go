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

// adminFlags adds --server and --token and returns a constructor of the client.
func adminFlags(fs *flag.FlagSet, getenv func(string) string) func() (*adminclient.Client, error) {
	def := getenv("IDP_ISSUER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	srv := fs.String("server", def, "base URL of the server (IDP_ISSUER)")
	tok := fs.String("token", "", "admin token (default IDP_ADMIN_TOKEN)")
	return func() (*adminclient.Client, error) {
		t := *tok
		if t == "" {
			t = getenv("IDP_ADMIN_TOKEN")
		}
		if t == "" {
			return nil, errors.New("no admin token: set IDP_ADMIN_TOKEN or --token")
		}
		return adminclient.New(strings.TrimRight(*srv, "/"), t, &http.Client{Timeout: 30 * time.Second}), nil
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// sub dispatches "noun verb [flags] [args]".
func sub(noun string, args []string, stderr io.Writer, verbs map[string]func([]string) error, help string) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: idp %s %s\n", noun, help)
		return flag.ErrHelp
	}
	f, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "usage: idp %s %s\n", noun, help)
		return fmt.Errorf("unknown %s command %q", noun, args[0])
	}
	return f(args[1:])
}

// oneArg parses flags and returns the single positional argument.
func oneArg(fs *flag.FlagSet, args []string, what string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", fmt.Errorf("%s: expected one %s", fs.Name(), what)
	}
	return fs.Arg(0), nil
}

func clients(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	byID := func(name string, call func(*adminclient.Client, string) (any, error)) func([]string) error {
		return func(args []string) error {
			fs := flag.NewFlagSet("clients "+name, flag.ContinueOnError)
			open := adminFlags(fs, getenv)
			id, err := oneArg(fs, args, "client id")
			if err != nil {
				return err
			}
			c, err := open()
			if err != nil {
				return err
			}
			v, err := call(c, id)
			if err != nil || v == nil {
				return err
			}
			return printJSON(stdout, v)
		}
	}
	return sub("clients", args, stderr, map[string]func([]string) error{
		"create": func(args []string) error {
			fs := flag.NewFlagSet("clients create", flag.ContinueOnError)
			open := adminFlags(fs, getenv)
			var m adminclient.ClientMetadata
			var redirects, logouts, grants listFlag
			fs.StringVar(&m.ClientName, "name", "", "client name (required)")
			fs.Var(&redirects, "redirect-uri", "redirect URI (repeatable)")
			fs.Var(&logouts, "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
			fs.Var(&grants, "grant-type", "authorization_code, refresh_token, client_credentials (repeatable)")
			fs.StringVar(&m.Scope, "scope", "", "space-separated scopes the client may request")
			fs.StringVar(&m.TokenEndpointAuthMethod, "auth-method", "", "client_secret_basic (default), client_secret_post, none")
			fs.StringVar(&m.MinLevel, "min-level", "", "simplified, standard or confirmed")
			fs.StringVar(&m.BackchannelLogoutURI, "backchannel-logout-uri", "", "back-channel logout URI")
			if err := fs.Parse(args); err != nil {
				return err
			}
			m.RedirectURIs, m.PostLogoutRedirectURIs, m.GrantTypes = redirects, logouts, grants
			c, err := open()
			if err != nil {
				return err
			}
			info, err := c.CreateClient(ctx, m)
			if err != nil {
				return err
			}
			return printJSON(stdout, info)
		},
		"list": func(args []string) error {
			fs := flag.NewFlagSet("clients list", flag.ContinueOnError)
			open := adminFlags(fs, getenv)
			if err := fs.Parse(args); err != nil {
				return err
			}
			c, err := open()
			if err != nil {
				return err
			}
			list, err := c.ListClients(ctx)
			if err != nil {
				return err
			}
			return printJSON(stdout, list)
		},
		"get": byID("get", func(c *adminclient.Client, id string) (any, error) { return c.GetClient(ctx, id) }),
		"delete": byID("delete", func(c *adminclient.Client, id string) (any, error) {
			return nil, c.DeleteClient(ctx, id)
		}),
		"rotate-secret": byID("rotate-secret", func(c *adminclient.Client, id string) (any, error) {
			return c.RotateClientSecret(ctx, id)
		}),
	}, "create|list|get|delete|rotate-secret [flags]")
}

func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return sub("keys", args, stderr, map[string]func([]string) error{
		"list": func(args []string) error {
			fs := flag.NewFlagSet("keys list", flag.ContinueOnError)
			open := adminFlags(fs, getenv)
			if err := fs.Parse(args); err != nil {
				return err
			}
			c, err := open()
			if err != nil {
				return err
			}
			list, err := c.ListKeys(ctx)
			if err != nil {
				return err
			}
			return printJSON(stdout, list)
		},
		"rotate": func(args []string) error {
			fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
			open := adminFlags(fs, getenv)
			alg := fs.String("alg", "RS256", "RS256 or ES256")
			if err := fs.Parse(args); err != nil {
				return err
			}
			c, err := open()
			if err != nil {
				return err
			}
			k, err := c.RotateKey(ctx, *alg)
			if err != nil {
				return err
			}
			return printJSON(stdout, k)
		},
	}, "list|rotate [--alg RS256|ES256]")
}

func accounts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return sub("accounts", args, stderr, map[string]func([]string) error{
		"create": func(args []string) error {
			fs := flag.NewFlagSet("accounts create", flag.ContinueOnError)
			open := adminFlags(fs, getenv)
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
			if err := fs.Parse(args); err != nil {
				return err
			}
			if a.Password == "" {
				a.Password = getenv("IDP_ACCOUNT_PASSWORD")
			}
			c, err := open()
			if err != nil {
				return err
			}
			info, err := c.CreateAccount(ctx, a)
			if err != nil {
				return err
			}
			return printJSON(stdout, info)
		},
		"get": func(args []string) error {
			fs := flag.NewFlagSet("accounts get", flag.ContinueOnError)
			open := adminFlags(fs, getenv)
			id, err := oneArg(fs, args, "account id")
			if err != nil {
				return err
			}
			c, err := open()
			if err != nil {
				return err
			}
			info, err := c.GetAccount(ctx, id)
			if err != nil {
				return err
			}
			return printJSON(stdout, info)
		},
	}, "create|get [flags]")
}

package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

// What the scenarios need on the server (a client, accounts) and the
// operation each one repeats.

// register creates the confidential client and the accounts.
func (b *bench) register(ctx context.Context, admin *adminclient.Client) error {
	ci, err := admin.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:              "idpbench",
		RedirectURIs:            []string{redirectURI},
		GrantTypes:              []string{"client_credentials", "authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scope:                   benchScope,
		TokenEndpointAuthMethod: "client_secret_basic",
	})
	if err != nil {
		return fmt.Errorf("create the client: %w", err)
	}
	if ci.ClientSecret == "" {
		return errors.New("create the client: no secret in the answer")
	}
	b.clientID, b.secret = ci.ClientID, ci.ClientSecret
	run := randomB64(6)
	for i := range b.o.Accounts {
		l := testserver.Login{
			Identifier: fmt.Sprintf("bench-%s-%03d@example.org", run, i),
			Password:   "bench-" + randomB64(12),
		}
		_, err := admin.CreateAccount(ctx, adminclient.NewAccount{
			Email: l.Identifier, Password: l.Password,
			LastName: "Нагрузкин", FirstName: "Тест", MiddleName: "Бенчевич",
		})
		if err != nil {
			return fmt.Errorf("create account %d: %w", i, err)
		}
		b.logins = append(b.logins, l)
	}
	fmt.Fprintf(b.w, "idpbench: registered client %s (client_secret_basic) and %d accounts\n", b.clientID, len(b.logins))
	return nil
}

// login is the account worker w logs in with.
func (b *bench) login(w int) testserver.Login { return b.logins[w%len(b.logins)] }

// prepare checks a scenario works once and returns its operation.
func (b *bench) prepare(ctx context.Context, c *rp, sc string) (op, error) {
	switch sc {
	case scCCRS256, scCCES256:
		if oc, desc := c.clientCredentials(ctx, 0); oc != outcomeOK {
			return nil, errors.New(desc)
		}
		return c.clientCredentials, nil

	case scIntrospect:
		// A citizen's access token from a flow of its own, never refreshed
		// (a refresh would revoke it).
		tr, err := b.flow(ctx, c, 0)
		if err != nil {
			return nil, err
		}
		form := introspectForm(tr.AccessToken)
		if oc, desc := c.introspect(ctx, 0, form); oc != outcomeOK {
			return nil, errors.New(desc)
		}
		return func(ctx context.Context, w int) (outcome, string) { return c.introspect(ctx, w, form) }, nil

	case scRefresh:
		if len(b.chains) != b.maxConc {
			fmt.Fprintf(b.w, "idpbench: obtaining %d refresh token chains by code flows\n", b.maxConc)
			tokens, err := b.flows(ctx, c, b.maxConc)
			if err != nil {
				return nil, err
			}
			b.chains = make([]string, len(tokens))
			for i, t := range tokens {
				b.chains[i] = t.RefreshToken
			}
		}
		chains := b.chains
		return func(ctx context.Context, w int) (outcome, string) {
			tr, oc, desc := c.refresh(ctx, w, chains[w])
			switch oc {
			case outcomeOK:
				chains[w] = tr.RefreshToken
			case outcomeFailed:
				// The chain may be broken (its token spent without the
				// answer arriving): start a new one, outside the count.
				if tr, err := b.flow(ctx, c, w); err == nil {
					chains[w] = tr.RefreshToken
				}
			}
			return oc, desc
		}, nil

	case scCodeFlow:
		// One flow per account first, so that every account has consented
		// (unless -prompt-consent asks every time).
		if _, err := b.flows(ctx, c, len(b.logins)); err != nil {
			return nil, err
		}
		if c.promptConsent {
			fmt.Fprintln(b.w, "idpbench: code flows: authorize → login → consent (prompt=consent) → token, a fresh cookie jar each")
		} else {
			fmt.Fprintln(b.w, "idpbench: code flows: authorize → login → token, a fresh cookie jar each; consent remembered (given once per account beforehand)")
		}
		return func(ctx context.Context, w int) (outcome, string) {
			_, oc, desc := c.codeFlow(ctx, b.login(w))
			return oc, desc
		}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", sc)
}

// flow runs a code flow as worker w's account for the setup, retrying a
// few times when the server sheds it.
func (b *bench) flow(ctx context.Context, c *rp, w int) (tokenResponse, error) {
	for attempt := 0; ; attempt++ {
		tr, oc, desc := c.codeFlow(ctx, b.login(w))
		switch {
		case oc == outcomeOK:
			return tr, nil
		case oc == outcomeShed && attempt < 10 && ctx.Err() == nil:
			time.Sleep(200 * time.Millisecond)
		default:
			return tr, errors.New(desc)
		}
	}
}

// flows runs n code flows, GOMAXPROCS at a time, the i-th as worker i's
// account, and returns their tokens.
func (b *bench) flows(ctx context.Context, c *rp, n int) ([]tokenResponse, error) {
	out := make([]tokenResponse, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = b.flow(ctx, c, i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("code flow %d: %w", i, err)
		}
	}
	return out, nil
}

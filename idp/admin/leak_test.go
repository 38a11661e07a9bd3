package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

// errInternal looks like what a driver says; none of it may reach a client.
var errInternal = errors.New(`sql: connection refused at store/postgres/clients.go:42 goroutine 7 [running] password=s3cr3t`)

// broken answers errInternal from everything.
type broken struct{}

func (broken) CreateClient(context.Context, *store.Client) error          { return errInternal }
func (broken) GetClient(context.Context, string) (*store.Client, error)   { return nil, errInternal }
func (broken) ListClients(context.Context) ([]*store.Client, error)       { return nil, errInternal }
func (broken) DeleteClient(context.Context, string) error                 { return errInternal }
func (broken) CreateAccount(context.Context, *store.Account) error        { return errInternal }
func (broken) GetAccount(context.Context, string) (*store.Account, error) { return nil, errInternal }
func (broken) List(context.Context) ([]*store.SigningKey, error)          { return nil, errInternal }
func (broken) Rotate(context.Context, string) (*store.SigningKey, error)  { return nil, errInternal }
func (broken) Hash(context.Context, string) (string, error)               { return "", errInternal }
func (broken) GenerateSecret() (string, error)                            { return "", errInternal }
func (broken) HashSecret(string) []byte                                   { return nil }
func (broken) UpdateClient(context.Context, string, func(*store.Client) error) (*store.Client, error) {
	return nil, errInternal
}
func (broken) FindAccount(context.Context, store.IdentifierKind, string) (*store.Account, error) {
	return nil, errInternal
}
func (broken) DeleteAccount(context.Context, string) error           { return errInternal }
func (broken) CreateOperator(context.Context, *store.Operator) error { return errInternal }
func (broken) GetOperator(context.Context, string) (*store.Operator, error) {
	return nil, errInternal
}
func (broken) FindOperator(context.Context, string) (*store.Operator, error) {
	return nil, errInternal
}
func (broken) ListOperators(context.Context) ([]*store.Operator, error) { return nil, errInternal }
func (broken) UpdateOperator(context.Context, string, func(*store.Operator) error) (*store.Operator, error) {
	return nil, errInternal
}
func (broken) UpdateAccount(context.Context, string, func(*store.Account) error) (*store.Account, error) {
	return nil, errInternal
}

func checkNoLeak(t *testing.T, e *env, method, path, body string) {
	t.Helper()
	res := e.raw(t, method, path, body)
	if res.status != http.StatusInternalServerError {
		t.Errorf("%s %s: status %d, want 500; body %s", method, path, res.status, res.body)
	}
	var er adminclient.ErrorResponse
	if err := json.Unmarshal([]byte(res.body), &er); err != nil || er.Code != codeServerError {
		t.Errorf("%s %s: body %s, want server_error", method, path, res.body)
	}
	for _, leak := range []string{"sql:", ".go:", "goroutine", "refused", "s3cr3t"} {
		if strings.Contains(res.body, leak) {
			t.Errorf("%s %s: body leaks %q: %s", method, path, leak, res.body)
		}
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	// Every dependency broken.
	e := newEnv(t)
	e.api.Clients, e.api.Accounts, e.api.Keys, e.api.Passwords, e.api.Secrets = broken{}, broken{}, broken{}, broken{}, broken{}
	e.api.Operators = broken{}
	for _, rt := range routes {
		checkNoLeak(t, e, rt.method, rt.path, rt.body)
	}
	if !strings.Contains(e.logs.String(), "connection refused") {
		t.Errorf("the internal error was not logged:\n%s", e.logs.String())
	}

	// The store works, but the secret generator and the password hasher fail.
	e = newEnv(t)
	e.api.Secrets, e.api.Passwords = broken{}, broken{}
	checkNoLeak(t, e, "POST", "/admin/clients", `{"client_name":"x","redirect_uris":["https://rp.example/cb"]}`)
	checkNoLeak(t, e, "POST", "/admin/accounts", `{"phone":"+79990000001","password":"correct horse","last_name":"A","first_name":"B"}`)
	checkNoLeak(t, e, "POST", "/admin/operators", `{"login":"ivanova","password":"correct horse battery","name":"И","roles":["operator"]}`)
	if ops, err := e.store.ListOperators(context.Background()); err != nil || len(ops) != 0 {
		t.Errorf("an operator without a password hash was stored: %v %d", err, len(ops))
	}
	if cs, err := e.store.ListClients(context.Background()); err != nil || len(cs) != 0 {
		t.Errorf("a client without a secret was stored: %v %d", err, len(cs))
	}
	if _, err := e.store.FindAccount(context.Background(), store.IdentifierPhone, "+79990000001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an account without a password hash was stored: %v", err)
	}
}

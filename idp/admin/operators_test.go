package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

func TestOperators(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const password = "correct horse battery staple"
	op, err := e.client.CreateOperator(ctx, adminclient.NewOperator{
		Login: "ivanova", Password: password, Name: " Иванова Анна ", Roles: []string{"operator", "supervisor", "operator"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if op.ID == "" || op.Login != "ivanova" || op.Name != "Иванова Анна" || op.Disabled ||
		strings.Join(op.Roles, ",") != "operator,supervisor" || !op.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("created %+v", op)
	}
	stored, err := e.store.FindOperator(ctx, "ivanova")
	if err != nil {
		t.Fatal(err)
	}
	if stored.ID != op.ID || stored.PasswordHash != fakeHash(password) || !stored.HasRole(store.RoleSupervisor) {
		t.Errorf("stored %+v", stored)
	}

	// The answer is 201 with the id and never the password or its hash.
	res := e.raw(t, "POST", "/admin/operators", `{"login":"petrov","password":"correct horse battery","name":"Петров","roles":["operator"]}`)
	if res.status != 201 {
		t.Fatalf("POST /admin/operators: %d %s", res.status, res.body)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(res.body), &created); err != nil || created["id"] == "" || created["id"] == nil {
		t.Fatalf("201 body %s: %v", res.body, err)
	}
	if strings.Contains(res.body, "password") || strings.Contains(res.body, "$fake$") {
		t.Errorf("201 body shows the password or its hash: %s", res.body)
	}

	// A taken login is 409; nothing is stored.
	_, err = e.client.CreateOperator(ctx, adminclient.NewOperator{Login: "ivanova", Password: password, Name: "Другая", Roles: []string{"operator"}})
	wantAPIError(t, err, 409, codeConflict, "login", "taken")
	if ops, err := e.store.ListOperators(ctx); err != nil || len(ops) != 2 {
		t.Errorf("operators after conflict: %v %d, want 2", err, len(ops))
	}

	for _, tt := range []struct {
		name     string
		req      adminclient.NewOperator
		fragment string
	}{
		{"no roles", adminclient.NewOperator{Login: "a", Password: password, Name: "A"}, "roles"},
		{"unknown role", adminclient.NewOperator{Login: "a", Password: password, Name: "A", Roles: []string{"operator", "admin"}}, "roles"},
		{"empty role", adminclient.NewOperator{Login: "a", Password: password, Name: "A", Roles: []string{""}}, "roles"},
		{"no login", adminclient.NewOperator{Password: password, Name: "A", Roles: []string{"operator"}}, "login"},
		{"upper-case login", adminclient.NewOperator{Login: "Ivanova2", Password: password, Name: "A", Roles: []string{"operator"}}, "login"},
		{"login with space", adminclient.NewOperator{Login: "a b", Password: password, Name: "A", Roles: []string{"operator"}}, "login"},
		{"long login", adminclient.NewOperator{Login: strings.Repeat("a", 65), Password: password, Name: "A", Roles: []string{"operator"}}, "login"},
		{"no name", adminclient.NewOperator{Login: "a", Password: password, Name: " ", Roles: []string{"operator"}}, "name"},
		{"control in name", adminclient.NewOperator{Login: "a", Password: password, Name: "A\x07", Roles: []string{"operator"}}, "name"},
		{"no password", adminclient.NewOperator{Login: "a", Name: "A", Roles: []string{"operator"}}, "password"},
		{"weak password", adminclient.NewOperator{Login: "a", Password: "short", Name: "A", Roles: []string{"operator"}}, "password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.CreateOperator(ctx, tt.req)
			wantAPIError(t, err, 400, codeInvalidRequest, tt.fragment)
		})
	}
	if _, err := e.store.FindOperator(ctx, "a"); err == nil {
		t.Error("a refused operator was stored")
	}
	if logs := e.logs.String(); strings.Contains(logs, password) || strings.Contains(logs, "$fake$") {
		t.Errorf("logs hold the password or its hash:\n%s", logs)
	}
}

func TestAccountVerificationState(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acc, err := e.client.CreateAccount(ctx, adminclient.NewAccount{Phone: "+79991112233", Password: "correct horse", LastName: "П", FirstName: "П"})
	if err != nil {
		t.Fatal(err)
	}
	res := e.raw(t, "GET", "/admin/accounts/"+acc.ID, "")
	if res.status != 200 || !strings.Contains(res.body, `"confirmation_method":""`) || !strings.Contains(res.body, `"verification":null`) {
		t.Errorf("GET account with no check: %d %s", res.status, res.body)
	}

	requested := e.clock.Now().Add(-time.Hour)
	if _, err := e.store.UpdateAccount(ctx, acc.ID, func(a *store.Account) error {
		a.Verification = &store.Verification{ID: "chk-1", Status: store.VerificationPending, Digest: "sha256:secret-digest", RequestedAt: requested}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.GetAccount(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Verification; v == nil || v.Status != "pending" || v.Reason != "" || !v.RequestedAt.Equal(requested) || v.DecidedAt != nil {
		t.Errorf("pending verification %+v", v)
	}
	res = e.raw(t, "GET", "/admin/accounts/"+acc.ID, "")
	if strings.Contains(res.body, "decided_at") || strings.Contains(res.body, "secret-digest") {
		t.Errorf("pending check shows decided_at or the digest: %s", res.body)
	}

	decided := e.clock.Now()
	if _, err := e.store.UpdateAccount(ctx, acc.ID, func(a *store.Account) error {
		a.Level = store.LevelConfirmed
		a.ConfirmationMethod = store.EvidenceOperator
		a.Verification.Status, a.Verification.Reason, a.Verification.DecidedAt = store.VerificationRejected, "passport_invalid", decided
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err = e.client.GetAccount(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConfirmationMethod != "operator" || got.Level != "confirmed" {
		t.Errorf("confirmation_method %q, level %q", got.ConfirmationMethod, got.Level)
	}
	if v := got.Verification; v == nil || v.Status != "rejected" || v.Reason != "passport_invalid" || v.DecidedAt == nil || !v.DecidedAt.Equal(decided) {
		t.Errorf("decided verification %+v", v)
	}
}

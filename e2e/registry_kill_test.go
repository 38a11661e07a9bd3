package e2e

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

// TestRegistryCheckSurvivesKill: the server is killed (SIGKILL) while the
// registry check of a citizen's data runs; after a restart the check is
// taken up again (the queue rescues the job of the dead process), finishes
// once, and the account reaches the level the check decides, with one
// piece of registry evidence.
func TestRegistryCheckSurvivesKill(t *testing.T) {
	t.Parallel()
	sh := testserver.NewShared(t)
	// The simulator takes 1.5 s; an attempt may last 2 s, and one still
	// running after 3 s belongs to a dead process.
	env := []string{"IDP_DEV=true", "IDP_REGISTRY_SIM_DELAY=1500ms", "IDP_JOB_TIMEOUT=2s", "IDP_JOB_RESCUE_AFTER=3s", "IDP_JOB_POLL_INTERVAL=100ms", "IDP_JOB_BACKOFF=1s"}
	srv := testserver.Start(t, sh, env...)
	ctx := context.Background()
	adm := srv.Admin()
	phone := randomPhone(t)
	acct, err := adm.CreateAccount(ctx, adminclient.NewAccount{Phone: phone, Password: registerPassword, LastName: "Смирнова", FirstName: "Ольга"})
	if err != nil {
		t.Fatal(err)
	}
	c := newRegistrant(t, srv, srv.URL)
	loginPage := c.follow(c.get("/account"))
	if p := c.submit(loginPage, 0, url.Values{"identifier": {phone}, "password": {registerPassword}}); p.Location() == nil {
		t.Fatalf("login: %d", p.Status)
	}
	saved := c.submit(c.get("/account/personal"), 0, personalData("Смирнова", "Ольга", "112-233-445 95", "4510", "123456"))
	if saved.Status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", saved.Status, saved.Body)
	}
	// The check is under way (the simulator is thinking): kill the server.
	time.Sleep(500 * time.Millisecond)
	if a, err := adm.GetAccount(ctx, acct.ID); err != nil || a.Verification == nil || a.Verification.Status != "pending" {
		t.Fatalf("before the kill: %+v, %v", a, err)
	}
	srv.Kill()
	srv.Restart(t)
	done := waitLevel(t, adm, acct.ID, "standard", 60*time.Second)
	if done.Verification == nil || done.Verification.Status != "approved" {
		t.Fatalf("after the restart: %+v", done.Verification)
	}
	// Decided once: one piece of registry evidence, and the decision
	// stays.
	time.Sleep(2 * time.Second)
	after, err := adm.GetAccount(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Level != "standard" || !after.Verification.DecidedAt.Equal(*done.Verification.DecidedAt) || len(after.Evidence) != 1 || after.Evidence[0].Kind != "registry" {
		t.Errorf("the check decided again: %+v then %+v, evidence %+v", done.Verification, after.Verification, after.Evidence)
	}
	if n := len(outbox(t, srv, phone)); n != 1 {
		t.Errorf("%d notices of the outcome after the restart, want 1", n)
	}
}

package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/factors/backup"
	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
)

// Second factors on two server processes of one deployment (PostgreSQL and
// Redis): a require_mfa client, a citizen's factor set in the database as
// the security page leaves it, and wrong codes sent to both processes at
// once. The lock is exact: of the wrong codes, exactly the policy's number
// is judged; the rest, and then the right code, are refused on both.

type factorDeployment struct {
	sh     *testserver.Shared
	a, b   *testserver.Server
	db     *postgres.Store
	sealer *seal.Sealer
	client string
}

func newFactorDeployment(t *testing.T) *factorDeployment {
	t.Helper()
	sh := testserver.NewShared(t)
	d := &factorDeployment{sh: sh}
	d.a = testserver.Start(t, sh, registerEnv...)
	d.b = testserver.StartWithIssuer(t, sh, d.a.URL, registerEnv...)
	db, err := postgres.Open(context.Background(), sh.DatabaseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	d.db = db
	if d.sealer, err = seal.New((&config.Config{SecretKey: sh.SecretKey}).SecretKeyBytes()); err != nil {
		t.Fatal(err)
	}
	cl, err := d.a.Admin().CreateClient(ctxT(t), adminclient.ClientMetadata{
		ClientName: "Needs a second factor", RedirectURIs: []string{replicaRedirect},
		Scope: "openid", TokenEndpointAuthMethod: "none", RequireMFA: true, SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}
	d.client = cl.ClientID
	return d
}

// citizen registers an account and gives it the factors set made.
func (d *factorDeployment) citizen(t *testing.T, set func(accountID string) *store.SecondFactors) (phone, password string) {
	t.Helper()
	phone, password = randomPhone(t), "фактор-"+browserRandom(t)
	acct, err := d.a.Admin().CreateAccount(ctxT(t), adminclient.NewAccount{Phone: phone, Password: password, LastName: "Петров", FirstName: "Пётр"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.db.UpdateAccount(ctxT(t), acct.ID, func(a *store.Account) error {
		a.PhoneVerified = true
		a.Factors = set(acct.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return phone, password
}

// factorPage logs in on srv with the password and returns the agent at the
// factor page.
func (d *factorDeployment) factorPage(t *testing.T, srv *testserver.Server, phone, password, factor string) (*testserver.Agent, *testserver.Page) {
	t.Helper()
	ctx := ctxT(t)
	conf := &oauth2.Config{ClientID: d.client, RedirectURL: replicaRedirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	ag := testserver.NewAgent(srv.URL, nil)
	_, page, err := ag.Authorize(ctx, newBrowserAuth(t, conf).url, testserver.Login{Identifier: phone, Password: password})
	if err == nil || page.URL.Path != "/login/factor" || page.Status != http.StatusOK {
		t.Fatalf("login on %s: %v, at %s %d, want the factor page", srv.URL, err, page.URL.Path, page.Status)
	}
	if factor != "" && !strings.Contains(page.Body, `data-factor="`+factor+`"`) {
		page, err = ag.Get(ctx, srv.URL+"/login/factor?flow="+url.QueryEscape(page.URL.Query().Get("flow"))+"&factor="+factor)
		if err != nil || !strings.Contains(page.Body, `data-factor="`+factor+`"`) {
			t.Fatalf("the %s factor on %s: %v", factor, srv.URL, err)
		}
	}
	return ag, page
}

func TestFactorLockoutAcrossReplicas(t *testing.T) {
	t.Parallel()
	d := newFactorDeployment(t)
	const attempts = 5 // the default lockout policy
	app := totp.New(nil, d.sealer, "test", nil)
	backupKey, err := d.sealer.DeriveKey("backup-codes", 32)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	secrets := map[string]string{}
	backupCodes := map[string][]string{}
	for _, tc := range []struct {
		factor string
		set    func(id string) *store.SecondFactors
	}{
		{"totp", func(id string) *store.SecondFactors {
			en, err := app.Generate(id, "citizen")
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			secrets[id] = en.Secret
			mu.Unlock()
			return &store.SecondFactors{TOTP: &store.TOTPFactor{Sealed: en.Sealed, EnrolledAt: time.Now()}}
		}},
		{"backup", func(id string) *store.SecondFactors {
			set, err := backup.Generate(10)
			if err != nil {
				t.Fatal(err)
			}
			var hashes []string
			for _, c := range set {
				hashes = append(hashes, backup.Hash(backupKey, id, c))
			}
			mu.Lock()
			backupCodes[id] = set
			mu.Unlock()
			return &store.SecondFactors{Backup: &store.BackupCodes{Hashes: hashes, CreatedAt: time.Now()}}
		}},
		{"sms", func(id string) *store.SecondFactors { return &store.SecondFactors{Codes: store.CodeChannelSMS} }},
	} {
		t.Run(tc.factor, func(t *testing.T) {
			phone, password := d.citizen(t, tc.set)
			agA, pageA := d.factorPage(t, d.a, phone, password, tc.factor)
			agB, pageB := d.factorPage(t, d.b, phone, password, tc.factor)
			wrong := "000000"
			if tc.factor == "backup" {
				wrong = "00000-00000"
			}
			// Bursts of wrong codes, half on each process, all at once, until
			// the lock: exactly the policy's number is judged (a burst may
			// find a check in progress and be told to retry: not judged).
			const burst = 2 * attempts
			judged, locked := 0, false
			for round := 0; !locked && round < 10; round++ {
				statuses := make([]int, burst)
				bodies := make([]string, burst)
				var wg sync.WaitGroup
				for i := range burst {
					ag, page := agA, pageA
					if i%2 == 1 {
						ag, page = agB, pageB
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, err := ag.Submit(ctxT(t), page, page.Forms()[0], url.Values{"code": {wrong}})
						if err != nil {
							t.Error(err)
							return
						}
						statuses[i], bodies[i] = res.Status, res.Body
					}()
				}
				wg.Wait()
				for i, st := range statuses {
					switch {
					case st == http.StatusUnauthorized:
						judged++
					case st == http.StatusTooManyRequests && strings.Contains(bodies[i], lockedText):
						locked = true
					case st == http.StatusTooManyRequests: // a check in progress: retry
					default:
						t.Fatalf("a wrong code answered %d", st)
					}
				}
			}
			// The wrong code that reaches the limit answers "locked" itself.
			if !locked || judged != attempts-1 {
				t.Fatalf("%d wrong codes judged, locked %v; want %d then locked", judged, locked, attempts-1)
			}
			// Locked on both processes, even for the right code; the lock
			// says when to come back.
			mu.Lock()
			right := map[string]string{"totp": "", "backup": ""}
			for _, c := range backupCodes {
				right["backup"] = c[0]
			}
			for _, sec := range secrets {
				right["totp"], _ = totp.Code(sec, time.Now())
			}
			mu.Unlock()
			code := right[tc.factor]
			if tc.factor == "sms" {
				code = smsCode(t, d, phone)
			}
			for _, side := range []struct {
				ag   *testserver.Agent
				page *testserver.Page
			}{{agA, pageA}, {agB, pageB}} {
				res, err := side.ag.Submit(ctxT(t), side.page, side.page.Forms()[0], url.Values{"code": {code}})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(res.Body, lockedText) {
					t.Errorf("the right code after the lock: %d (Retry-After %q), want 429 locked with Retry-After", res.Status, res.Header.Get("Retry-After"))
				}
			}
		})
	}
}

// lockedText is the Russian message of a locked factor step.
const lockedText = "Слишком много неверных кодов"

// smsCode is the latest code sent to the phone, by either process.
func smsCode(t *testing.T, d *factorDeployment, phone string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, srv := range []*testserver.Server{d.a, d.b} {
			if msgs := outbox(t, srv, phone); len(msgs) > 0 {
				return msgs[len(msgs)-1].Code
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no code sent to %s", phone)
	return ""
}

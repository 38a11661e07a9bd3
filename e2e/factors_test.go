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
	return newDeployment(t, registerEnv, adminclient.ClientMetadata{
		ClientName: "Needs a second factor", RedirectURIs: []string{replicaRedirect},
		Scope: "openid", TokenEndpointAuthMethod: "none", RequireMFA: true, SubjectType: "public",
	})
}

// newDeployment starts two server processes with env on one PostgreSQL and
// Redis, opens their database, and registers the client.
func newDeployment(t *testing.T, env []string, client adminclient.ClientMetadata) *factorDeployment {
	t.Helper()
	sh := testserver.NewShared(t)
	d := &factorDeployment{sh: sh}
	d.a = testserver.Start(t, sh, env...)
	d.b = testserver.StartWithIssuer(t, sh, d.a.URL, env...)
	db, err := postgres.Open(context.Background(), sh.DatabaseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	d.db = db
	if d.sealer, err = seal.New((&config.Config{SecretKey: sh.SecretKey}).SecretKeyBytes()); err != nil {
		t.Fatal(err)
	}
	cl, err := d.a.Admin().CreateClient(ctxT(t), client)
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
		{"email", func(id string) *store.SecondFactors { return &store.SecondFactors{Codes: store.CodeChannelEmail} }},
	} {
		t.Run(tc.factor, func(t *testing.T) {
			phone, password := d.citizen(t, tc.set)
			email := "lock-" + strings.TrimPrefix(phone, "+") + "@example.ru"
			if tc.factor == "email" {
				// The code goes to a confirmed e-mail address.
				acct, err := d.db.FindAccount(ctxT(t), store.IdentifierPhone, phone)
				if err == nil {
					_, err = d.db.UpdateAccount(ctxT(t), acct.ID, func(a *store.Account) error {
						a.Email, a.EmailVerified = email, true
						return nil
					})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			agA, pageA := d.factorPage(t, d.a, phone, password, tc.factor)
			agB, pageB := d.factorPage(t, d.b, phone, password, tc.factor)
			wrong := "000000"
			if tc.factor == "backup" {
				wrong = "00000-00000"
			}
			sides := []codeSide{{agA, pageA}, {agB, pageB}}
			burstUntilLocked(t, sides, wrong, attempts, http.StatusUnauthorized, lockedText)
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
			switch tc.factor {
			case "sms":
				code = outboxCodeAny(t, phone, d.a, d.b)
			case "email":
				code = outboxCodeAny(t, email, d.a, d.b)
			}
			for _, s := range sides {
				wantLocked(t, s, code, lockedText)
			}
		})
	}
}

// lockedText is the Russian message of a locked factor step.
const lockedText = "Слишком много неверных кодов"

// codeSide is a page that asks a code, in one browser on one process.
type codeSide struct {
	ag   *testserver.Agent
	page *testserver.Page
}

// burstUntilLocked posts the wrong code in bursts of 2×attempts, split
// between the sides, all at once, until the lock (429 with lockedText):
// exactly attempts−1 must be judged first (answered judgedStatus), for the
// wrong code that reaches the limit answers "locked" itself. Another 429
// found a check in progress and is told to retry: not judged.
func burstUntilLocked(t *testing.T, sides []codeSide, wrong string, attempts, judgedStatus int, lockedText string) {
	t.Helper()
	burst := 2 * attempts
	judged, locked := 0, false
	for round := 0; !locked && round < 10; round++ {
		statuses := make([]int, burst)
		bodies := make([]string, burst)
		var wg sync.WaitGroup
		for i := range burst {
			s := sides[i%len(sides)]
			wg.Go(func() {
				res, err := s.ag.Submit(ctxT(t), s.page, s.page.Forms()[0], url.Values{"code": {wrong}})
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i], bodies[i] = res.Status, res.Body
			})
		}
		wg.Wait()
		for i, st := range statuses {
			switch {
			case st == judgedStatus:
				judged++
			case st == http.StatusTooManyRequests && strings.Contains(bodies[i], lockedText):
				locked = true
			case st == http.StatusTooManyRequests: // a check in progress: retry
			default:
				t.Fatalf("a wrong code answered %d", st)
			}
		}
	}
	if !locked || judged != attempts-1 {
		t.Fatalf("%d wrong codes judged, locked %v; want %d then locked", judged, locked, attempts-1)
	}
}

// wantLocked posts the code on the side: it must be refused as locked
// (429 with lockedText), saying when to come back (Retry-After).
func wantLocked(t *testing.T, s codeSide, code, lockedText string) {
	t.Helper()
	res, err := s.ag.Submit(ctxT(t), s.page, s.page.Forms()[0], url.Values{"code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(res.Body, lockedText) {
		t.Errorf("the right code after the lock on %s: %d (Retry-After %q), want 429 locked with Retry-After", s.page.URL.Host, res.Status, res.Header.Get("Retry-After"))
	}
}

package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store/storetest"

	"github.com/esia-oidc/idp/internal/logbuf"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
)

const testToken = "test-admin-token-0123456789"

// newClock is a settable test clock.
func newClock() *storetest.Clock {
	return storetest.NewClockAt(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

// fakeSecrets issues 256-bit random secrets and hashes them with HMAC-SHA256.
type fakeSecrets struct{ key []byte }

func (s fakeSecrets) GenerateSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s fakeSecrets) HashSecret(secret string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// fakePasswords "hashes" with SHA-256 so that tests can tell the hash.
type fakePasswords struct{}

func fakeHash(password string) string {
	sum := sha256.Sum256([]byte(password))
	return "$fake$" + hex.EncodeToString(sum[:])
}

func (fakePasswords) Hash(_ context.Context, password string) (string, error) {
	return fakeHash(password), nil
}

// fakeKeys publishes a new key an hour before it signs; the previous key
// retires then and stays published for a day.
type fakeKeys struct {
	mu   sync.Mutex
	now  func() time.Time
	keys []*store.SigningKey
}

func (k *fakeKeys) Rotate(_ context.Context, alg string) (*store.SigningKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	nk := &store.SigningKey{ID: fmt.Sprintf("kid-%d", len(k.keys)+1), Alg: alg, Sealed: []byte("sealed"), CreatedAt: now, ActiveAt: now.Add(time.Hour)}
	for _, old := range k.keys {
		if old.RetiredAt.IsZero() {
			old.RetiredAt = nk.ActiveAt
			old.ExpiresAt = nk.ActiveAt.Add(24 * time.Hour)
		}
	}
	k.keys = append(k.keys, nk)
	return nk, nil
}

func (k *fakeKeys) List(context.Context) ([]*store.SigningKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*store.SigningKey(nil), k.keys...), nil
}

var nonDigits = regexp.MustCompile(`\D`)

// fakeNormalize is a simple stand-in for the real identifier rules.
func fakeNormalize(kind store.IdentifierKind, v string) (string, error) {
	switch kind {
	case store.IdentifierPhone:
		d := nonDigits.ReplaceAllString(v, "")
		if len(d) == 11 && (d[0] == '7' || d[0] == '8') {
			return "+7" + d[1:], nil
		}
	case store.IdentifierEmail:
		if at := strings.Index(v, "@"); at > 0 && at < len(v)-1 {
			return strings.ToLower(v), nil
		}
	case store.IdentifierSNILS:
		if d := nonDigits.ReplaceAllString(v, ""); len(d) == 11 {
			return d, nil
		}
	}
	return "", errors.New("normalize: bad " + string(kind) + " value " + v)
}

var knownScopes = map[string]bool{"openid": true, "profile": true, "email": true, "fullname": true, "snils": true, "offline_access": true}

func knownScope(s string) bool { return knownScopes[s] }

// env is one test's admin API on an in-memory store.
type env struct {
	api    *API
	store  *memory.Store
	clock  *storetest.Clock
	logs   *logbuf.Buffer
	srv    *httptest.Server
	client *adminclient.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: newClock(), logs: &logbuf.Buffer{}}
	e.store = memory.New(e.clock.Now)
	t.Cleanup(e.store.Close)
	var n int
	var idMu sync.Mutex
	e.api = &API{
		Clients:     e.store,
		Accounts:    e.store,
		Operators:   e.store,
		Token:       testToken,
		Secrets:     fakeSecrets{key: []byte("test-hmac-key")},
		Passwords:   fakePasswords{},
		Normalize:   fakeNormalize,
		Keys:        &fakeKeys{now: e.clock.Now},
		KnownScopes: knownScope,
		NewID: func() string {
			idMu.Lock()
			defer idMu.Unlock()
			n++
			return fmt.Sprintf("id-%04d", n)
		},
		Now:    e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := e.api.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	mux := http.NewServeMux()
	e.api.Mount(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.client = adminclient.New(e.srv.URL, testToken, e.srv.Client())
	return e
}

// response is a raw answer.
type response struct {
	status int
	header http.Header
	body   string
}

// raw sends a request with the admin token and a JSON content type (when
// body is not empty) and returns the raw answer.
func (e *env) raw(t *testing.T, method, path, body string) response {
	t.Helper()
	return e.rawWith(t, method, path, "application/json", "Bearer "+testToken, body)
}

func (e *env) rawWith(t *testing.T, method, path, contentType, authorization, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// wantAPIError checks that err is an *APIError with the status and code and
// a description holding each of the fragments.
func wantAPIError(t *testing.T, err error, status int, code string, fragments ...string) {
	t.Helper()
	var ae *adminclient.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *APIError %d %s", err, status, code)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("err = %d %s (%q), want %d %s", ae.Status, ae.Code, ae.Description, status, code)
	}
	for _, f := range fragments {
		if !strings.Contains(ae.Description, f) {
			t.Errorf("description %q does not mention %q", ae.Description, f)
		}
	}
}

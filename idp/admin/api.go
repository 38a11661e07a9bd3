// Package admin serves the operator-only admin API of the identity provider:
// registering OAuth 2.0 / OpenID Connect clients (RFC 7591 field names),
// creating accounts, and listing and rotating signing keys. Every call needs
// the bearer token IDP_ADMIN_TOKEN. The JSON types are shared with the Go
// client in package adminclient.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/esia-oidc/idp/store"
)

// ClientSecrets issues and hashes client secrets.
type ClientSecrets interface {
	// GenerateSecret returns a new random secret of at least 256 bits.
	GenerateSecret() (string, error)
	// HashSecret returns the keyed hash that the store keeps instead of the secret.
	HashSecret(secret string) []byte
}

// PasswordHasher hashes account passwords.
type PasswordHasher interface {
	// Hash returns the PHC string of the password (argon2id).
	Hash(ctx context.Context, password string) (string, error)
}

// KeyManager creates and lists token-signing keys.
type KeyManager interface {
	// Rotate creates a new key of the algorithm (RS256 or ES256), published
	// now and signing from its ActiveAt; the keys it replaces retire on the
	// manager's schedule. It returns the new key.
	Rotate(ctx context.Context, alg string) (*store.SigningKey, error)
	// List returns the keys, oldest first.
	List(ctx context.Context) ([]*store.SigningKey, error)
}

// API is the admin API handler. Every field but Now and Logger is required;
// call Check before Mount.
type API struct {
	Clients  store.Clients
	Accounts store.Accounts
	// Token is IDP_ADMIN_TOKEN. It is compared in constant time, as SHA-256
	// digests so that its length does not leak either.
	Token     string
	Secrets   ClientSecrets
	Passwords PasswordHasher
	// Normalize returns the stored form of an identifier (phone
	// +7XXXXXXXXXX, e-mail in lower case, SNILS as 11 digits with a valid
	// checksum) or an error when the value is not one.
	Normalize func(kind store.IdentifierKind, value string) (string, error)
	Keys      KeyManager
	// Operators stores the service-centre operators; nil leaves the
	// operator routes out.
	Operators store.Operators
	// Unlock ends an account's login lockout (factors/lockout); nil
	// leaves the unlock route out.
	Unlock func(ctx context.Context, accountID string) error
	// KnownScopes reports whether a scope exists (the table in consent/).
	KnownScopes func(scope string) bool
	// NewID returns a new random opaque id for clients and accounts.
	NewID func() string
	// Now is the clock; nil means time.Now.
	Now store.Clock
	// Logger receives the audit log (changes at Info, with client and
	// account ids, never secrets) and internal errors; nil discards.
	Logger *slog.Logger
}

// Check reports every missing dependency at once.
func (a *API) Check() error {
	var errs []error
	missing := func(name string, isNil bool) {
		if isNil {
			errs = append(errs, errors.New("admin: "+name+" is not set"))
		}
	}
	missing("Clients", a.Clients == nil)
	missing("Accounts", a.Accounts == nil)
	missing("Token", a.Token == "")
	missing("Secrets", a.Secrets == nil)
	missing("Passwords", a.Passwords == nil)
	missing("Normalize", a.Normalize == nil)
	missing("Keys", a.Keys == nil)
	missing("KnownScopes", a.KnownScopes == nil)
	missing("NewID", a.NewID == nil)
	return errors.Join(errs...)
}

// Mount registers the admin routes on mux.
func (a *API) Mount(mux *http.ServeMux) {
	mux.Handle("POST /admin/clients", a.auth(a.createClient))
	mux.Handle("GET /admin/clients", a.auth(a.listClients))
	mux.Handle("GET /admin/clients/{client_id}", a.auth(a.getClient))
	mux.Handle("PUT /admin/clients/{client_id}", a.auth(a.updateClient))
	mux.Handle("DELETE /admin/clients/{client_id}", a.auth(a.deleteClient))
	mux.Handle("POST /admin/clients/{client_id}/secret", a.auth(a.rotateClientSecret))
	mux.Handle("POST /admin/accounts", a.auth(a.createAccount))
	mux.Handle("GET /admin/accounts/{id}", a.auth(a.getAccount))
	if a.Unlock != nil {
		mux.Handle("POST /admin/accounts/{id}/unlock", a.auth(a.unlockAccount))
	}
	if a.Operators != nil {
		mux.Handle("POST /admin/operators", a.auth(a.createOperator))
	}
	mux.Handle("GET /admin/keys", a.auth(a.listKeys))
	mux.Handle("POST /admin/keys/rotate", a.auth(a.rotateKey))
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// auth lets through requests that carry the admin token (RFC 6750 section 2.1).
func (a *API) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		given, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			writeProblem(w, &problem{http.StatusUnauthorized, codeUnauthorized, "an admin bearer token is required"})
			return
		}
		if !a.tokenMatches(given) {
			a.log().WarnContext(r.Context(), "admin: wrong token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin", error="invalid_token"`)
			writeProblem(w, &problem{http.StatusUnauthorized, codeUnauthorized, "the admin bearer token is wrong"})
			return
		}
		next(w, r)
	})
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func (a *API) tokenMatches(given string) bool {
	if a.Token == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(a.Token))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// internalError logs err and answers without telling the client why: 503
// with Retry-After when a store failed (store.ErrUnavailable: the database
// or Redis is down or restarting, and the same call may pass shortly), else
// 500.
func (a *API) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log().ErrorContext(r.Context(), "admin: "+what, "method", r.Method, "path", r.URL.Path, "err", err)
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", "5")
		writeProblem(w, &problem{http.StatusServiceUnavailable, "temporarily_unavailable", "the service is temporarily unavailable; retry later"})
		return
	}
	writeProblem(w, &problem{http.StatusInternalServerError, codeServerError, "internal error; see the server log"})
}

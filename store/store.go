// Package store defines the storage contract of the identity provider: the
// data of record (accounts with their personal data and documents, clients,
// consents, signing keys, durable grants, operators, the audit trail)
// and what may expire (login flows, sessions, one-time codes, counters,
// short-lived grants). Backends live in sub-packages (memory, postgres, redis)
// and all pass the conformance suite in store/storetest.
//
// Every backend takes an injected clock: expiry is decided by that clock when
// a value is read, so tests move time without sleeping. Native expiry (Redis
// TTLs, a PostgreSQL sweep) only collects garbage.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the contract. Backends wrap driver errors into these and
// callers test them with errors.Is.
var (
	// ErrNotFound: no such record, or it has expired. A key that a backend
	// cannot store (PostgreSQL's text holds neither a NUL byte nor invalid
	// UTF-8) names no record either: lookups by it answer ErrNotFound,
	// never a driver error.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key is taken, or a compare-and-set lost the race.
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable: the backing service failed (unreachable, timed out,
	// or refused the operation). The operation did not happen, except a
	// commit whose connection failed while it was under way, whose outcome
	// is unknown; the caller may try again later. Backends wrap every failure that is
	// neither ErrNotFound nor ErrConflict with it, so that the protocol and
	// the pages answer 503 with Retry-After rather than a bare 500.
	ErrUnavailable = errors.New("store: unavailable")
)

// Clock returns the current time. Backends call it instead of time.Now.
type Clock func() time.Time

// Client is a registered OAuth 2.0 / OpenID Connect client (RFC 7591 fields).
type Client struct {
	ID         string
	SecretHash []byte // keyed hash of the secret; nil for public clients
	Name       string

	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	ResponseTypes          []string
	Scopes                 []string

	TokenEndpointAuthMethod  string // client_secret_basic, client_secret_post, none
	BackchannelLogoutURI     string
	MinLevel                 Level  // empty: no requirement
	IDTokenSignedResponseAlg string // RS256 (default) or ES256

	// SubjectType is how the client sees a citizen's sub (OpenID Connect
	// Core §8): SubjectPairwise, its own identifier derived from
	// SubjectSalt, or SubjectPublic (also the empty value), the account id.
	SubjectType SubjectType
	// SubjectSalt is the random salt of the client's pairwise identifiers;
	// it never changes once set, so neither do they.
	SubjectSalt []byte
	// PKCEOptional lets a confidential client use the code flow without
	// PKCE (a legacy relying party; the operator sets it explicitly). PKCE
	// is required otherwise, and always for public clients.
	PKCEOptional bool
	// RequireMFA: every login for the client needs a second factor.
	RequireMFA bool

	CreatedAt time.Time
	UpdatedAt time.Time
}

// SubjectType says what a client receives as a citizen's sub.
type SubjectType string

// Subject types (OpenID Connect Core §8).
const (
	SubjectPublic   SubjectType = "public"
	SubjectPairwise SubjectType = "pairwise"
)

// Pairwise reports whether the client gets pairwise subject identifiers.
func (c *Client) Pairwise() bool { return c.SubjectType == SubjectPairwise }

// Public reports whether the client has no secret (token_endpoint_auth_method none).
func (c *Client) Public() bool { return c.TokenEndpointAuthMethod == "none" }

// Clients stores registered clients.
type Clients interface {
	// CreateClient stores a new client; ErrConflict when the ID is taken.
	CreateClient(ctx context.Context, c *Client) error
	// GetClient returns the client with the ID, or ErrNotFound.
	GetClient(ctx context.Context, id string) (*Client, error)
	// ListClients returns all clients ordered by ID.
	ListClients(ctx context.Context) ([]*Client, error)
	// UpdateClient applies update in one transaction (see UpdateAccount).
	UpdateClient(ctx context.Context, id string, update func(*Client) error) (*Client, error)
	// DeleteClient removes the client, or returns ErrNotFound.
	DeleteClient(ctx context.Context, id string) error
}

// Consent is what a citizen allowed a client to receive.
type Consent struct {
	AccountID string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Consents stores remembered consent decisions.
type Consents interface {
	// GetConsent returns the consent of the account to the client, or ErrNotFound.
	GetConsent(ctx context.Context, accountID, clientID string) (*Consent, error)
	// PutConsent creates or replaces the consent of (AccountID, ClientID).
	PutConsent(ctx context.Context, c *Consent) error
	// DeleteConsent removes it, or returns ErrNotFound.
	DeleteConsent(ctx context.Context, accountID, clientID string) error
	// ListConsents returns the consents of the account, the most recently
	// granted first (then by client id); none is an empty list, not an error.
	ListConsents(ctx context.Context, accountID string) ([]*Consent, error)
}

// SigningKey is a token-signing key. The private key is stored sealed
// (encrypted with a key derived from IDP_SECRET_KEY); the store never sees it
// in the clear.
type SigningKey struct {
	ID     string // kid
	Alg    string // RS256, ES256
	Sealed []byte // sealed PKCS #8 private key

	CreatedAt time.Time
	// ActiveAt: from then on the key may sign. It is published from CreatedAt.
	ActiveAt time.Time
	// RetiredAt: zero while in use; from then on it no longer signs.
	RetiredAt time.Time
	// ExpiresAt: zero while in use; from then on it is no longer published.
	ExpiresAt time.Time
}

// Keys stores signing keys.
type Keys interface {
	// CreateKey stores a new key; ErrConflict when the ID is taken.
	CreateKey(ctx context.Context, k *SigningKey) error
	// ListKeys returns every stored key ordered by CreatedAt, then ID.
	ListKeys(ctx context.Context) ([]*SigningKey, error)
	// UpdateKey applies update in one transaction (see UpdateAccount).
	UpdateKey(ctx context.Context, id string, update func(*SigningKey) error) (*SigningKey, error)
	// DeleteKey removes the key, or returns ErrNotFound.
	DeleteKey(ctx context.Context, id string) error
}

// GrantKind tells which protocol artefact a grant is.
type GrantKind string

// Grant kinds, following fosite's storage split.
const (
	GrantAuthorizeCode GrantKind = "code"
	GrantAccessToken   GrantKind = "access"
	GrantRefreshToken  GrantKind = "refresh"
	GrantPKCE          GrantKind = "pkce"
	GrantOIDC          GrantKind = "oidc"
)

// Grant is a stored authorization request behind a code or a token, keyed by
// the token's signature (never the token itself). RequestID is shared by every
// grant descended from one authorization (a refresh-token family), SessionID
// by every grant descended from one SSO session, Subject by every grant of
// one account.
type Grant struct {
	Kind      GrantKind
	Signature string
	RequestID string
	ClientID  string
	Subject   string // account ID; empty for client credentials
	// SessionID is the public id of the SSO session the grant descends
	// from (the ID token's sid before any pairwise mapping); empty for
	// client credentials.
	SessionID string
	Active    bool

	RequestedAt time.Time
	ExpiresAt   time.Time // zero: does not expire

	// Data is the serialized request (scopes, form, session) owned by the
	// protocol layer; the store keeps it as it is.
	Data []byte
}

// Grants stores codes and tokens.
type Grants interface {
	// CreateGrant stores a new grant; ErrConflict when (Kind, Signature) exists.
	CreateGrant(ctx context.Context, g *Grant) error
	// GetGrant returns the grant, active or not; ErrNotFound when absent or expired.
	GetGrant(ctx context.Context, kind GrantKind, signature string) (*Grant, error)
	// DeleteGrant removes the grant; ErrNotFound when absent.
	DeleteGrant(ctx context.Context, kind GrantKind, signature string) error
	// DeactivateGrant atomically marks an active grant inactive. Of many
	// concurrent callers exactly one succeeds; the others get ErrConflict.
	// ErrNotFound when absent or expired.
	DeactivateGrant(ctx context.Context, kind GrantKind, signature string) error
	// DeactivateRequest marks inactive every grant of the kind that shares the
	// request ID (revokes a token family). No error when there are none.
	DeactivateRequest(ctx context.Context, kind GrantKind, requestID string) error
	// DeactivateSession marks inactive every live grant, of every kind,
	// whose SessionID is sessionID (an SSO session ended: what it signed
	// in to ends too). No error when there are none; an empty sessionID
	// names none. A grant created after the call returns is not touched.
	DeactivateSession(ctx context.Context, sessionID string) error
	// DeactivateSubject marks inactive every live grant, of every kind,
	// whose Subject is subject (the account was recovered or deleted) and,
	// when clientID is not empty, whose ClientID is clientID (the account
	// revoked its consent to that client). No error when there are none;
	// an empty subject (client credentials) names none. A grant created
	// after the call returns is not touched.
	DeactivateSubject(ctx context.Context, subject, clientID string) error
}

// GrantChange tells that access-token grants were deactivated or deleted:
// every one of RequestID when it is set, else every one of SessionID when it
// is set, else every one of Subject (issued to ClientID, when that is set
// too) when it is set, else the one with Signature.
type GrantChange struct {
	RequestID string
	SessionID string
	Subject   string
	ClientID  string
	Signature string
}

// GrantWatch receives the feed of a GrantWatcher. Its methods may be called
// while the store holds a lock: they must return promptly and must not call
// the store.
type GrantWatch interface {
	// Ready says the feed is whole from now on: it started, or resumed
	// after a gap.
	Ready()
	// Lost says changes may be missed until the next Ready.
	Lost()
	// Changed reports a change made by any process sharing the store.
	Changed(GrantChange)
}

// GrantWatcher is implemented by ephemeral stores that announce every
// deactivation and deletion of an access-token grant to every process
// watching, so that a process may cache access-token grants (introspection
// and userinfo read them on every call) and drop what another replica
// revoked. An announcement reaches the watchers after the change is visible
// to readers; a change may be announced more than once.
type GrantWatcher interface {
	// WatchGrants feeds w until ctx ends, then returns nil; an error means
	// the feed could not start or broke for good, and one wrapping
	// errors.ErrUnsupported that this store cannot keep the promise above
	// in its configuration. w.Lost is called before it returns.
	WatchGrants(ctx context.Context, w GrantWatch) error
}

// Entries stores short-lived opaque values (login flows, SSO sessions,
// challenges, replay marks) under caller-chosen keys such as "flow:ID".
type Entries interface {
	// PutEntry creates or replaces the value, expiring after ttl.
	PutEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// CreateEntry stores the value only if the key is absent (or expired);
	// otherwise ErrConflict. Of many concurrent callers exactly one succeeds.
	CreateEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// GetEntry returns the value, or ErrNotFound when absent or expired.
	GetEntry(ctx context.Context, key string) ([]byte, error)
	// TakeEntry returns the value and deletes it atomically: of many
	// concurrent callers exactly one gets it, the others get ErrNotFound.
	TakeEntry(ctx context.Context, key string) ([]byte, error)
	// ReplaceEntry replaces the value and its expiry only if the key is
	// present: ErrNotFound when absent or expired, so that a record deleted
	// meanwhile (an SSO session ended elsewhere) is not brought back.
	ReplaceEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// DeleteEntry removes the value; no error when absent.
	DeleteEntry(ctx context.Context, key string) error
	// CompareAndSwapEntry replaces the value and its expiry only if the
	// key holds exactly old: ErrNotFound when absent or expired,
	// ErrConflict when it holds another value. A holder renews a lease
	// with it, and never renews someone else's.
	CompareAndSwapEntry(ctx context.Context, key string, old, value []byte, ttl time.Duration) error
	// CompareAndDeleteEntry removes the value only if the key holds
	// exactly old: ErrNotFound when absent or expired, ErrConflict when it
	// holds another value. A holder ends its lease with it, and never ends
	// one that lapsed and was taken by another.
	CompareAndDeleteEntry(ctx context.Context, key string, old []byte) error
}

// Counter is the state of a counter: its value and when it lapses.
type Counter struct {
	N         int64
	ExpiresAt time.Time
}

// Counters are atomic counters with a sliding expiry, shared by every
// replica (failed-login counters, rate limits, attempt limits).
type Counters interface {
	// Incr adds one and sets the expiry to now+ttl. A counter that has lapsed
	// starts again from zero. Concurrent increments are never lost.
	Incr(ctx context.Context, key string, ttl time.Duration) (Counter, error)
	// Decr takes one back from a live counter, never below zero, and keeps
	// its expiry (an attempt counted in advance that turned out not to
	// count). A missing or lapsed counter stays so: {0, zero time}.
	// Concurrent Incr and Decr calls are never lost.
	Decr(ctx context.Context, key string) (Counter, error)
	// GetCounter returns the counter; a missing or lapsed one is {0, zero time}.
	GetCounter(ctx context.Context, key string) (Counter, error)
	// ResetCounter removes the counter; no error when absent.
	ResetCounter(ctx context.Context, key string) error
}

// Sets are small sets of strings under caller-chosen keys, each member with
// an expiry of its own: an account's SSO sessions, the clients a session
// signed in to. Every replica sees the same members.
type Sets interface {
	// AddToSet adds member with the expiry expiresAt, or moves the expiry of
	// a member already there.
	AddToSet(ctx context.Context, key, member string, expiresAt time.Time) error
	// RemoveFromSet removes member; no error when absent.
	RemoveFromSet(ctx context.Context, key, member string) error
	// SetMembers returns the members that have not expired, sorted.
	SetMembers(ctx context.Context, key string) ([]string, error)
}

// Transactional is implemented by durable stores that can group grant
// writes: Grants calls made with the context BeginTX returns run in one
// transaction until Commit or Rollback (fosite's storage.Transactional, so a
// refresh's rotation and its new token are one commit).
//
// A backend may send a write whose caller needs no answer but success
// (CreateGrant, DeactivateRequest) with the transaction's next call or its
// Commit, to save round trips: its error, ErrConflict included, then comes
// from that call, and the transaction fails as a whole (Commit returns the
// error and writes nothing). Later calls in the transaction see the write.
type Transactional interface {
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Durable is the store of record (PostgreSQL, or memory).
type Durable interface {
	Accounts
	BankLinks
	Clients
	Consents
	Keys
	Operators
	Audit
	Grants // refresh tokens, which must survive restarts
	JobStore
	Ping(ctx context.Context) error
	Close()
}

// Ephemeral is the store of what may expire (Redis, or memory).
type Ephemeral interface {
	Grants // codes, access tokens, PKCE and OIDC sessions
	Entries
	Counters
	Sets
	Ping(ctx context.Context) error
	Close()
}

// Package oidc is the OpenID Connect provider: fosite composed over the
// store, and the endpoints of the protocol (discovery, JWKS, authorize, token,
// userinfo, introspection, revocation, logout) with the hosted login and
// consent steps that an authorization passes through.
package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/esia-oidc/idp/idp/login"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Secrets hashes and checks client secrets (idp/seal).
type Secrets interface {
	HashSecret(secret string) []byte
	VerifySecret(secret string, hash []byte) bool
}

// Keys signs and verifies tokens and publishes the key set (idp/keys).
type Keys interface {
	FositeSigner(alg string) jwt.Signer
	JWKS() []byte
	Verify(raw string, algs ...string) ([]byte, jose.Header, error)
}

// Logins is the hosted login (idp/login): the protocol starts a flow for
// each authorization request and is called back to finish or fail it
// (login.Protocol, which Provider implements).
type Logins interface {
	Start(w http.ResponseWriter, r *http.Request, f *login.Flow)
	// EndSession ends the browser's SSO session (and its pending flows),
	// if its request carried one, and returns it.
	EndSession(w http.ResponseWriter, r *http.Request) *session.Session
	Mount(mux *http.ServeMux)
}

var _ login.Protocol = (*Provider)(nil)

// Lifetimes of what the provider issues.
type Lifetimes struct {
	Code         time.Duration
	AccessToken  time.Duration
	IDToken      time.Duration
	RefreshToken time.Duration
	Flow         time.Duration // a login flow left half-way
}

// Config holds the provider's dependencies.
type Config struct {
	Issuer         string
	Durable        store.Durable
	Ephemeral      store.Ephemeral
	Keys           Keys
	Secrets        Secrets
	HMACSecret     []byte // ≥ 32 bytes: signs codes and refresh tokens
	AccessTokenAlg string // RS256 or ES256
	Lifetimes      Lifetimes
	// The hosted side: the login (idp/login), the pages it and logout
	// show, and the SSO sessions. A nil Login leaves out authorize, the
	// login steps and logout.
	Login    Logins
	Pages    *web.Renderer
	CSRF     *web.CSRF
	Sessions *session.Manager
	Now      store.Clock
	Logger   *slog.Logger
	// GrantIssued is told of every token endpoint outcome (metrics); may be nil.
	GrantIssued func(grantType, outcome string)
	// TokenCacheLookup is told whether the token cache answered an
	// access-token lookup (metrics); may be nil.
	TokenCacheLookup func(hit bool)
	// PreviousHMACSecrets still verify codes and refresh tokens made before
	// IDP_SECRET_KEY was rotated (fosite's RotatedGlobalSecrets).
	PreviousHMACSecrets [][]byte

	// Back-channel logout (backchannel.go). Jobs is where logout jobs are
	// enqueued (nil: Durable). LogoutTimeout bounds one POST of a logout
	// token (zero: 5 s); LogoutClient sends them (nil: a client that
	// follows no redirect).
	Jobs          store.Jobs
	LogoutTimeout time.Duration
	LogoutClient  *http.Client
}

// clientCacheTTL bounds how long another replica may use a client's old
// settings after an admin change.
const clientCacheTTL = 2 * time.Second

// tokenCacheTTL bounds how long an access token's record stays in the token
// cache, and tokenCacheMax how many records it keeps (a few KiB each).
const (
	tokenCacheTTL = 10 * time.Second
	tokenCacheMax = 20000
)

// Provider is the OpenID provider.
type Provider struct {
	cfg      Config
	oauth    fosite.OAuth2Provider
	fcfg     *fosite.Config
	storage  *storage
	issuer   string
	discover []byte
	idSigner idTokenSigner // ID tokens and logout tokens
}

// New composes fosite over the store.
func New(cfg Config) (*Provider, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.GrantIssued == nil {
		cfg.GrantIssued = func(string, string) {}
	}
	if cfg.Jobs == nil {
		cfg.Jobs = cfg.Durable
	}
	if cfg.LogoutTimeout <= 0 {
		cfg.LogoutTimeout = defaultLogoutTimeout
	}
	if cfg.LogoutClient == nil {
		cfg.LogoutClient = newLogoutClient(cfg.LogoutTimeout)
	}
	lt := cfg.Lifetimes
	fcfg := &fosite.Config{
		AccessTokenLifespan:      lt.AccessToken,
		RefreshTokenLifespan:     lt.RefreshToken,
		AuthorizeCodeLifespan:    lt.Code,
		IDTokenLifespan:          lt.IDToken,
		IDTokenIssuer:            cfg.Issuer,
		AccessTokenIssuer:        cfg.Issuer,
		TokenURL:                 cfg.Issuer + "/token",
		GlobalSecret:             cfg.HMACSecret,
		RotatedGlobalSecrets:     cfg.PreviousHMACSecrets,
		ScopeStrategy:            fosite.ExactScopeStrategy,
		AudienceMatchingStrategy: fosite.ExactAudienceMatchingStrategy,
		// PKCE: S256 only (a challenge without a method means plain, which
		// is refused). fosite enforces it for public clients; precheck
		// requires it of confidential ones too unless the operator
		// registered the client without it (RFC 9700 §2.1.1).
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{"offline_access"},
		JWTScopeClaimKey:               jwt.JWTScopeFieldString,
		ClientSecretsHasher:            secretHasher{cfg.Secrets},
		SendDebugMessagesToClients:     false,
		// state and nonce are the client's business: any length will do
		// (fosite's default floor of 8 characters refused short ones with
		// a non-standard invalid_state; 0 would mean that default). An
		// absent state is let through by newAuthorizeRequest.
		MinParameterEntropy:   1,
		AllowedPromptValues:   []string{"login", "none", "consent"},
		RedirectSecureChecker: fosite.IsRedirectURISecureStrict,
	}
	st := &storage{durable: cfg.Durable, ephemeral: cfg.Ephemeral, now: cfg.Now,
		clients:   newClientCache(cfg.Durable, clientCacheTTL, cfg.Now),
		replayTTL: lt.Code + lt.AccessToken}
	if _, ok := cfg.Ephemeral.(store.GrantWatcher); ok {
		st.tokens = newTokenCache(tokenCacheTTL, tokenCacheMax, cfg.Now)
		st.tokenLookup = cfg.TokenCacheLookup
	}
	idSigner := idTokenSigner{
		Signer:  cfg.Keys.FositeSigner("RS256"),
		es256:   cfg.Keys.FositeSigner("ES256"),
		clients: st.clients,
	}
	hmacStrategy := compose.NewOAuth2HMACStrategy(fcfg)
	strategy := &compose.CommonStrategy{
		CoreStrategy: accessTokenStrategy{
			DefaultJWTStrategy: &oauth2.DefaultJWTStrategy{
				Signer:          cfg.Keys.FositeSigner(cfg.AccessTokenAlg),
				HMACSHAStrategy: hmacStrategy,
				Config:          fcfg,
			},
			now: cfg.Now,
		},
		OpenIDConnectTokenStrategy: idTokenClaims{
			OpenIDConnectTokenStrategy: &openid.DefaultStrategy{
				Signer: idSigner,
				Config: fcfg,
			},
			accounts: cfg.Durable,
		},
		Signer: cfg.Keys.FositeSigner("RS256"),
	}
	oauth := compose.Compose(fcfg, st, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2PKCEFactory,
	)
	for i, h := range fcfg.TokenEndpointHandlers {
		fcfg.TokenEndpointHandlers[i] = onlyIfHandles{h}
	}
	p := &Provider{cfg: cfg, oauth: oauth, fcfg: fcfg, storage: st, issuer: cfg.Issuer, idSigner: idSigner}
	d, err := p.discovery()
	if err != nil {
		return nil, err
	}
	p.discover = d
	return p, nil
}

// onlyIfHandles asks a token endpoint handler to populate a response only
// for a grant it handles. fosite asks every handler; each one that does not
// handle the grant answers fosite.ErrUnknownRequest wrapped with a stack
// trace, and capturing those stacks cost about 20 µs per token request. The
// answer is the same, without the stack: fosite treats nil and
// ErrUnknownRequest alike there. (fosite's TokenEndpointHandlers.Append
// skips a handler whose type is already listed, so wrap after composing.)
type onlyIfHandles struct{ fosite.TokenEndpointHandler }

func (h onlyIfHandles) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return h.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, r, resp)
}

// Run follows the store's announcements of revoked access tokens, which the
// token cache needs before it serves anything, until ctx is done.
func (p *Provider) Run(ctx context.Context) {
	w, ok := p.cfg.Ephemeral.(store.GrantWatcher)
	if !ok || p.storage.tokens == nil {
		return
	}
	feed := &loggedFeed{tokenCache: p.storage.tokens, ctx: ctx, log: p.cfg.Logger}
	for ctx.Err() == nil {
		err := w.WatchGrants(ctx, feed)
		if errors.Is(err, errors.ErrUnsupported) {
			p.cfg.Logger.InfoContext(ctx, "access token cache off", "reason", err.Error())
			return
		}
		if err != nil {
			p.cfg.Logger.WarnContext(ctx, "watch access token changes", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// loggedFeed passes the store's feed to the token cache and logs when the
// cache goes off because the feed broke, and when it comes back.
type loggedFeed struct {
	*tokenCache
	ctx  context.Context
	log  *slog.Logger
	was  atomic.Bool // ready before
	lost atomic.Bool // lost since, and said so

	// warned is when the last warning was logged (Unix nanoseconds): a
	// feed that breaks again and again warns at most once a minute.
	warned atomic.Int64
}

func (f *loggedFeed) Ready() {
	f.tokenCache.Ready()
	if f.lost.Swap(false) {
		f.log.InfoContext(f.ctx, "access token cache on again: the store's change feed is back")
	}
	f.was.Store(true)
}

func (f *loggedFeed) Lost() {
	f.tokenCache.Lost()
	if f.ctx.Err() != nil || !f.was.Load() || f.lost.Load() {
		return
	}
	now := time.Now().UnixNano()
	if last := f.warned.Load(); last != 0 && now-last < int64(time.Minute) {
		return
	}
	f.warned.Store(now)
	f.lost.Store(true)
	f.log.WarnContext(f.ctx, "access token cache off: the store's change feed broke; introspection and userinfo read Redis until it is back")
}

// Mount registers the protocol endpoints.
func (p *Provider) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/openid-configuration", p.handleDiscovery)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", p.handleDiscovery)
	mux.HandleFunc("GET /jwks", p.handleJWKS)
	mux.HandleFunc("POST /token", p.handleToken)
	mux.HandleFunc("GET /userinfo", p.handleUserinfo)
	mux.HandleFunc("POST /userinfo", p.handleUserinfo)
	mux.HandleFunc("POST /introspect", p.handleIntrospect)
	mux.HandleFunc("POST /revoke", p.handleRevoke)
	if p.cfg.Login != nil {
		mux.HandleFunc("GET /authorize", p.handleAuthorize)
		mux.HandleFunc("POST /authorize", p.handleAuthorize)
		mux.HandleFunc("GET /logout", p.handleLogout)
		mux.HandleFunc("POST /logout", p.handleLogout)
		mux.HandleFunc("POST /logout/confirm", p.handleLogoutConfirm)
		mux.Handle("GET /static/", p.cfg.Pages.Static())
		p.cfg.Login.Mount(mux)
	}
}

package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/esia-oidc/idp/catalog/rp"
	"github.com/esia-oidc/idp/catalog/services"
	"github.com/esia-oidc/idp/catalog/store"
)

// Cookie base names (the Cookies prefix is put before them).
const (
	sessionCookie = "session"
	loginCookie   = "login" // binds a pending login to the browser
)

// pendingTTL bounds how long a login may take at the provider.
const pendingTTL = 15 * time.Minute

// hashID is the stored id of a cookie value: a leaked table holds no
// usable cookie.
func hashID(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// session returns the request's live session, or nil.
func (h *Handler) session(r *http.Request) (*store.Session, error) {
	v := h.cfg.Cookies.Get(r, sessionCookie)
	if v == "" {
		return nil, nil
	}
	s, err := h.cfg.Store.GetSession(r.Context(), hashID(v))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return s, err
}

// localPath accepts a path on this site only (no scheme, host or
// protocol-relative "//").
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// loginURL is the portal's own link that starts a login landing on
// returnTo; acr asks the provider for an account level (step-up).
func loginURL(returnTo, acr string) string {
	q := url.Values{"return": {returnTo}}
	if acr != "" {
		q.Set("acr", acr)
	}
	return "/login?" + q.Encode()
}

// login starts an authorization: state, nonce and PKCE verifier are kept
// server-side as a pending login bound to this browser by a cookie, and the
// browser goes to the provider. ?acr= (a level) is sent as acr_values.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	returnTo := localPath(r.URL.Query().Get("return"))
	acr := r.URL.Query().Get("acr")
	if services.Level(acr).Rank() == 0 {
		acr = ""
	}
	browser := h.cfg.Cookies.Get(r, loginCookie)
	if len(browser) < 32 {
		browser = rp.Random()
		h.cfg.Cookies.Set(w, loginCookie, browser, 0)
	}
	req := rp.NewRequest()
	err := h.cfg.Store.PutPendingLogin(r.Context(), &store.PendingLogin{
		State: req.State, Browser: hashID(browser), Nonce: req.Nonce, Verifier: req.Verifier,
		ReturnTo: returnTo, ACR: acr, Scopes: h.cfg.Scopes, Expires: h.cfg.Now().Add(pendingTTL),
	})
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	http.Redirect(w, r, h.cfg.RP.AuthURL(req, h.cfg.Scopes, acr, h.lang(r)), http.StatusFound)
}

// explainView is the page a citizen who gave up at the provider lands on.
type explainView struct {
	Reason   string // "unmet" or "denied"
	Service  *services.Service
	Level    string
	ReturnTo string
	Retry    string
}

// callback finishes an authorization: the pending login of the state,
// taken once, from the browser that started it; an error answer of
// unmet_authentication_requirements or access_denied lands on an
// explanation; otherwise the code is exchanged, the ID token verified,
// userinfo read, and a new session replaces the browser's old one.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	p, err := h.cfg.Store.TakePendingLogin(ctx, q.Get("state"))
	if err != nil {
		status := http.StatusBadRequest
		if !errors.Is(err, store.ErrNotFound) {
			status = http.StatusInternalServerError
		}
		h.error(w, r, status, "error.login", err)
		return
	}
	if b := h.cfg.Cookies.Get(r, loginCookie); b == "" || hashID(b) != p.Browser {
		h.error(w, r, http.StatusBadRequest, "error.login", errors.New("callback from another browser"))
		return
	}
	req := rp.Request{State: p.State, Nonce: p.Nonce, Verifier: p.Verifier}
	code, err := h.cfg.RP.Callback(q, req)
	var ce *rp.ErrCallback
	if errors.As(err, &ce) && (ce.Code == "unmet_authentication_requirements" || ce.Code == "access_denied") {
		v := explainView{Reason: "denied", ReturnTo: p.ReturnTo, Level: p.ACR, Retry: loginURL(p.ReturnTo, p.ACR)}
		if ce.Code == "unmet_authentication_requirements" {
			v.Reason = "unmet"
		}
		if id, ok := strings.CutPrefix(p.ReturnTo, "/services/"); ok {
			id, _, _ = strings.Cut(id, "/")
			if s, ok := h.cfg.Catalog.Get(id); ok {
				v.Service = s
				if v.Level == "" {
					v.Level = string(s.Level)
				}
			}
		}
		sess, _ := h.session(r)
		h.render(w, r, http.StatusOK, "explain", sess, v)
		return
	}
	if err != nil {
		h.error(w, r, http.StatusBadRequest, "error.login", err)
		return
	}
	tok, id, err := h.cfg.RP.Exchange(ctx, req, code)
	if err != nil {
		h.error(w, r, http.StatusBadGateway, "error.login", err)
		return
	}
	claims, err := h.cfg.RP.UserInfo(ctx, tok.AccessToken)
	if err != nil {
		h.error(w, r, http.StatusBadGateway, "error.provider", err)
		return
	}
	raw, _ := json.Marshal(claims.All)
	name, _ := claims.String("given_name")
	if family, _ := claims.String("family_name"); family != "" {
		name = strings.TrimSpace(name + " " + family)
	}
	now := h.cfg.Now()
	if old := h.cfg.Cookies.Get(r, sessionCookie); old != "" {
		_ = h.cfg.Store.DeleteSession(ctx, hashID(old))
	}
	cookie := rp.Random()
	scopes := tok.Scopes
	if scopes == nil {
		scopes = p.Scopes
	}
	err = h.cfg.Store.CreateSession(ctx, &store.Session{
		ID: hashID(cookie), Subject: id.Subject, SID: id.SID, Level: id.Level, ACR: id.ACR, Name: name,
		Scopes: scopes, Claims: raw, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, IDToken: tok.IDToken,
		TokenExpiry: tok.Expiry, Created: now, Expires: now.Add(h.cfg.SessionTTL),
	})
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	h.cfg.Cookies.Set(w, sessionCookie, cookie, 0)
	h.cfg.Cookies.Delete(w, loginCookie)
	http.Redirect(w, r, localPath(p.ReturnTo), http.StatusSeeOther)
}

// errSessionEnded: the provider no longer honours the session's tokens.
var errSessionEnded = errors.New("catalog: the session's tokens are no longer valid")

// freshClaims reads userinfo with the session's access token, refreshing
// the tokens first when the access token has expired (or is about to), and
// keeps the answer in the session. errSessionEnded means the citizen must
// log in again.
func (h *Handler) freshClaims(ctx context.Context, s *store.Session) (*rp.Claims, error) {
	if !h.cfg.Now().Before(s.TokenExpiry.Add(-30 * time.Second)) {
		tok, err := h.cfg.RP.Refresh(ctx, s.RefreshToken, s.IDToken)
		if err != nil {
			_ = h.cfg.Store.DeleteSession(ctx, s.ID)
			return nil, errors.Join(errSessionEnded, err)
		}
		s.AccessToken, s.IDToken, s.TokenExpiry = tok.AccessToken, tok.IDToken, tok.Expiry
		if tok.RefreshToken != "" {
			s.RefreshToken = tok.RefreshToken
		}
	}
	claims, err := h.cfg.RP.UserInfo(ctx, s.AccessToken)
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(claims.All)
	s.Claims = raw
	err = h.cfg.Store.UpdateSession(ctx, s.ID, func(x *store.Session) error {
		x.AccessToken, x.RefreshToken, x.IDToken, x.TokenExpiry, x.Claims = s.AccessToken, s.RefreshToken, s.IDToken, s.TokenExpiry, raw
		return nil
	})
	return claims, err
}

// storedClaims are the claims of the session's last userinfo answer.
func storedClaims(s *store.Session) *rp.Claims {
	var m map[string]any
	_ = json.Unmarshal(s.Claims, &m)
	if m == nil {
		m = map[string]any{}
	}
	return rp.NewClaims(m)
}

// logout ends the portal session, revokes its tokens at the provider and
// sends the browser to the provider's end-session endpoint
// (RP-initiated logout), which brings it back to the portal.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !h.cfg.CSRF.Verify(r, "logout") {
		h.error(w, r, http.StatusForbidden, "error.csrf", errors.New("logout: CSRF token"))
		return
	}
	sess, err := h.session(r)
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	h.cfg.Cookies.Delete(w, sessionCookie)
	h.cfg.CSRF.Rotate(w)
	if sess == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	if err := h.cfg.Store.DeleteSession(ctx, sess.ID); err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	// Revoking the refresh token ends the grant; the access token too,
	// for a provider that tracks it.
	for _, t := range []struct{ tok, hint string }{{sess.RefreshToken, "refresh_token"}, {sess.AccessToken, "access_token"}} {
		if err := h.cfg.RP.Revoke(ctx, t.tok, t.hint); err != nil {
			h.cfg.Logger.WarnContext(ctx, "catalog: revoke at logout", "hint", t.hint, "err", err)
		}
	}
	target := h.cfg.RP.EndSessionURL(sess.IDToken, "")
	if target == "" {
		target = "/?logged_out=1"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// backchannelLogout is the receiver of OpenID Connect Back-Channel Logout
// 1.0 (§2.5-2.8): the provider POSTs logout_token; a valid one, not seen
// before, ends the portal sessions of its sid (or of its sub).
func (h *Handler) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ctx := r.Context()
	bad := func(cause error) {
		h.cfg.Logger.InfoContext(ctx, "catalog: back-channel logout refused", "err", cause)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
	}
	raw := r.PostFormValue("logout_token")
	if raw == "" {
		bad(errors.New("no logout_token"))
		return
	}
	lt, err := h.cfg.RP.VerifyLogoutToken(ctx, raw)
	if err != nil {
		bad(err)
		return
	}
	if err := h.cfg.Store.UseLogoutJTI(ctx, lt.JTI, lt.Expires); err != nil {
		if errors.Is(err, store.ErrConflict) {
			bad(errors.New("logout token replayed"))
			return
		}
		h.cfg.Logger.ErrorContext(ctx, "catalog: back-channel logout", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	subject := lt.Subject
	n, err := h.cfg.Store.DeleteSessions(ctx, subject, lt.SID)
	if err != nil {
		h.cfg.Logger.ErrorContext(ctx, "catalog: back-channel logout", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	h.cfg.Logger.InfoContext(ctx, "catalog: back-channel logout", "sessions_ended", n)
	w.WriteHeader(http.StatusOK)
}

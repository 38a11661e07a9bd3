package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/idp/login"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// pendingLogout is a logout waiting for the citizen's confirmation, under
// "logout:"+ID.
type pendingLogout struct {
	Redirect   string `json:"redirect,omitempty"` // verified post_logout_redirect_uri with state
	ClientName string `json:"client_name,omitempty"`
}

// handleLogout is RP-initiated logout (OpenID Connect RP-Initiated Logout
// 1.0 §2). The id_token_hint must be one of ours; a post_logout_redirect_uri
// must be registered by the client exactly, otherwise a page is shown and
// nothing redirects.
func (p *Provider) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if lang := pageLang(r.FormValue("ui_locales")); lang != "" && r.URL.Query().Get("lang") == "" {
		// The pages read the language from ?lang= (and remember it).
		q := r.URL.Query()
		q.Set("lang", lang)
		r.URL.RawQuery = q.Encode()
	}
	hint := r.FormValue("id_token_hint")
	clientID := r.FormValue("client_id")
	redirect := r.FormValue("post_logout_redirect_uri")
	var hintSub, hintSID string
	if hint != "" {
		payload, hdr, err := p.cfg.Keys.Verify(hint)
		if err == nil && !idTokenType(hdr) {
			err = fmt.Errorf("id_token_hint is not an ID token (typ %v)", hdr.ExtraHeaders["typ"])
		}
		var claims struct {
			Iss string          `json:"iss"`
			Sub string          `json:"sub"`
			SID string          `json:"sid"`
			Aud json.RawMessage `json:"aud"`
		}
		if err == nil {
			err = json.Unmarshal(payload, &claims)
		}
		if err == nil && claims.Iss != p.issuer {
			err = errors.New("id_token_hint from another issuer")
		}
		aud := audiences(claims.Aud)
		if err == nil && (len(aud) == 0 || (clientID != "" && !slices.Contains(aud, clientID))) {
			err = errors.New("id_token_hint audience does not match client_id")
		}
		if err != nil {
			p.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.invalid_id_token_hint", Cause: err})
			return
		}
		if clientID == "" {
			clientID = aud[0]
		}
		hintSub, hintSID = claims.Sub, claims.SID
	}

	var client *store.Client
	if clientID != "" {
		c, err := p.cfg.Durable.GetClient(ctx, clientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			p.cfg.Pages.Error(w, r, err)
			return
		}
		client = c
	}
	target := ""
	if redirect != "" {
		if client == nil || !slices.Contains(client.PostLogoutRedirectURIs, redirect) {
			p.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.bad_logout_redirect"})
			return
		}
		u, err := url.Parse(redirect)
		if err != nil {
			p.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.bad_logout_redirect", Cause: err})
			return
		}
		if state := r.FormValue("state"); state != "" {
			q := u.Query()
			q.Set("state", state)
			u.RawQuery = q.Encode()
		}
		target = u.String()
	}
	name := ""
	if client != nil {
		name = client.Name
	}

	sso, err := p.cfg.Sessions.Current(r)
	if err != nil {
		p.cfg.Pages.Error(w, r, err)
		return
	}
	// The relying party proved which session it means: log out at once. The
	// hint's sub and sid are as its client sees them (pairwise or public).
	if sso == nil || (hintSub != "" && hintSub == subjectFor(client, sso.AccountID) && (hintSID == "" || hintSID == sidFor(client, sso.ID))) {
		p.finishLogout(w, r, target, name)
		return
	}
	// Otherwise the citizen confirms, so that a link cannot log anyone out.
	b, _ := json.Marshal(pendingLogout{Redirect: target, ClientName: name})
	id := login.NewID()
	if err := p.cfg.Ephemeral.PutEntry(ctx, "logout:"+id, b, p.cfg.Lifetimes.Flow); err != nil {
		p.cfg.Pages.Error(w, r, err)
		return
	}
	httpx.NarrowFormAction(w, target)
	p.cfg.Pages.Logout(w, r, http.StatusOK, web.LogoutData{
		Flow: id, CSRF: p.cfg.CSRF.Token(w, r, "logout:"+id), ClientName: name, Action: "/logout/confirm",
	})
}

func (p *Provider) handleLogoutConfirm(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("flow")
	if !p.cfg.CSRF.Verify(r, "logout:"+id) {
		p.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.csrf"})
		return
	}
	b, err := p.cfg.Ephemeral.TakeEntry(r.Context(), "logout:"+id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = &web.PageError{Status: http.StatusNotFound, Key: "error.flow_expired"}
		}
		p.cfg.Pages.Error(w, r, err)
		return
	}
	var pl pendingLogout
	if err := json.Unmarshal(b, &pl); err != nil {
		p.cfg.Pages.Error(w, r, err)
		return
	}
	p.finishLogout(w, r, pl.Redirect, pl.ClientName)
}

func (p *Provider) finishLogout(w http.ResponseWriter, r *http.Request, target, clientName string) {
	p.cfg.Login.EndSession(w, r)
	if target != "" {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	p.cfg.Pages.LoggedOut(w, r, http.StatusOK, web.LoggedOutData{ClientName: clientName})
}

// audiences decodes an aud claim, a string or an array of strings.
func audiences(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	var many []string
	json.Unmarshal(raw, &many)
	return many
}

package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/idp/login"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// handleAuthorize is the authorization endpoint (RFC 6749 §4.1.1, OpenID
// Connect Core §3.1.2).
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	unsupported := withoutRequestObject(r)
	if r.Form != nil {
		if names := repeatedParams(r.Form); len(names) > 0 {
			p.authorizeRepeated(w, r, names)
			return
		}
		if dropUnknownScopes(r) && unsupported == nil {
			unsupported = fosite.ErrInvalidScope.WithHint("None of the requested scopes is known to this provider.")
		}
	}
	ar, err := p.newAuthorizeRequest(r.Context(), r)
	if err == nil {
		err = unsupported
	}
	if err == nil {
		err = precheck(ar)
	}
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.cfg.Login.Start(w, r, p.newFlow(w, r, ar))
}

// newFlow starts the login flow of a checked authorization request: what
// the request needs of the login, and the request itself to resume from.
func (p *Provider) newFlow(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester) *login.Flow {
	form := ar.GetRequestForm()
	var rec *store.Client
	if cl, ok := ar.GetClient().(*client); ok {
		rec = cl.rec
	}
	var clientMin store.Level
	var clientMFA bool
	if rec != nil {
		clientMin, clientMFA = rec.MinLevel, rec.RequireMFA
	}
	needs := login.Requirements{
		// The client's minimum, raised by acr_values and the claims
		// parameter's acr.
		MinLevel:  requiredLevel(clientMin, form),
		MFA:       requiresMFA(clientMFA, form),
		Scopes:    ar.GetRequestedScopes(),
		LoginHint: form.Get("login_hint"),
		Locale:    pageLang(form.Get("ui_locales")),
	}
	for _, pr := range strings.Fields(form.Get("prompt")) {
		switch pr {
		case "none":
			needs.PromptNone = true
		case "login":
			needs.PromptLogin = true
		case "consent":
			needs.PromptConsent = true
		}
	}
	if ma := form.Get("max_age"); ma != "" {
		if secs, err := strconv.ParseInt(ma, 10, 64); err == nil && secs >= 0 {
			d := time.Duration(secs) * time.Second
			needs.MaxAge = &d
		}
	}
	var end string // where the flow ends: the checked redirect URI
	if u := ar.GetRedirectURI(); u != nil {
		end = u.String()
	}
	return &login.Flow{
		ID:          login.NewID(),
		ClientID:    ar.GetClient().GetID(),
		RequestedAt: p.cfg.Now().UTC(),
		Request:     form.Encode(),
		RedirectURI: end,
		Browser:     p.cfg.CSRF.Browser(w, r),
		Needs:       needs,
	}
}

// Finish implements login.Protocol: the flow's authorization is issued.
func (p *Provider) Finish(w http.ResponseWriter, r *http.Request, f *login.Flow, acct *store.Account) {
	ar, err := p.resume(r, f)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.issue(w, r, ar, f, acct)
}

// Fail implements login.Protocol: the client is told why the flow ended.
func (p *Provider) Fail(w http.ResponseWriter, r *http.Request, f *login.Flow, why error) {
	ar, err := p.resume(r, f)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	var e error
	switch {
	case errors.Is(why, login.ErrLoginRequired):
		e = fosite.ErrLoginRequired.WithHint("The citizen is not logged in, or must log in again.")
	case errors.Is(why, login.ErrConsentRequired):
		e = fosite.ErrConsentRequired.WithHint("The citizen has not allowed these scopes.")
	case errors.Is(why, login.ErrUnmetLevel):
		e = errUnmetLevel
	case errors.Is(why, login.ErrAccessDenied):
		e = fosite.ErrAccessDenied.WithHint("The citizen declined.")
	case errors.Is(why, login.ErrWrongCitizen):
		e = fosite.ErrLoginRequired.WithHint("The citizen who signed in is not the one the client asked for (claims sub).")
	default:
		e = fosite.ErrServerError.WithWrap(why)
	}
	p.authorizeError(w, r, ar, e)
}

// Accepts implements login.Protocol: the claims parameter may name the
// citizen (Core §5.5.1: a sub value for the ID token); only that citizen's
// login may answer.
func (p *Provider) Accepts(f *login.Flow, accountID string) bool {
	v, err := url.ParseQuery(f.Request)
	if err != nil {
		return false
	}
	cr, err := parseClaimsRequest(v.Get("claims"))
	if err != nil || cr.subject() == "" {
		return err == nil
	}
	c, err := p.storage.clients.get(context.Background(), f.ClientID)
	if err != nil {
		return false
	}
	return subjectFor(c.rec, accountID) == cr.subject()
}

// withoutRequestObject removes the request and request_uri parameters,
// which this provider does not support (OpenID Connect Core §6), from the
// request's form and returns the error to answer with, or nil when there was
// none. Without them fosite validates the client and the redirect URI from
// the plain parameters, so the error goes back to a registered redirect URI
// as an authorization error (request_not_supported, request_uri_not_supported)
// instead of a page; and nothing is ever fetched from a request_uri.
func withoutRequestObject(r *http.Request) error {
	if !parseForm(r) {
		// Left for fosite to parse again and report (invalid_request).
		r.Form, r.PostForm, r.MultipartForm = nil, nil, nil
		return nil
	}
	var err error
	switch { // an empty parameter counts as absent (RFC 6749 §3.1)
	case r.Form.Get("request_uri") != "":
		err = fosite.ErrRequestURINotSupported.WithHint("This provider does not accept request_uri; send the parameters in the query.")
	case r.Form.Get("request") != "":
		err = fosite.ErrRequestNotSupported.WithHint("This provider does not accept request objects; send the parameters in the query.")
	}
	for _, f := range requestForms(r) {
		delete(f, "request")
		delete(f, "request_uri")
	}
	return err
}

// authorizeRepeated answers an authorization request with repeated
// parameters: at the client's redirect URI when neither client_id nor
// redirect_uri is among them and the first values check out, else with a
// page (RFC 6749 §4.1.2.1: never redirect on a doubtful client or URI).
func (p *Provider) authorizeRepeated(w http.ResponseWriter, r *http.Request, names []string) {
	var ar fosite.AuthorizeRequester
	if !slices.Contains(names, "client_id") && !slices.Contains(names, "redirect_uri") {
		ar, _ = p.newAuthorizeRequest(r.Context(), r)
	}
	p.authorizeError(w, r, ar, errRepeated(names))
}

// dropUnknownScopes removes from the scope parameter the values this
// provider does not know: OpenID Connect Core §5.4 says scope values that
// are not understood SHOULD be ignored. A known scope the client is not
// registered for is still refused (invalid_scope). It reports whether
// scopes were asked for and none was known, which is refused too
// (invalid_scope) rather than turned into a request without scope.
func dropUnknownScopes(r *http.Request) (noneKnown bool) {
	asked := strings.TrimSpace(r.Form.Get("scope")) != ""
	for _, f := range requestForms(r) {
		vs, ok := f["scope"]
		if !ok {
			continue
		}
		for i, v := range vs {
			kept := slices.DeleteFunc(strings.Fields(v), func(s string) bool { return !consent.Known(s) })
			vs[i] = strings.Join(kept, " ")
		}
	}
	return asked && strings.TrimSpace(r.Form.Get("scope")) == ""
}

// maxAuthorizeRequest bounds the parameters of an authorization request,
// which a flow stores while the citizen logs in.
const maxAuthorizeRequest = 8 << 10

// precheck refuses at once what fosite would only refuse when the code is
// issued, after the citizen has logged in, or not at all: missing or
// non-S256 PKCE (RFC 7636 §4.4.1; required of every client unless it was
// registered without it), prompt=none with other values, a malformed claims
// parameter (OpenID Connect Core §5.5), a
// max_age that is not a number, an id_token_hint that is not an ID token
// (OpenID Connect Core §3.1.2.1), and response modes other than query (the
// only one we offer).
func precheck(ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	if m := form.Get("response_mode"); m != "" && m != "query" {
		return fosite.ErrUnsupportedResponseMode.WithHintf("Only response_mode=query is supported, not %q.", m)
	}
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && pkceRequired(ar.GetClient()):
		return fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow, but it is missing.")
	case challenge != "" && method != "S256":
		return fosite.ErrInvalidRequest.WithHint("Only the S256 code_challenge_method is allowed.")
	}
	prompt := strings.Fields(form.Get("prompt"))
	for _, p := range prompt {
		if p != "none" && p != "login" && p != "consent" {
			return fosite.ErrInvalidRequest.WithHintf("Unsupported prompt value %q.", p)
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values.")
	}
	if ma := form.Get("max_age"); ma != "" {
		if n, err := strconv.Atoi(ma); err != nil || n < 0 {
			return fosite.ErrInvalidRequest.WithHint("max_age must be a whole number of seconds.")
		}
	}
	cr, err := parseClaimsRequest(form.Get("claims"))
	if err != nil {
		return err
	}
	if err := checkClaimsRequest(cr); err != nil {
		return err
	}
	if hint := form.Get("id_token_hint"); hint != "" && !looksLikeIDToken(hint) {
		return fosite.ErrInvalidRequest.WithHint("The id_token_hint is not an ID token.")
	}
	if len(form.Encode()) > maxAuthorizeRequest {
		return fosite.ErrInvalidRequest.WithHint("The authorization request is too large.")
	}
	return nil
}

// pkceRequired reports whether the client must use PKCE in the code flow:
// every client (RFC 9700 §2.1.1), but a confidential one the operator
// registered without it (require_pkce false, a legacy relying party).
func pkceRequired(c fosite.Client) bool {
	cl, ok := c.(*client)
	return c.IsPublic() || !ok || !cl.rec.PKCEOptional
}

// looksLikeIDToken reports whether a JWS's header could be an ID token's:
// no typ or typ JWT (an access token is at+jwt, RFC 9068 §2.1). fosite
// checks the signature and the subject of an id_token_hint, not its kind.
func looksLikeIDToken(compact string) bool {
	jws, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return false
	}
	return idTokenType(jws.Signatures[0].Protected)
}

// idTokenType reports whether a JOSE header's typ allows an ID token.
func idTokenType(h jose.Header) bool {
	typ, _ := h.ExtraHeaders["typ"].(string)
	return typ == "" || strings.EqualFold(typ, "JWT")
}

// authorizeError answers a failed authorization request: a redirect to the
// client only when its redirect URI was verified, otherwise a page (an
// unknown client or an unregistered redirect URI must never redirect).
//
// A store that failed (store.ErrUnavailable: the client could not be read,
// or a later step could not) says nothing against the request: the person
// gets the 503 page with Retry-After when the redirect URI is not verified
// yet, and the client temporarily_unavailable (RFC 6749 §4.1.2.1)
// otherwise, never "unknown client".
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		if ar == nil || !ar.IsRedirectURIValid() {
			p.cfg.Pages.Error(w, r, err)
			return
		}
		err = fosite.ErrTemporarilyUnavailable.WithHint("The service is temporarily unavailable; try again shortly.").WithWrap(err)
	}
	if ar == nil || !ar.IsRedirectURIValid() {
		rfc := fosite.ErrorToRFC6749Error(err)
		key := "error.invalid_request"
		switch {
		case errors.Is(rfc, fosite.ErrInvalidClient):
			key = "error.unknown_client"
		case strings.Contains(rfc.HintField, "redirect"):
			key = "error.bad_redirect_uri"
		}
		p.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: key, Cause: rfc})
		return
	}
	// Errors, like codes, go back in the query: the only response mode we
	// offer (fosite would honour form_post and fragment here).
	if req, ok := ar.(*fosite.AuthorizeRequest); ok {
		req.ResponseMode = fosite.ResponseModeQuery
	}
	p.oauth.WriteAuthorizeError(r.Context(), issWriter{w, p.issuer}, ar, err)
}

// newAuthorizeRequest is fosite's NewAuthorizeRequest, except that a
// request without state is valid: state is RECOMMENDED, not required (RFC
// 6749 §4.1.1, OpenID Connect Core §3.1.2.1). fosite refuses a state shorter
// than its minimum (which cannot be zero) with a non-standard invalid_state,
// as the last of its checks, so a request whose only fault is an absent
// state is otherwise valid.
func (p *Provider) newAuthorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	ar, err := p.oauth.NewAuthorizeRequest(ctx, r)
	if err != nil && ar != nil && ar.GetState() == "" && errors.Is(err, fosite.ErrInvalidState) {
		return ar, nil
	}
	return ar, err
}

// resume rebuilds the authorization request of a flow.
func (p *Provider) resume(r *http.Request, f *login.Flow) (fosite.AuthorizeRequester, error) {
	req := r.Clone(r.Context())
	req.Method = http.MethodGet
	req.URL = &url.URL{Path: "/authorize", RawQuery: f.Request}
	req.Body = http.NoBody
	req.Form, req.PostForm = nil, nil
	req.ContentLength = 0
	req.Header.Del("Content-Type")
	return p.newAuthorizeRequest(r.Context(), req)
}

// errUnmetLevel tells the client that the citizen's account level is below
// what it asked for (OpenID Connect Core §3.1.2.6 reserves the code).
var errUnmetLevel = &fosite.RFC6749Error{
	ErrorField:       "unmet_authentication_requirements",
	DescriptionField: "The account level is below the level the client requires.",
	CodeField:        http.StatusBadRequest,
}

// pageLang returns the first language of a ui_locales list that the pages
// speak, or "".
func pageLang(uiLocales string) string {
	for _, tag := range strings.Fields(uiLocales) {
		switch base, _, _ := strings.Cut(strings.ToLower(tag), "-"); base {
		case "ru", "en":
			return base
		}
	}
	return ""
}

// issue grants the requested scopes and answers with the code. The session
// stored with the code holds no personal data (see Session.forStorage).
func (p *Provider) issue(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, f *login.Flow, acct *store.Account) {
	ctx := r.Context()
	for _, s := range consent.Grantable(acct.Level, ar.GetRequestedScopes()) {
		ar.GrantScope(s)
	}
	ar.GrantAudience(f.ClientID)

	var rec *store.Client
	if cl, ok := ar.GetClient().(*client); ok {
		rec = cl.rec
	}
	sub := subjectFor(rec, acct.ID)
	if sub == "" {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithDebug("pairwise client without a salt"))
		return
	}
	sess := newSession()
	sess.Subject = sub
	sess.ClientID = f.ClientID
	sess.AccountID = acct.ID
	sess.Level = string(acct.Level)
	sess.SID = sidFor(rec, f.SID)
	sess.SessionID = f.SID
	sess.IDTokenClaimNames = idTokenClaimNames(ar.GetRequestForm().Get("claims"), ar.GetGrantedScopes())
	sess.VerifiedIDToken, sess.VerifiedUserinfo = verifiedRequests(ar.GetRequestForm().Get("claims"))
	c := sess.Claims
	c.Subject = sub
	c.AuthTime = f.AuthTime().UTC().Truncate(time.Second)
	c.RequestedAt = f.RequestedAt.UTC().Truncate(time.Second)
	// amr from the flow's proofs; acr the account's level, with -mfa when
	// a second factor was proven; level the account's at issue (a refresh
	// reissues level from the account as it is then).
	c.AuthenticationMethodsReferences = f.AMR()
	c.AuthenticationContextClassReference = consent.ACR(acct.Level, f.SecondFactorDone())
	c.Extra = map[string]any{"level": string(acct.Level)}
	if sess.SID != "" {
		c.Extra["sid"] = sess.SID
	}

	resp, err := p.oauth.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.oauth.WriteAuthorizeResponse(ctx, issWriter{w, p.issuer}, ar, resp)
}

// issWriter adds the issuer to authorization responses and errors that go
// back to the client (RFC 9207 §2), and leaves out the state that fosite
// adds empty when the request had none (RFC 6749 §4.1.2: state is returned
// only if it was in the request).
type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (w issWriter) WriteHeader(status int) {
	if loc := w.Header().Get("Location"); loc != "" && status >= 300 && status < 400 {
		if u, err := url.Parse(loc); err == nil {
			q := u.Query()
			if q.Has("state") && q.Get("state") == "" {
				q.Del("state")
			}
			q.Set("iss", w.issuer)
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

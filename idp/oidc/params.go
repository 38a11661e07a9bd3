package oidc

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/idp/httpx"
)

// maxFormMemory is what fosite gives ParseMultipartForm.
const maxFormMemory = 1 << 20

// parseForm parses a request's parameters as fosite parses them, multipart
// bodies included; false when the body cannot be parsed (fosite then
// reports invalid_request itself).
func parseForm(r *http.Request) bool {
	err := r.ParseMultipartForm(maxFormMemory)
	return err == nil || errors.Is(err, http.ErrNotMultipart)
}

// requestForms are the parsed parameter sets of a request that an edit
// must reach: fosite reads some from Form, some from PostForm.
func requestForms(r *http.Request) []url.Values {
	forms := []url.Values{r.Form, r.PostForm}
	if r.MultipartForm != nil {
		forms = append(forms, r.MultipartForm.Value)
	}
	return forms
}

// repeatedParams returns, sorted, the parameters given more than once (RFC
// 6749 §3.1, §3.2: parameters MUST NOT be included more than once). A value
// in the query and another in the body count as two. resource (RFC 8707
// §2) and fosite's audience may be repeated by design.
func repeatedParams(form url.Values) []string {
	var names []string
	for k, v := range form {
		if len(v) > 1 && k != "resource" && k != "audience" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// knownParams are the parameters an error description may name: the
// client's own text is never echoed (RFC 6749 §4.1.2.1 limits the
// description's characters, and the client shows it).
var knownParams = []string{
	"acr_values", "claims", "client_assertion", "client_assertion_type", "client_id", "client_secret",
	"code", "code_challenge", "code_challenge_method", "code_verifier", "display", "grant_type",
	"id_token_hint", "login_hint", "max_age", "nonce", "prompt", "redirect_uri", "refresh_token",
	"response_mode", "response_type", "scope", "state", "token", "token_type_hint", "ui_locales",
}

// errRepeated is invalid_request for repeated parameters.
func errRepeated(names []string) *fosite.RFC6749Error {
	var known []string
	for _, n := range names {
		if slices.Contains(knownParams, n) {
			known = append(known, n)
		}
	}
	if len(known) == 0 {
		return fosite.ErrInvalidRequest.WithHint("A parameter was given more than once.")
	}
	return fosite.ErrInvalidRequest.WithHintf("Parameters given more than once: %s.", strings.Join(known, ", "))
}

// checkClientForm checks what the token and revocation endpoints share
// before fosite reads a request: parameters given once (RFC 6749 §3.2),
// some client authentication (none at all is invalid_client, §5.2; fosite
// would answer invalid_request), and a client_id in the body that is the
// client authenticating with HTTP Basic, if both are given. ok is false
// when the method is not POST or the body is empty: fosite then reports it
// (invalid_request). A POST whose parameters cannot be parsed is refused
// here, not left to fosite: net/http parses a request once, and a second
// ParseMultipartForm (fosite's) would succeed on what the first refused (a
// multipart body with a malformed query), so fosite would read parameters
// these checks never saw.
func checkClientForm(r *http.Request) (ok bool, err error) {
	if r.Method != http.MethodPost {
		return false, nil
	}
	if !parseForm(r) {
		return true, fosite.ErrInvalidRequest.WithHint("The request parameters could not be parsed.")
	}
	if len(r.PostForm) == 0 {
		return false, nil
	}
	if names := repeatedParams(r.PostForm); len(names) > 0 {
		return true, errRepeated(names)
	}
	id := r.PostForm.Get("client_id")
	if r.Header.Get("Authorization") == "" && id == "" && r.PostForm.Get("client_assertion") == "" {
		return true, fosite.ErrInvalidClient.WithHint("The client did not authenticate.")
	}
	if user, _, basic := r.BasicAuth(); basic && id != "" {
		if u, err := url.QueryUnescape(user); err == nil && u != id {
			return true, fosite.ErrInvalidRequest.WithHint("The client_id in the body is not the client that authenticated.")
		}
	}
	return true, nil
}

// writeInvalidClient answers 401 invalid_client with the challenge RFC 6749
// §5.2 asks for.
func writeInvalidClient(w http.ResponseWriter, realm, desc string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	w.Header().Set("Pragma", "no-cache")
	httpx.WriteJSONError(w, http.StatusUnauthorized, fosite.ErrInvalidClient.ErrorField, desc)
}

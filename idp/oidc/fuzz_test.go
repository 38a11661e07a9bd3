package oidc

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ory/fosite"
)

// The fixed hints of checkClientForm and checkTokenForm; the only other
// one names repeated parameters, known ones only (repeatedHint).
var formHints = []string{
	"A parameter was given more than once.",
	"The client did not authenticate.",
	"The client_id in the body is not the client that authenticated.",
	"Use one of " + strings.Join(supportedGrants, ", ") + ".",
	"The code parameter is missing.",
	"The refresh_token parameter is missing.",
	"The request parameters could not be parsed.",
}

var repeatedHint = regexp.MustCompile(`^Parameters given more than once: ([a-z_]+(, [a-z_]+)*)\.$`)

var fuzzMethods = []string{http.MethodPost, http.MethodGet, http.MethodPut}

var fuzzContentTypes = []string{
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=x",
	"application/json",
	"",
}

// fuzzRequest builds a token or revocation request from fuzzed parts.
func fuzzRequest(t *testing.T, method, contentType uint8, query, body, authorization string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(fuzzMethods[int(method)%len(fuzzMethods)], "http://idp.test/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.URL.RawQuery = query
	if ct := fuzzContentTypes[int(contentType)%len(fuzzContentTypes)]; ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

// checkFormError wants an error of the form checks: a protocol error with
// its RFC 6749 status, and a hint that is one of the fixed ones or names
// known parameters only, each once and in order: the client's own text is
// never echoed.
func checkFormError(t *testing.T, err error, r *http.Request) *fosite.RFC6749Error {
	t.Helper()
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) {
		t.Fatalf("%v is not a protocol error", err)
	}
	want := map[string]int{
		fosite.ErrInvalidRequest.ErrorField:       http.StatusBadRequest,
		fosite.ErrInvalidClient.ErrorField:        http.StatusUnauthorized,
		fosite.ErrUnsupportedGrantType.ErrorField: http.StatusBadRequest,
	}
	if status, ok := want[rfc.ErrorField]; !ok || rfc.CodeField != status {
		t.Fatalf("error %s with status %d", rfc.ErrorField, rfc.CodeField)
	}
	if slices.Contains(formHints, rfc.HintField) {
		return rfc
	}
	m := repeatedHint.FindStringSubmatch(rfc.HintField)
	if m == nil {
		t.Fatalf("hint %q is none of the fixed ones", rfc.HintField)
	}
	names := strings.Split(m[1], ", ")
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Fatalf("hint %q: names not sorted or repeated", rfc.HintField)
	}
	for _, n := range names {
		if !slices.Contains(knownParams, n) {
			t.Fatalf("hint %q names %q, which is not a known parameter", rfc.HintField, n)
		}
		if len(r.PostForm[n]) < 2 {
			t.Fatalf("hint %q names %q, given %d times", rfc.HintField, n, len(r.PostForm[n]))
		}
	}
	return rfc
}

// FuzzCheckTokenForm: whatever a client posts to /token or /revoke, the
// checks before fosite do not panic, and
//   - they let through only a POST with a parsed, non-empty body, and say
//     nothing about anything else (fosite answers it);
//   - every refusal is a protocol error with its status whose hint never
//     repeats the client's text;
//   - a parameter given twice in the body (but resource and audience) is
//     refused as invalid_request, and naming no client at all as
//     invalid_client;
//   - a refused request stays refused when a further parameter is added;
//   - what passes checkTokenForm has one grant type this provider offers
//     (or none, for fosite to refuse) with the code or token it needs.
func FuzzCheckTokenForm(f *testing.F) {
	basic := "Basic " + "cnAtc2VjcmV0OnNlY3JldA==" // rp-secret:secret
	for _, s := range []struct {
		method, ct          uint8
		query, body, authzn string
	}{
		{0, 0, "", "grant_type=authorization_code&code=c&client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&code_verifier=v", ""},
		{0, 0, "", "grant_type=client_credentials", basic},
		{0, 0, "", "grant_type=client_credentials&client_id=other", basic},
		{0, 0, "", "grant_type=refresh_token&refresh_token=&client_id=rp", ""},
		{0, 0, "", "grant_type=password&username=u&password=p&client_id=rp", ""},
		{0, 0, "", "grant_type=client_credentials&scope=a&scope=b", basic},
		{0, 0, "", "resource=a&resource=b&audience=x&audience=y&grant_type=client_credentials", basic},
		{0, 0, "client_id=rp", "grant_type=authorization_code&code=c", ""},
		{0, 0, "%zz", "grant_type=client_credentials", basic},
		{0, 0, "", "%zz", basic},
		{0, 0, "", "a;b=c", basic},
		{0, 1, "", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n", basic},
		{0, 2, "", `{"grant_type":"client_credentials"}`, basic},
		{1, 0, "grant_type=client_credentials", "", basic},
		{0, 0, "", "", ""},
		{0, 0, "", "grant_type=client_credentials&client_assertion=a.b.c", ""},
		{0, 0, "", "grant_type=client_credentials&client_id=%ZZ", "Basic JVpaOng="},
		{0, 0, "", "x_very_long_parameter_name=1&x_very_long_parameter_name=2&client_id=rp", ""},
		// A multipart body with a malformed query: net/http refuses it on
		// the first parse only, so the checks refuse it themselves.
		{0, 1, "%zz", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n", basic},
	} {
		f.Add(s.method, s.ct, s.query, s.body, s.authzn)
	}
	f.Fuzz(func(t *testing.T, method, ct uint8, query, body, authorization string) {
		r := fuzzRequest(t, method, ct, query, body, authorization)
		ok, err := checkClientForm(r)
		if !ok {
			if err != nil {
				t.Fatalf("checkClientForm: not for it, yet %v", err)
			}
			if r.Method == http.MethodPost && len(r.PostForm) > 0 {
				t.Fatalf("checkClientForm let a POST with a body pass unchecked: %v", r.PostForm)
			}
			if err := checkTokenForm(fuzzRequest(t, method, ct, query, body, authorization)); err != nil {
				t.Fatalf("checkTokenForm refused what checkClientForm leaves to fosite: %v", err)
			}
			return
		}
		if r.Method != http.MethodPost || (err == nil && len(r.PostForm) == 0) {
			t.Fatalf("checkClientForm passed a %s with body %v", r.Method, r.PostForm)
		}
		repeated := repeatedParams(r.PostForm)
		var rfc *fosite.RFC6749Error
		if err != nil {
			rfc = checkFormError(t, err, r)
		}
		anonymous := r.Header.Get("Authorization") == "" && r.PostForm.Get("client_id") == "" && r.PostForm.Get("client_assertion") == ""
		parsed := parseForm(fuzzRequest(t, method, ct, query, body, authorization))
		switch {
		case !parsed && (rfc == nil || rfc.ErrorField != fosite.ErrInvalidRequest.ErrorField):
			t.Fatalf("parameters that do not parse, yet %v", err)
		case !parsed:
		case len(repeated) > 0 && (rfc == nil || rfc.ErrorField != fosite.ErrInvalidRequest.ErrorField):
			t.Fatalf("parameters %v given twice, yet %v", repeated, err)
		case len(repeated) == 0 && anonymous && (rfc == nil || rfc.ErrorField != fosite.ErrInvalidClient.ErrorField):
			t.Fatalf("no client named, yet %v", err)
		}

		tokenErr := checkTokenForm(fuzzRequest(t, method, ct, query, body, authorization))
		if err != nil && tokenErr == nil {
			t.Fatalf("checkTokenForm passed what checkClientForm refused (%v)", err)
		}
		if tokenErr != nil {
			checkFormError(t, tokenErr, r)
		} else {
			switch gt := r.PostForm.Get("grant_type"); {
			case gt != "" && !slices.Contains(supportedGrants, gt):
				t.Fatalf("checkTokenForm passed grant type %q", gt)
			case gt == "authorization_code" && r.PostForm.Get("code") == "",
				gt == "refresh_token" && r.PostForm.Get("refresh_token") == "":
				t.Fatalf("checkTokenForm passed a %s grant without its code or token", gt)
			}
		}

		// Refused stays refused with one more parameter (urlencoded bodies).
		if err != nil && fuzzContentTypes[int(ct)%len(fuzzContentTypes)] == fuzzContentTypes[0] {
			more := body + "&extra=1"
			if body == "" {
				more = "extra=1"
			}
			if _, again := checkClientForm(fuzzRequest(t, method, ct, query, more, authorization)); again == nil {
				t.Fatalf("refused (%v), then passed with one more parameter", err)
			}
		}
	})
}

// FuzzRepeatedParams: repeatedParams names exactly the parameters given
// more than once, resource and audience aside, sorted.
func FuzzRepeatedParams(f *testing.F) {
	for _, s := range []string{"a=1&a=2&b=3", "resource=x&resource=y&audience=a&audience=b", "", "a=&a=&a=", "z=1&y=1&z=2&y=2", "%zz=1&%zz=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		form, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		got := repeatedParams(form)
		if !slices.IsSorted(got) {
			t.Fatalf("repeatedParams(%q) = %q, not sorted", q, got)
		}
		var want []string
		for k, v := range form {
			if len(v) > 1 && k != "resource" && k != "audience" {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("repeatedParams(%q) = %q, want %q", q, got, want)
		}
		if len(got) > 0 {
			hint := errRepeated(got).HintField
			for k := range form {
				if !slices.Contains(knownParams, k) && len(k) > 3 && strings.Contains(hint, k) && !slices.ContainsFunc(knownParams, func(p string) bool { return strings.Contains(p, k) }) && !strings.Contains("Parameters given more than once: A parameter was given more than once.", k) {
					t.Fatalf("the hint %q repeats the client's parameter name %q", hint, k)
				}
			}
		}
	})
}

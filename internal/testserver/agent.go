package testserver

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Agent is a browser without a browser: it keeps cookies, follows the
// provider's own redirects, and fills the hosted forms by their stable field
// names (design.md's automation contract).
type Agent struct {
	Issuer string
	HTTP   *http.Client
}

// NewAgent returns an agent with an empty cookie jar that never follows
// redirects by itself.
func NewAgent(issuer string, transport http.RoundTripper) *Agent {
	jar, _ := cookiejar.New(nil)
	return &Agent{Issuer: issuer, HTTP: &http.Client{
		Jar:           jar,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Page is a response the agent stopped at.
type Page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
}

// Form is an HTML form on a page.
type Form struct {
	Action string
	Fields url.Values
}

var (
	formRe  = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)
	actRe   = regexp.MustCompile(`action="([^"]*)"`)
	inputRe = regexp.MustCompile(`<input[^>]*>`)
	nameRe  = regexp.MustCompile(`name="([^"]*)"`)
	valRe   = regexp.MustCompile(`value="([^"]*)"`)
	typeRe  = regexp.MustCompile(`type="([^"]*)"`)
)

// Forms returns the page's forms with their hidden inputs filled in.
func (p *Page) Forms() []Form {
	var out []Form
	for _, f := range formRe.FindAllString(p.Body, -1) {
		form := Form{Fields: url.Values{}}
		open := f[:strings.Index(f, ">")]
		if m := actRe.FindStringSubmatch(open); m != nil {
			form.Action = html.UnescapeString(m[1])
		}
		for _, in := range inputRe.FindAllString(f, -1) {
			n := nameRe.FindStringSubmatch(in)
			t := typeRe.FindStringSubmatch(in)
			if n == nil || t == nil || t[1] != "hidden" {
				continue
			}
			v := ""
			if m := valRe.FindStringSubmatch(in); m != nil {
				v = html.UnescapeString(m[1])
			}
			form.Fields.Set(n[1], v)
		}
		out = append(out, form)
	}
	return out
}

// Has reports whether the page has an input or button with that name.
func (p *Page) Has(name string) bool { return strings.Contains(p.Body, `name="`+name+`"`) }

// Get fetches a URL without following redirects.
func (a *Agent) Get(ctx context.Context, u string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return a.do(req)
}

// Submit posts the form (its hidden fields plus extra) from page p.
func (a *Agent) Submit(ctx context.Context, p *Page, f Form, extra url.Values) (*Page, error) {
	vals := url.Values{}
	for k, v := range f.Fields {
		vals[k] = v
	}
	for k, v := range extra {
		vals[k] = v
	}
	target := p.URL
	if f.Action != "" {
		ref, err := url.Parse(f.Action)
		if err != nil {
			return nil, err
		}
		target = p.URL.ResolveReference(ref)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(vals.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return a.do(req)
}

func (a *Agent) do(req *http.Request) (*Page, error) {
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Page{URL: req.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

// Location returns the redirect target of p resolved against its URL, or nil.
func (p *Page) Location() *url.URL {
	loc := p.Header.Get("Location")
	if loc == "" || p.Status < 300 || p.Status >= 400 {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil
	}
	return p.URL.ResolveReference(u)
}

// Login is what the agent answers on the hosted pages.
type Login struct {
	Identifier, Password string
	Decision             string // consent answer; "allow" when empty
}

// ErrStopped: the flow stopped on a page of the provider.
var ErrStopped = errors.New("flow stopped on a provider page")

// Authorize walks an authorization from authURL: it follows the provider's
// redirects, logs in and answers consent when asked, and returns the first
// redirect that leaves the provider (to the relying party). When it stops on
// a page it returns that page and ErrStopped.
func (a *Agent) Authorize(ctx context.Context, authURL string, l Login) (*url.URL, *Page, error) {
	p, err := a.Get(ctx, authURL)
	for steps := 0; err == nil && steps < 10; steps++ {
		if loc := p.Location(); loc != nil {
			if !strings.HasPrefix(loc.String(), a.Issuer+"/") {
				return loc, p, nil
			}
			p, err = a.Get(ctx, loc.String())
			continue
		}
		forms := p.Forms()
		switch {
		case p.Status == http.StatusOK && p.Has("password") && len(forms) > 0 && l.Password != "":
			p, err = a.Submit(ctx, p, forms[0], url.Values{"identifier": {l.Identifier}, "password": {l.Password}})
			l.Password = "" // only once: a second login page means it failed
		case p.Status == http.StatusOK && p.Has("decision") && len(forms) > 0:
			d := l.Decision
			if d == "" {
				d = "allow"
			}
			p, err = a.Submit(ctx, p, forms[0], url.Values{"decision": {d}})
		default:
			return nil, p, fmt.Errorf("%w: %d %s", ErrStopped, p.Status, p.URL.Path)
		}
	}
	if err != nil {
		return nil, p, err
	}
	return nil, p, fmt.Errorf("%w: too many steps", ErrStopped)
}

package login

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The TLS client-certificate way. The signature page links to the mTLS
// listener (a listener of its own, which asks the browser for a client
// certificate) with a one-time hand-off naming the flow. The listener
// serves only tlsPath: it takes the hand-off, judges the certificate of
// the TLS handshake (never a header), and stores the result under a new
// one-time id bound to the flow; it then sends the browser back to the
// provider's own origin, where the flow's browser binding is checked
// before the result is taken. A result carried to another browser is
// refused there, and one taken once is gone.

const (
	tlsPath     = "/login/signature/tls"
	tlsDonePath = "/login/signature/tls/done"
	// handoffLifetime bounds the wait for the browser's trip to the
	// listener and back.
	handoffLifetime = 5 * time.Minute
	resultLifetime  = 2 * time.Minute
)

func handoffKey(h string) string { return "sig-handoff:" + h }
func resultKey(id string) string { return "sig-result:" + id }

// flowHandoffKey names the flow's live hand-off, so that showing the page
// again reuses it (as the challenge is) instead of storing one per view.
func flowHandoffKey(flow string) string { return "sig-flow-handoff:" + flow }

// handoff returns the flow's one-time hand-off to the mTLS listener: the
// live one, renewed for handoffLifetime, or a new one when there is none
// or the listener took it.
func (l *Login) handoff(ctx context.Context, f *Flow) (string, error) {
	of := flowHandoffKey(f.ID)
	b, err := l.Flows.GetEntry(ctx, of)
	switch {
	case err == nil:
		// ReplaceEntry renews it only while it is there: one the listener
		// took is not brought back.
		err = l.Flows.ReplaceEntry(ctx, handoffKey(string(b)), []byte(f.ID), handoffLifetime)
		if err == nil {
			return string(b), l.Flows.PutEntry(ctx, of, b, handoffLifetime)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	h := NewID()
	if err := l.Flows.PutEntry(ctx, handoffKey(h), []byte(f.ID), handoffLifetime); err != nil {
		return "", err
	}
	return h, l.Flows.PutEntry(ctx, of, []byte(h), handoffLifetime)
}

// tlsResult is what the listener hands back: the flow and its verified
// certificate.
type tlsResult struct {
	Flow  string          `json:"flow"`
	Proof *SignatureProof `json:"proof"`
}

// TLSHandler is the mTLS listener's handler: only the client-certificate
// endpoint; everything else is not found.
func (l *Login) TLSHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+tlsPath, l.handleTLS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "error.not_found"})
	})
	return mux
}

func (l *Login) handleTLS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h := r.URL.Query().Get("handoff")
	if l.Signature == nil || h == "" || len(h) > maxFlowID {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "error.flow_expired"})
		return
	}
	b, err := l.Flows.TakeEntry(ctx, handoffKey(h))
	if errors.Is(err, store.ErrNotFound) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "error.flow_expired"})
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	flow := string(b)
	back := l.Signature.Issuer + "/login/signature?flow=" + url.QueryEscape(flow)
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Redirect(w, r, back+"&refused=no_certificate", http.StatusSeeOther)
		return
	}
	certs := r.TLS.PeerCertificates
	c, err := l.Signature.Verifier.Verify(ctx, certs[0], certs[1:])
	if err != nil {
		code := signature.Reason(err)
		if code == "" {
			l.Pages.Error(w, r, err)
			return
		}
		l.logger().InfoContext(ctx, "client certificate refused", "reason", code, "err", err)
		l.outcome("signature_refused")
		http.Redirect(w, r, back+"&refused="+code, http.StatusSeeOther)
		return
	}
	res, err := json.Marshal(tlsResult{Flow: flow, Proof: proofOf(c, l.now().UTC())})
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	id := NewID()
	if err := l.Flows.PutEntry(ctx, resultKey(id), res, resultLifetime); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	http.Redirect(w, r, l.Signature.Issuer+tlsDonePath+"?flow="+url.QueryEscape(flow)+"&result="+url.QueryEscape(id), http.StatusSeeOther)
}

// handleTLSDone takes the listener's result on the provider's origin,
// for the browser the flow is bound to. The result is read and its flow
// compared before it is taken: a result URL carried to another browser's
// flow is refused without spending it for the browser it belongs to.
func (l *Login) handleTLSDone(w http.ResponseWriter, r *http.Request) {
	f := l.signatureStep(w, r)
	if f == nil {
		return
	}
	ctx := r.Context()
	id := r.URL.Query().Get("result")
	var res tlsResult
	b, err := l.Flows.GetEntry(ctx, resultKey(id))
	if err == nil {
		err = json.Unmarshal(b, &res)
	}
	if err == nil && res.Flow == f.ID && res.Proof != nil {
		// Good once: of two requests with it, one takes it.
		_, err = l.Flows.TakeEntry(ctx, resultKey(id))
	}
	if err != nil || res.Flow != f.ID || res.Proof == nil {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			l.logger().WarnContext(ctx, "take a client-certificate result", "err", err)
		}
		http.Redirect(w, r, "/login/signature?flow="+url.QueryEscape(f.ID)+"&refused=tls_expired", http.StatusSeeOther)
		return
	}
	l.signedWith(w, r, f, res.Proof)
}

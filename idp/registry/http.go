package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds one request to the verification service.
const DefaultTimeout = 15 * time.Second

// HTTP is the adapter to an external verification service
// (IDP_REGISTRY_URL). It POSTs the Request as JSON, with
// "Authorization: Bearer" Token when set and "Idempotency-Key" the
// request's ID, and reads the answer (docs/operator-guide.md):
//
//   - 200 with {"status":"approved"} or {"status":"rejected","reason":...,"message":...}: decided;
//   - 202 (still deciding), 408, 429 and 5xx, a timeout or a broken
//     connection: ErrTransient, the job asks again later;
//   - any other answer: the service refused the request; no retry.
type HTTP struct {
	URL    string
	Token  string
	Client *http.Client // nil: a client with Timeout
	// Timeout bounds one request (DefaultTimeout when zero).
	Timeout time.Duration
}

// CheckURL returns what is wrong with a verification service URL, or nil;
// its error never repeats the URL.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return errors.New("must be an absolute http(s) URL")
	case u.User != nil:
		return errors.New("must not hold a user or password: use the token")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("must be https (or http to a loopback host)")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return errors.New("must be https unless the host is a loopback address")
	}
	return nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// maxAnswer bounds the answer read.
const maxAnswer = 64 << 10

// Check sends one request.
func (h *HTTP) Check(ctx context.Context, req Request) (Result, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Result{}, err
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("registry: request: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	if req.ID != "" {
		hr.Header.Set("Idempotency-Key", req.ID)
	}
	if h.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+h.Token)
	}
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	resp, err := client.Do(hr)
	if err != nil {
		// The URL may hold a key: say what failed, not where.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Result{}, transient("the service did not answer: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return Result{}, transient("reading the answer: %v", err)
	}
	switch {
	case resp.StatusCode == http.StatusAccepted:
		return Result{}, transient("the service is still deciding")
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return Result{}, transient("the service answered %d", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return Result{}, fmt.Errorf("registry: the service refused the request (%d)", resp.StatusCode)
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return Result{}, transient("the answer is not JSON: %v", err)
	}
	switch res.Outcome {
	case Approved, Rejected:
		if len(res.Message) > 500 {
			res.Message = res.Message[:500]
		}
		if len(res.Reason) > 100 {
			res.Reason = res.Reason[:100]
		}
		return res, nil
	case "pending":
		return Result{}, transient("the service is still deciding")
	}
	return Result{}, transient("the answer has status %q", res.Outcome)
}

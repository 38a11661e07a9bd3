package chaos

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// Class is how one HTTP request of the load ended.
type Class string

// The classes. Only OK, Unavailable and (for requests to a replica that
// died) Conn are allowed during a fault; an unexpected ClientError is
// judged by the operation that sent it.
const (
	OK          Class = "ok"                      // 1xx-3xx
	ClientError Class = "4xx"                     // the operation says whether it was expected
	Unavailable Class = "503 with Retry-After"    // the server shed the request, saying when to retry
	Busy        Class = "429 with Retry-After"    // the server refused a login of an account whose check it takes to be in flight
	Conn        Class = "connection error"        // the connection failed or the backend died (502 of the proxy)
	Timeout     Class = "timeout"                 // no complete answer within the request bound
	ServerError Class = "5xx"                     // 500 and any 5xx but 503 and the proxy's 502
	Bad503      Class = "503 without Retry-After" // a 503 that does not say when to retry
)

// Allowed reports whether a request may end so during a fault.
func (c Class) Allowed() bool {
	return c == OK || c == ClientError || c == Unavailable || c == Busy || c == Conn
}

// Record is one HTTP request of the load.
type Record struct {
	Start, End time.Time
	Op         string // the operation that sent it
	Method     string
	Path       string
	Status     int
	Class      Class
	Backend    string // for Conn: the backend that died, when the proxy says
	Err        string // the transport error, if any
}

// Recorder is an http.RoundTripper that bounds every request to Timeout,
// reads the whole answer within it, classifies it and keeps the record.
type Recorder struct {
	Next    http.RoundTripper
	Timeout time.Duration

	mu      sync.Mutex
	records []Record
}

type opKey struct{}

// WithOp names the operation whose requests ctx carries.
func WithOp(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// RoundTrip sends the request and records it.
func (rec *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	op, _ := req.Context().Value(opKey{}).(string)
	ctx, cancel := context.WithTimeout(req.Context(), rec.Timeout)
	defer cancel()
	r := Record{Start: time.Now(), Op: op, Method: req.Method, Path: req.URL.Path}
	resp, err := rec.Next.RoundTrip(req.WithContext(ctx))
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	r.End = time.Now()
	if err != nil && req.Context().Err() != nil {
		return nil, err // the load stopped: not the server's doing
	}
	if err != nil {
		r.Err = err.Error()
	}
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.Class = Timeout
	case err != nil:
		r.Class = Conn
	default:
		r.Status = resp.StatusCode
		r.Class = classify(resp)
		if r.Class == Conn {
			r.Backend = resp.Header.Get(ProxyErrorHeader)
		}
	}
	rec.mu.Lock()
	rec.records = append(rec.records, r)
	rec.mu.Unlock()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func classify(resp *http.Response) Class {
	switch s := resp.StatusCode; {
	case s < 400:
		return OK
	case s == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "":
		return Busy
	case s < 500:
		return ClientError
	case s == http.StatusBadGateway && resp.Header.Get(ProxyErrorHeader) != "":
		return Conn
	case s == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		return Unavailable
	case s == http.StatusServiceUnavailable:
		return Bad503
	}
	return ServerError
}

// Records returns a copy of the records so far.
func (rec *Recorder) Records() []Record {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Record(nil), rec.records...)
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// wire is one worker's keep-alive connection to the server for the
// token-endpoint scenarios. It writes each request from a reused buffer and
// reads the answer with http.ReadResponse: no transport, no goroutines per
// connection, no per-request allocations beyond the response's, so that the
// load generator takes as little as it can of the CPU it shares with the
// server. A connection that fails is closed and redialled on the next
// request.
type wire struct {
	addr, host string
	c          net.Conn
	br         *bufio.Reader
	req, body  bytes.Buffer
}

func newWire(addr string) *wire { return &wire{addr: addr, host: addr} }

// post sends a form with the Authorization header (none when empty) and
// returns the status and the body (valid until the next call).
func (w *wire) post(ctx context.Context, path, authorization, form string) (int, []byte, error) {
	reused := w.c != nil
	status, body, err := w.try(ctx, path, authorization, form)
	if err != nil && reused && status == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		// The server closed the idle connection before reading this
		// request: send it again on a new one, as net/http does.
		return w.try(ctx, path, authorization, form)
	}
	return status, body, err
}

// try sends the request once, dialling first if needed.
func (w *wire) try(ctx context.Context, path, authorization, form string) (int, []byte, error) {
	if w.c == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", w.addr)
		if err != nil {
			return 0, nil, err
		}
		w.c = c
		w.br = bufio.NewReaderSize(c, 16<<10)
	}
	deadline := time.Now().Add(requestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	status, body, keep, err := w.roundTrip(deadline, path, authorization, form)
	if err != nil || !keep {
		w.close()
	}
	return status, body, err
}

// roundTrip sends one request and reads its answer; keep is false when the
// server closes the connection after it.
func (w *wire) roundTrip(deadline time.Time, path, authorization, form string) (status int, body []byte, keep bool, err error) {
	if err := w.c.SetDeadline(deadline); err != nil {
		return 0, nil, false, err
	}
	b := &w.req
	b.Reset()
	b.WriteString("POST ")
	b.WriteString(path)
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(w.host)
	if authorization != "" {
		b.WriteString("\r\nAuthorization: ")
		b.WriteString(authorization)
	}
	b.WriteString("\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(form)))
	b.WriteString("\r\n\r\n")
	b.WriteString(form)
	if _, err := w.c.Write(b.Bytes()); err != nil {
		return 0, nil, false, err
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return 0, nil, false, err
	}
	defer resp.Body.Close()
	w.body.Reset()
	if _, err := w.body.ReadFrom(io.LimitReader(resp.Body, maxBody)); err != nil {
		return resp.StatusCode, nil, false, err
	}
	return resp.StatusCode, w.body.Bytes(), !resp.Close, nil
}

// close closes the connection, if any.
func (w *wire) close() {
	if w.c != nil {
		w.c.Close()
		w.c = nil
	}
}

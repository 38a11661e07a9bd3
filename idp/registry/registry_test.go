package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func request(number string) Request {
	return Request{
		ID: "ver-1", LastName: "Иванова", FirstName: "Мария", BirthDate: "1990-05-17", SNILS: "11223344595",
		Document: &Document{Type: DocPassport, Series: "4510", Number: number, IssueDate: "2010-06-01", DepartmentCode: "770-001"},
	}
}

func TestSimulator(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		req    Request
		want   Outcome
		reason string
	}{
		{"well-formed", request("123456"), Approved, ""},
		{"passport not found", request(RejectedPassportNumber), Rejected, "passport_not_found"},
		{"no SNILS", func() Request { r := request("123456"); r.SNILS = ""; return r }(), Rejected, "incomplete"},
		{"no document", func() Request { r := request("123456"); r.Document = nil; return r }(), Rejected, "incomplete"},
	}
	for _, c := range cases {
		res, err := Simulator{}.Check(ctx, c.req)
		if err != nil || res.Outcome != c.want || res.Reason != c.reason {
			t.Errorf("%s: %+v, %v; want %s %q", c.name, res, err, c.want, c.reason)
		}
	}
	// The delay is honoured, and a cancelled check may be tried again.
	start := time.Now()
	if res, err := (Simulator{Delay: 50 * time.Millisecond}).Check(ctx, request("123456")); err != nil || res.Outcome != Approved || time.Since(start) < 50*time.Millisecond {
		t.Errorf("with a delay: %+v, %v after %v", res, err, time.Since(start))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (Simulator{Delay: time.Hour}).Check(cctx, request("123456")); !errors.Is(err, ErrTransient) {
		t.Errorf("cancelled: %v, want ErrTransient", err)
	}
}

func TestHTTP(t *testing.T) {
	type answer struct {
		status int
		body   string
		delay  time.Duration
	}
	cases := []struct {
		name      string
		answer    answer
		want      Outcome
		transient bool
		permanent bool
	}{
		{"approved", answer{200, `{"status":"approved"}`, 0}, Approved, false, false},
		{"rejected", answer{200, `{"status":"rejected","reason":"passport_not_found","message":"паспорт не найден"}`, 0}, Rejected, false, false},
		{"still deciding (202)", answer{202, ``, 0}, "", true, false},
		{"pending in body", answer{200, `{"status":"pending"}`, 0}, "", true, false},
		{"unavailable", answer{503, `down`, 0}, "", true, false},
		{"rate limited", answer{429, ``, 0}, "", true, false},
		{"not JSON", answer{200, `<html>`, 0}, "", true, false},
		{"unknown status", answer{200, `{"status":"maybe"}`, 0}, "", true, false},
		{"refused", answer{400, `{"error":"bad snils"}`, 0}, "", false, true},
		{"unauthorized", answer{401, ``, 0}, "", false, true},
		{"slow", answer{200, `{"status":"approved"}`, 300 * time.Millisecond}, "", true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got Request
			var header http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				header = r.Header.Clone()
				if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
					t.Errorf("request body: %v", err)
				}
				time.Sleep(c.answer.delay)
				w.WriteHeader(c.answer.status)
				w.Write([]byte(c.answer.body))
			}))
			defer srv.Close()
			h := &HTTP{URL: srv.URL + "/check?key=secret-in-url", Token: "registry-token", Timeout: 100 * time.Millisecond}
			res, err := h.Check(context.Background(), request("123456"))
			switch {
			case c.transient && !errors.Is(err, ErrTransient):
				t.Fatalf("%v, want ErrTransient", err)
			case c.permanent && (err == nil || errors.Is(err, ErrTransient)):
				t.Fatalf("%v, want a permanent error", err)
			case !c.transient && !c.permanent && (err != nil || res.Outcome != c.want):
				t.Fatalf("%+v, %v; want %s", res, err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret-in-url") {
				t.Errorf("the error repeats the URL: %v", err)
			}
			if c.answer.delay > 0 {
				return
			}
			if header.Get("Authorization") != "Bearer registry-token" || header.Get("Idempotency-Key") != "ver-1" || header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", header)
			}
			if got.SNILS != "11223344595" || got.Document == nil || got.Document.Number != "123456" || got.BirthDate != "1990-05-17" {
				t.Errorf("the service got %+v", got)
			}
		})
	}
	// Nobody listening: transient.
	h := &HTTP{URL: "http://127.0.0.1:1/check", Timeout: time.Second}
	if _, err := h.Check(context.Background(), request("123456")); !errors.Is(err, ErrTransient) {
		t.Errorf("no service: %v, want ErrTransient", err)
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://registry.example/check":   true,
		"http://127.0.0.1:9000/check":      true,
		"http://registry.example/check":    false,
		"https://user:pw@registry.example": false,
		"ftp://registry.example":           false,
		"registry.example/check":           false,
		"":                                 false,
	} {
		if err := CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", raw, err)
		}
	}
}

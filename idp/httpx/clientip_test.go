package httpx

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "192.0.2.1:5000", nil, trusted, "192.0.2.1"},
		{"untrusted peer's header ignored", "192.0.2.1:5000", []string{"203.0.113.9"}, trusted, "192.0.2.1"},
		{"no trusted proxies configured", "10.0.0.1:5000", []string{"203.0.113.9"}, nil, "10.0.0.1"},
		{"one proxy", "10.0.0.1:5000", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"spoofed leftmost entry ignored", "10.0.0.1:5000", []string{"198.51.100.66, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"chain of proxies", "10.0.0.1:5000", []string{"203.0.113.9, 10.2.2.2", "10.3.3.3"}, trusted, "203.0.113.9"},
		{"all hops trusted", "10.0.0.1:5000", []string{"10.9.9.9, 10.2.2.2"}, trusted, "10.9.9.9"},
		{"proxy without header", "10.0.0.1:5000", nil, trusted, "10.0.0.1"},
		{"garbage hop stops at last trusted", "10.0.0.1:5000", []string{"203.0.113.9, unknown, 10.2.2.2"}, trusted, "10.2.2.2"},
		{"hop with port", "10.0.0.1:5000", []string{"203.0.113.9:4711"}, trusted, "203.0.113.9"},
		{"IPv6 proxy and client", "[fd00::1]:5000", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
		{"bracketed IPv6 hop with port", "[fd00::1]:5000", []string{"[2001:db8::7]:443"}, trusted, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:5000", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"zone stripped", "[fe80::1%eth0]:5000", nil, trusted, "fe80::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, tt.trusted); got.String() != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "@"
	if got := ClientIP(r, trusted); got.IsValid() {
		t.Errorf("ClientIP of a unix socket peer = %s, want the zero Addr", got)
	}
}

package redis_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/store/redis"
)

// secretMark is the password of every fuzzed URL.
const secretMark = "s3cretMARK"

var fuzzSchemes = []string{"redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster", "http", "REDIS", ""}

// FuzzParseURL: for a URL of any form whose user info holds a password,
// ParseURL does not panic, its error never shows the password, and what it
// accepts is consistent with the scheme: at least one host:port with a
// valid port, Sentinel (with a master) only for +sentinel, Cluster only for
// +cluster, TLS exactly for rediss, and the password taken from the user
// info.
func FuzzParseURL(f *testing.F) {
	for _, s := range []struct {
		scheme      uint8
		user, hosts string
		rest        string
	}{
		{0, "", "localhost:6380", "/2?dial_timeout=3s&pool_size=7"},
		{1, "user", "cache.example.org", ""},
		{2, "", "s1:26380,s2,[::1]:26381", "/mymaster/3?sentinel_password=sp&read_timeout=2s"},
		{3, "", "s1,s2", "/m?skip_verify=true"},
		{4, "", "n1,n2:7000,[::1]", "?read_only=true"},
		{5, "u", "n1", "?skip_verify=maybe"},
		{2, "", "s1", "/m/0/x"},
		{4, "", "n1:70000", ""},
		{4, "", "[::1", ""},
		{0, "", "local host", ""},
		{6, "", "localhost", ""},
		{0, "", "", "/0"},
	} {
		f.Add(s.scheme, s.user, s.hosts, s.rest)
	}
	f.Fuzz(func(t *testing.T, si uint8, user, hosts, rest string) {
		// The password stays in the user info: nothing else may end it.
		if strings.ContainsAny(user, ":@/?#") || strings.ContainsAny(hosts, "@/?#") || strings.Contains(rest, "@") {
			return
		}
		scheme := fuzzSchemes[int(si)%len(fuzzSchemes)]
		raw := scheme + "://" + user + ":" + secretMark + "@" + hosts + rest
		o, err := redis.ParseURL(raw)
		if err != nil {
			if strings.Contains(err.Error(), secretMark) {
				t.Fatalf("ParseURL(%q): the error %q shows the password", raw, err)
			}
			return
		}
		lower := strings.ToLower(scheme)
		if len(o.Addrs) == 0 {
			t.Fatalf("ParseURL(%q): no address", raw)
		}
		for _, a := range o.Addrs {
			_, port, err := net.SplitHostPort(a)
			if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
				t.Fatalf("ParseURL(%q): address %q is not host:port with a port from 1 to 65535", raw, a)
			}
		}
		if sentinel := strings.HasSuffix(lower, "+sentinel"); sentinel != (o.MasterName != "") {
			t.Fatalf("ParseURL(%q): master %q", raw, o.MasterName)
		}
		if cluster := strings.HasSuffix(lower, "+cluster"); cluster != o.IsClusterMode {
			t.Fatalf("ParseURL(%q): cluster mode %v", raw, o.IsClusterMode)
		}
		if tls := strings.HasPrefix(lower, "rediss"); tls != (o.TLSConfig != nil) {
			t.Fatalf("ParseURL(%q): TLS config %v", raw, o.TLSConfig)
		}
		if o.Password != secretMark {
			t.Fatalf("ParseURL(%q): password %q, want the user info's", raw, o.Password)
		}
	})
}

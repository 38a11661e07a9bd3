package httpx

import (
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// FuzzClientIP: whatever the peer address and X-Forwarded-For, ClientIP
// does not panic, and
//   - a peer address that is not an IP gives the zero Addr, and any other
//     answer is unmapped and without a zone;
//   - the answer is the peer or one of the header's hops;
//   - an untrusted peer (or no trusted proxies at all) is the answer,
//     whatever the header says;
//   - when a hop of the header is the answer and is not trusted, what the
//     client put before it cannot change the answer (no spoofing by
//     prepending).
func FuzzClientIP(f *testing.F) {
	for _, s := range [][3]string{
		{"192.0.2.1:5000", "203.0.113.9", ""},
		{"10.0.0.1:5000", "198.51.100.66, 203.0.113.9", ""},
		{"10.0.0.1:5000", "203.0.113.9, 10.2.2.2", "10.3.3.3"},
		{"10.0.0.1:5000", "10.9.9.9, 10.2.2.2", ""},
		{"10.0.0.1:5000", "203.0.113.9, unknown, 10.2.2.2", ""},
		{"[fd00::1]:5000", "[2001:db8::7]:443", ""},
		{"[::ffff:10.0.0.1]:5000", "::ffff:203.0.113.9", ""},
		{"[fe80::1%eth0]:5000", "fe80::2%lo", ""},
		{"@", "203.0.113.9", ""},
		{"127.0.0.1:1", ",,, ,", "10.1.1.1,"},
		{"10.0.0.1", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
	}
	ask := func(remote string, xff []string, trusted []netip.Prefix) netip.Addr {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return ClientIP(r, trusted)
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		xff := []string{xff1, xff2}
		got := ask(remote, xff, trusted)
		peer, ok := parseHop(remote)
		if !ok {
			if got.IsValid() {
				t.Fatalf("peer %q is not an IP address, yet the client is %s", remote, got)
			}
			return
		}
		if !got.IsValid() || got != got.Unmap().WithZone("") {
			t.Fatalf("peer %q, header %q: client %s, want a valid address, unmapped, without a zone", remote, xff, got)
		}
		var hops []netip.Addr
		for _, v := range xff {
			for _, h := range strings.Split(v, ",") {
				if a, ok := parseHop(strings.TrimSpace(h)); ok {
					hops = append(hops, a)
				}
			}
		}
		if got != peer && !slices.Contains(hops, got) {
			t.Fatalf("peer %q, header %q: client %s is neither the peer nor a hop", remote, xff, got)
		}
		if !isTrusted(peer, trusted) && got != peer {
			t.Fatalf("untrusted peer %q, header %q: client %s, want the peer", remote, xff, got)
		}
		if none := ask(remote, xff, nil); none != peer {
			t.Fatalf("no trusted proxies, peer %q, header %q: client %s, want the peer", remote, xff, none)
		}
		if got != peer && !isTrusted(got, trusted) {
			for _, forged := range []string{"198.51.100.66", "10.0.0.2", "garbage", got.String()} {
				if again := ask(remote, append([]string{forged}, xff...), trusted); again != got {
					t.Fatalf("peer %q, header %q: client %s, but %s once the client prepends %q", remote, xff, got, again, forged)
				}
			}
		}
	})
}

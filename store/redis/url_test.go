package redis_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store/redis"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url   string
		check func(t *testing.T, o *goredis.UniversalOptions)
	}{
		{"redis://:s3cret@localhost:6380/2?dial_timeout=3s&pool_size=7", func(t *testing.T, o *goredis.UniversalOptions) {
			wantAddrs(t, o, "localhost:6380")
			if o.MasterName != "" || o.IsClusterMode {
				t.Errorf("MasterName %q, IsClusterMode %v: want a single node", o.MasterName, o.IsClusterMode)
			}
			if o.DB != 2 || o.Password != "s3cret" || o.DialTimeout != 3*time.Second || o.PoolSize != 7 || o.TLSConfig != nil {
				t.Errorf("got DB %d, password %q, dial timeout %v, pool size %d, TLS %v", o.DB, o.Password, o.DialTimeout, o.PoolSize, o.TLSConfig)
			}
		}},
		{"rediss://user:pw@cache.example.org", func(t *testing.T, o *goredis.UniversalOptions) {
			wantAddrs(t, o, "cache.example.org:6379")
			if o.Username != "user" || o.Password != "pw" {
				t.Errorf("credentials %q:%q", o.Username, o.Password)
			}
			if o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.example.org" {
				t.Errorf("TLS config %+v: want server name cache.example.org", o.TLSConfig)
			}
		}},
		{"redis+sentinel://:p%40ss@s1:26380,s2,[::1]:26381/mymaster/3?sentinel_password=sp&read_timeout=2s", func(t *testing.T, o *goredis.UniversalOptions) {
			wantAddrs(t, o, "s1:26380", "s2:26379", "[::1]:26381")
			if o.MasterName != "mymaster" || o.DB != 3 || o.IsClusterMode {
				t.Errorf("master %q, DB %d, IsClusterMode %v", o.MasterName, o.DB, o.IsClusterMode)
			}
			if o.Password != "p@ss" || o.SentinelPassword != "sp" || o.SentinelUsername != "" {
				t.Errorf("password %q, sentinel credentials %q:%q", o.Password, o.SentinelUsername, o.SentinelPassword)
			}
			if o.ReadTimeout != 2*time.Second || o.TLSConfig != nil {
				t.Errorf("read timeout %v, TLS %v", o.ReadTimeout, o.TLSConfig)
			}
		}},
		{"redis+sentinel://s1/mymaster", func(t *testing.T, o *goredis.UniversalOptions) {
			wantAddrs(t, o, "s1:26379")
			if o.MasterName != "mymaster" || o.DB != 0 || o.Password != "" || o.SentinelPassword != "" {
				t.Errorf("master %q, DB %d, passwords %q/%q", o.MasterName, o.DB, o.Password, o.SentinelPassword)
			}
		}},
		{"rediss+sentinel://s1,s2/m?skip_verify=true", func(t *testing.T, o *goredis.UniversalOptions) {
			wantAddrs(t, o, "s1:26379", "s2:26379")
			if o.TLSConfig == nil || o.TLSConfig.ServerName != "" || !o.TLSConfig.InsecureSkipVerify {
				t.Errorf("TLS config %+v: want each host verified by its own name, skip_verify on", o.TLSConfig)
			}
		}},
		{"redis+cluster://u:pw@n1:7000,n2,10.0.0.3:7002?read_only=true&max_redirects=5", func(t *testing.T, o *goredis.UniversalOptions) {
			wantAddrs(t, o, "n1:7000", "n2:6379", "10.0.0.3:7002")
			if !o.IsClusterMode || o.MasterName != "" {
				t.Errorf("IsClusterMode %v, master %q", o.IsClusterMode, o.MasterName)
			}
			if o.Username != "u" || o.Password != "pw" || !o.ReadOnly || o.MaxRedirects != 5 {
				t.Errorf("credentials %q:%q, read only %v, max redirects %d", o.Username, o.Password, o.ReadOnly, o.MaxRedirects)
			}
		}},
		{"REDISS+CLUSTER://n1/", func(t *testing.T, o *goredis.UniversalOptions) {
			wantAddrs(t, o, "n1:6379")
			if !o.IsClusterMode {
				t.Error("a single seed node must still make a Cluster client")
			}
			if o.TLSConfig == nil || o.TLSConfig.ServerName != "" || o.TLSConfig.InsecureSkipVerify {
				t.Errorf("TLS config %+v", o.TLSConfig)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			o, err := redis.ParseURL(tc.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			tc.check(t, o)
		})
	}
}

func wantAddrs(t *testing.T, o *goredis.UniversalOptions, addrs ...string) {
	t.Helper()
	if !slices.Equal(o.Addrs, addrs) {
		t.Errorf("Addrs %q, want %q", o.Addrs, addrs)
	}
}

// The options pick the kind of client without connecting.
func TestParseURLClientKind(t *testing.T) {
	o, err := redis.ParseURL("redis+cluster://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewUniversalClient(o)
	defer c.Close()
	if _, ok := c.(*goredis.ClusterClient); !ok {
		t.Fatalf("redis+cluster: got a %T, want a *redis.ClusterClient", c)
	}
	o, err = redis.ParseURL("redis://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	c2 := goredis.NewUniversalClient(o)
	defer c2.Close()
	if _, ok := c2.(*goredis.Client); !ok {
		t.Fatalf("redis: got a %T, want a *redis.Client", c2)
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, u := range []string{
		"",
		"localhost:6379",
		"http://localhost",
		"redis://:s3cret@localhost:port",
		"redis://:s3cret@localhost:0", // go-redis takes it; it cannot be dialled
		"rediss://:s3cret@localhost:00",
		"redis://:s3cret@local host",
		"redis://localhost?bogus=1",
		"redis+sentinel://:s3cret@s1",            // no master
		"redis+sentinel://:s3cret@s1/m/0/x",      // too long a path
		"redis+sentinel://:s3cret@s1/m/x",        // bad database
		"redis+sentinel://s1/m?master_name=n",    // master twice
		"redis+sentinel://s1/m?password=x",       // password belongs in the user info
		"redis+sentinel://:s3cret@s1:x/m",        // bad port
		"redis+sentinel://:s3cret@s1:0/m",        // bad port
		"redis+sentinel://:s3cret@s1,,s2/m",      // empty host
		"redis+sentinel://s1/m?skip_verify=true", // skip_verify without TLS
		"redis+cluster://:s3cret@n1/0",           // Cluster has no databases
		"redis+cluster://:s3cret@n1:70000",       // bad port
		"redis+cluster://:s3cret@[::1/",          // bad IPv6
		"redis+cluster://:s3cret@n1?bogus=1",     // unknown option
		"redis+cluster://n1?addr=n2:6379",        // hosts go in the authority
		"rediss+cluster://n1?skip_verify=maybe",  // bad boolean
		"redis+cluster://n1?skip_verify=true",    // skip_verify without TLS
		"redis+cluster://:s3cret@n1?dial_timeout=soon",
	} {
		t.Run(u, func(t *testing.T) {
			o, err := redis.ParseURL(u)
			if err == nil {
				t.Fatalf("ParseURL: got %+v, want an error", o)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("ParseURL: the error %q shows the password", err)
			}
		})
	}
}

package redis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Default ports of the multi-host URL forms.
const (
	sentinelPort = "26379"
	clusterPort  = "6379"
)

// ParseURL turns a Redis URL of one of the forms in the package doc into the
// options of redis.NewUniversalClient: a single-node client for redis:// and
// rediss://, a Sentinel-backed failover client for redis+sentinel:// (the
// options carry MasterName) and a Cluster client for redis+cluster:// (the
// options set IsClusterMode). Its errors never contain the URL, which may
// hold a password.
func ParseURL(rawURL string) (*goredis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("redis: URL has no scheme")
	}
	switch scheme = strings.ToLower(scheme); scheme {
	case "redis", "rediss":
		o, err := goredis.ParseURL(rawURL)
		if err != nil {
			return nil, urlErr(err)
		}
		// go-redis takes any port, 0 and "00" included, which only fail
		// when the server is dialled; the multi-host forms refuse them here.
		if _, err := hostPort(o.Addr, ""); err != nil {
			return nil, err
		}
		return fromOptions(o), nil
	case "redis+sentinel", "rediss+sentinel":
		return parseSentinel(strings.TrimSuffix(scheme, "+sentinel"), rest)
	case "redis+cluster", "rediss+cluster":
		return parseCluster(strings.TrimSuffix(scheme, "+cluster"), rest)
	}
	return nil, fmt.Errorf("redis: unsupported URL scheme %q (want redis, rediss, redis+sentinel, rediss+sentinel, redis+cluster or rediss+cluster)", scheme)
}

// multiHost is a URL whose authority lists several hosts.
type multiHost struct {
	addrs []string // host:port, at least one
	u     *url.URL // the rest: user, path, query
}

// splitMultiHost parses what follows "scheme://" in a multi-host URL.
// net/url rejects a comma-separated host list (with IPv6 literals in it), so
// the authority is split here and the rest is left to net/url.
func splitMultiHost(base, rest, defaultPort string) (*multiHost, error) {
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo := ""
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, authority = authority[:i+1], authority[i+1:]
	}
	var addrs []string
	for _, h := range strings.Split(authority, ",") {
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, addr)
	}
	u, err := url.Parse(base + "://" + userinfo + "host" + tail)
	if err != nil {
		return nil, urlErr(err)
	}
	return &multiHost{addrs: addrs, u: u}, nil
}

// hostPort validates one host of a list and adds the default port if it has none.
func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", errors.New("redis: empty host in URL")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: a name, an IPv4 address or a bracketed IPv6 address.
		host, port = h, defaultPort
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			host = h[1 : len(h)-1]
		}
	}
	if host == "" || strings.ContainsAny(host, "[]") {
		return "", fmt.Errorf("redis: invalid host %q in URL", h)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("redis: invalid port in host %q in URL", h)
	}
	return net.JoinHostPort(host, port), nil
}

// parseSentinel parses redis+sentinel://[[user]:password@]hosts/master[/db]?query.
// go-redis's ParseFailoverURL does the query; it reads the Sentinels'
// credentials from the user info and the master's from the username and
// password parameters, so the two are swapped on the way.
func parseSentinel(base, rest string) (*goredis.UniversalOptions, error) {
	m, err := splitMultiHost(base, rest, sentinelPort)
	if err != nil {
		return nil, err
	}
	path := strings.Split(strings.Trim(m.u.Path, "/"), "/")
	if path[0] == "" || len(path) > 2 {
		return nil, errors.New("redis: a Sentinel URL's path is /master or /master/db")
	}
	q := m.u.Query()
	for _, p := range []string{"master_name", "addr", "username", "password"} {
		if q.Has(p) {
			return nil, fmt.Errorf("redis: unexpected option %s in a Sentinel URL", p)
		}
	}
	q.Set("master_name", path[0])
	if len(path) == 2 {
		q.Set("db", path[1])
	}
	if m.u.User != nil {
		q.Set("username", m.u.User.Username())
		if p, ok := m.u.User.Password(); ok {
			q.Set("password", p)
		}
	}
	for _, a := range m.addrs[1:] {
		q.Add("addr", a)
	}
	gu := &url.URL{Scheme: base, Host: m.addrs[0]}
	if q.Has("sentinel_username") || q.Has("sentinel_password") {
		gu.User = url.UserPassword(q.Get("sentinel_username"), q.Get("sentinel_password"))
		q.Del("sentinel_username")
		q.Del("sentinel_password")
	}
	gu.RawQuery = q.Encode()
	fo, err := goredis.ParseFailoverURL(gu.String())
	if err != nil {
		return nil, urlErr(err)
	}
	if fo.UseDisconnectedReplicas {
		return nil, errors.New("redis: option use_disconnected_replicas is not supported")
	}
	if fo.TLSConfig != nil {
		// Verify each Sentinel and the master against its own name.
		fo.TLSConfig.ServerName = ""
	}
	return fromFailover(fo), nil
}

// parseCluster parses redis+cluster://[[user]:password@]hosts[?query].
func parseCluster(base, rest string) (*goredis.UniversalOptions, error) {
	m, err := splitMultiHost(base, rest, clusterPort)
	if err != nil {
		return nil, err
	}
	if strings.Trim(m.u.Path, "/") != "" {
		return nil, errors.New("redis: a Cluster URL has no path (Redis Cluster has only database 0)")
	}
	q := m.u.Query()
	if q.Has("addr") {
		return nil, errors.New("redis: unexpected option addr in a Cluster URL")
	}
	// go-redis's ParseClusterURL knows no skip_verify; take it here.
	skipVerify := false
	if base == "rediss" && q.Has("skip_verify") {
		switch q.Get("skip_verify") {
		case "true", "1":
			skipVerify = true
		case "false", "0", "":
		default:
			return nil, errors.New("redis: invalid skip_verify boolean")
		}
		q.Del("skip_verify")
	}
	for _, a := range m.addrs[1:] {
		q.Add("addr", a)
	}
	gu := &url.URL{Scheme: base, User: m.u.User, Host: m.addrs[0], RawQuery: q.Encode()}
	co, err := goredis.ParseClusterURL(gu.String())
	if err != nil {
		return nil, urlErr(err)
	}
	if co.TLSConfig != nil {
		// Verify each node against its own name.
		co.TLSConfig.ServerName = ""
		co.TLSConfig.InsecureSkipVerify = skipVerify
	}
	return fromCluster(co), nil
}

// urlErr drops the URL that net/url puts into its errors: it may hold a password.
func urlErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if strings.HasPrefix(err.Error(), "redis: ") { // go-redis's own
		return err
	}
	return fmt.Errorf("redis: invalid URL: %w", err)
}

// fromOptions copies what goredis.ParseURL sets into universal options.
func fromOptions(o *goredis.Options) *goredis.UniversalOptions {
	return &goredis.UniversalOptions{
		Addrs:                   []string{o.Addr},
		ClientName:              o.ClientName,
		DB:                      o.DB,
		Protocol:                o.Protocol,
		Username:                o.Username,
		Password:                o.Password,
		MaxRetries:              o.MaxRetries,
		MinRetryBackoff:         o.MinRetryBackoff,
		MaxRetryBackoff:         o.MaxRetryBackoff,
		DialTimeout:             o.DialTimeout,
		DialerRetries:           o.DialerRetries,
		DialerRetryTimeout:      o.DialerRetryTimeout,
		ReadTimeout:             o.ReadTimeout,
		WriteTimeout:            o.WriteTimeout,
		ContextTimeoutEnabled:   o.ContextTimeoutEnabled,
		PipelineReadBufferSize:  o.PipelineReadBufferSize,
		PipelineWriteBufferSize: o.PipelineWriteBufferSize,
		PipelinePoolSize:        o.PipelinePoolSize,
		PoolFIFO:                o.PoolFIFO,
		PoolSize:                o.PoolSize,
		MaxConcurrentDials:      o.MaxConcurrentDials,
		PoolTimeout:             o.PoolTimeout,
		MinIdleConns:            o.MinIdleConns,
		MaxIdleConns:            o.MaxIdleConns,
		MaxActiveConns:          o.MaxActiveConns,
		ConnMaxIdleTime:         o.ConnMaxIdleTime,
		ConnMaxLifetime:         o.ConnMaxLifetime,
		ConnMaxLifetimeJitter:   o.ConnMaxLifetimeJitter,
		TLSConfig:               o.TLSConfig,
		DisableIdentity:         o.DisableIdentity,
		IdentitySuffix:          o.IdentitySuffix,
	}
}

// fromFailover copies what goredis.ParseFailoverURL sets into universal options.
func fromFailover(o *goredis.FailoverOptions) *goredis.UniversalOptions {
	return &goredis.UniversalOptions{
		Addrs:                   o.SentinelAddrs,
		MasterName:              o.MasterName,
		ClientName:              o.ClientName,
		DB:                      o.DB,
		Protocol:                o.Protocol,
		Username:                o.Username,
		Password:                o.Password,
		SentinelUsername:        o.SentinelUsername,
		SentinelPassword:        o.SentinelPassword,
		ReadOnly:                o.ReplicaOnly,
		RouteByLatency:          o.RouteByLatency,
		RouteByLatencyTolerance: o.RouteByLatencyTolerance,
		RouteRandomly:           o.RouteRandomly,
		MaxRetries:              o.MaxRetries,
		MinRetryBackoff:         o.MinRetryBackoff,
		MaxRetryBackoff:         o.MaxRetryBackoff,
		DialTimeout:             o.DialTimeout,
		DialerRetries:           o.DialerRetries,
		DialerRetryTimeout:      o.DialerRetryTimeout,
		ReadTimeout:             o.ReadTimeout,
		WriteTimeout:            o.WriteTimeout,
		ContextTimeoutEnabled:   o.ContextTimeoutEnabled,
		PipelineReadBufferSize:  o.PipelineReadBufferSize,
		PipelineWriteBufferSize: o.PipelineWriteBufferSize,
		PipelinePoolSize:        o.PipelinePoolSize,
		PoolFIFO:                o.PoolFIFO,
		PoolSize:                o.PoolSize,
		MaxConcurrentDials:      o.MaxConcurrentDials,
		PoolTimeout:             o.PoolTimeout,
		MinIdleConns:            o.MinIdleConns,
		MaxIdleConns:            o.MaxIdleConns,
		MaxActiveConns:          o.MaxActiveConns,
		ConnMaxIdleTime:         o.ConnMaxIdleTime,
		ConnMaxLifetime:         o.ConnMaxLifetime,
		ConnMaxLifetimeJitter:   o.ConnMaxLifetimeJitter,
		TLSConfig:               o.TLSConfig,
		DisableIdentity:         o.DisableIdentity,
		IdentitySuffix:          o.IdentitySuffix,
	}
}

// fromCluster copies what goredis.ParseClusterURL sets into universal options.
func fromCluster(o *goredis.ClusterOptions) *goredis.UniversalOptions {
	return &goredis.UniversalOptions{
		Addrs:                   o.Addrs,
		IsClusterMode:           true,
		ClientName:              o.ClientName,
		Protocol:                o.Protocol,
		Username:                o.Username,
		Password:                o.Password,
		MaxRedirects:            o.MaxRedirects,
		ReadOnly:                o.ReadOnly,
		RouteByLatency:          o.RouteByLatency,
		RouteByLatencyTolerance: o.RouteByLatencyTolerance,
		RouteRandomly:           o.RouteRandomly,
		MaxRetries:              o.MaxRetries,
		MinRetryBackoff:         o.MinRetryBackoff,
		MaxRetryBackoff:         o.MaxRetryBackoff,
		DialTimeout:             o.DialTimeout,
		DialerRetries:           o.DialerRetries,
		DialerRetryTimeout:      o.DialerRetryTimeout,
		ReadTimeout:             o.ReadTimeout,
		WriteTimeout:            o.WriteTimeout,
		ContextTimeoutEnabled:   o.ContextTimeoutEnabled,
		PipelineReadBufferSize:  o.PipelineReadBufferSize,
		PipelineWriteBufferSize: o.PipelineWriteBufferSize,
		PipelinePoolSize:        o.PipelinePoolSize,
		PoolFIFO:                o.PoolFIFO,
		PoolSize:                o.PoolSize,
		MaxConcurrentDials:      o.MaxConcurrentDials,
		PoolTimeout:             o.PoolTimeout,
		MinIdleConns:            o.MinIdleConns,
		MaxIdleConns:            o.MaxIdleConns,
		MaxActiveConns:          o.MaxActiveConns,
		ConnMaxIdleTime:         o.ConnMaxIdleTime,
		ConnMaxLifetime:         o.ConnMaxLifetime,
		ConnMaxLifetimeJitter:   o.ConnMaxLifetimeJitter,
		TLSConfig:               o.TLSConfig,
		DisableIdentity:         o.DisableIdentity,
		IdentitySuffix:          o.IdentitySuffix,
		FailingTimeoutSeconds:   o.FailingTimeoutSeconds,
	}
}

package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/internal/logbuf"
)

// Redis is a private redis-server on a spare loopback port, with its
// append-only file in a directory of its own (fsync on every write), so
// that a restart keeps what it held, as a production Redis configured for
// it does. Tests that share the machine's Redis are not disturbed.
type Redis struct {
	Addr string // 127.0.0.1:port
	Logs *logbuf.Buffer

	port     int
	dir      string
	sentinel bool
	conf     string // a Sentinel's configuration file
	p        *proc
}

// redisArgs are the server's settings.
func (r *Redis) args(replicaOf string) []string {
	if r.sentinel {
		return []string{r.conf, "--sentinel"}
	}
	a := []string{
		"--bind", "127.0.0.1", "--port", itoa(r.port), "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--logfile", "",
	}
	if replicaOf != "" {
		host, port, _ := strings.Cut(replicaOf, ":")
		a = append(a, "--replicaof", host, port)
	}
	return a
}

// newRedis reserves a port and a directory under base.
func newRedis(base, name string) (*Redis, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Redis{Addr: "127.0.0.1:" + itoa(port), Logs: &logbuf.Buffer{}, port: port, dir: dir}, nil
}

// StartRedis starts a standalone server in a directory under base.
func StartRedis(ctx context.Context, base, name string) (*Redis, error) {
	r, err := newRedis(base, name)
	if err != nil {
		return nil, err
	}
	return r, r.Start(ctx, "")
}

// Start runs the server (again) on its port and directory, as a replica of
// replicaOf when not empty, and waits until it answers PING.
func (r *Redis) Start(ctx context.Context, replicaOf string) error {
	cmd := exec.Command(redisServer(), r.args(replicaOf)...)
	cmd.Dir = r.dir
	p, err := startProc(cmd, r.Logs)
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	r.p = p
	return waitFor(ctx, "redis "+r.Addr, 30*time.Second, p, r.Ping)
}

// Ping asks the server for PONG.
func (r *Redis) Ping(ctx context.Context) error {
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	return c.Ping(ctx).Err()
}

// Stop shuts the server down (SIGTERM: it syncs its file and exits).
func (r *Redis) Stop() { r.p.stop(syscall.SIGTERM, 10*time.Second) }

// Kill ends the server with SIGKILL, as a crash does.
func (r *Redis) Kill() { r.p.kill() }

// redisServer is the redis-server binary: IDP_CHAOS_REDIS_SERVER, else
// the one on PATH.
func redisServer() string {
	if b := os.Getenv("IDP_CHAOS_REDIS_SERVER"); b != "" {
		return b
	}
	return "redis-server"
}

// Sentinel is a private Sentinel group: a primary, a replica and three
// Sentinels with quorum 2, watching master SentinelMaster, on spare
// loopback ports. A Sentinel takes a server that has not answered for 5 s
// as down (as scripts/redis-ha.sh's do).
type Sentinel struct {
	Servers   []*Redis // the two data servers; either may be the primary
	Sentinels []*Redis
}

// SentinelMaster is the master name the private group watches.
const SentinelMaster = "chaosmaster"

// sentinelDownAfter is how long a silent primary takes to be seen down.
const sentinelDownAfter = 5 * time.Second

// StartSentinel starts the group in directories under base and waits until
// every Sentinel knows the primary, the replica and the other Sentinels.
func StartSentinel(ctx context.Context, base string) (*Sentinel, error) {
	g := &Sentinel{}
	for i := range 2 {
		r, err := newRedis(base, "redis-"+itoa(i))
		if err != nil {
			return g, err
		}
		g.Servers = append(g.Servers, r)
		replicaOf := ""
		if i == 1 {
			replicaOf = g.Servers[0].Addr
		}
		if err := r.Start(ctx, replicaOf); err != nil {
			return g, err
		}
	}
	for i := range 3 {
		s, err := newRedis(base, "sentinel-"+itoa(i))
		if err != nil {
			return g, err
		}
		s.sentinel = true
		s.conf = filepath.Join(s.dir, "sentinel.conf")
		conf := strings.Join([]string{
			"bind 127.0.0.1",
			"port " + itoa(s.port),
			"dir " + s.dir,
			"sentinel monitor " + SentinelMaster + " 127.0.0.1 " + itoa(g.Servers[0].port) + " 2",
			"sentinel down-after-milliseconds " + SentinelMaster + " " + strconv.FormatInt(sentinelDownAfter.Milliseconds(), 10),
			"sentinel failover-timeout " + SentinelMaster + " 10000",
			"sentinel parallel-syncs " + SentinelMaster + " 1",
			"",
		}, "\n")
		if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
			return g, err
		}
		g.Sentinels = append(g.Sentinels, s)
		if err := s.Start(ctx, ""); err != nil {
			return g, err
		}
	}
	return g, g.WaitHealthy(ctx, 30*time.Second)
}

// URL is the group's URL for IDP_REDIS_URL.
func (g *Sentinel) URL() string {
	addrs := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		addrs[i] = s.Addr
	}
	return "redis+sentinel://" + strings.Join(addrs, ",") + "/" + SentinelMaster + "/0"
}

// Primary returns the server every Sentinel names as the primary, or an
// error when they disagree or do not know.
func (g *Sentinel) Primary(ctx context.Context) (*Redis, error) {
	var addr string
	for _, s := range g.Sentinels {
		c := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
		hp, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("sentinel %s: %w", s.Addr, err)
		}
		a := hp[0] + ":" + hp[1]
		if addr != "" && a != addr {
			return nil, fmt.Errorf("sentinels disagree on the primary: %s and %s", addr, a)
		}
		addr = a
	}
	for _, r := range g.Servers {
		if r.Addr == addr {
			return r, nil
		}
	}
	return nil, fmt.Errorf("sentinels name %s, not a server of the group", addr)
}

// Replica returns the server that is not the primary.
func (g *Sentinel) Replica(primary *Redis) *Redis {
	if g.Servers[0] == primary {
		return g.Servers[1]
	}
	return g.Servers[0]
}

// WaitHealthy waits until the Sentinels agree on a primary that answers as
// one, the other server replicates from it with its link up, and every
// Sentinel knows one replica and two other Sentinels (so that the next
// failover can be agreed on).
func (g *Sentinel) WaitHealthy(ctx context.Context, limit time.Duration) error {
	return waitFor(ctx, "sentinel group", limit, nil, func(ctx context.Context) error {
		primary, err := g.Primary(ctx)
		if err != nil {
			return err
		}
		if role, err := infoField(ctx, primary.Addr, "replication", "role"); err != nil || role != "master" {
			return fmt.Errorf("primary %s has role %q (%v)", primary.Addr, role, err)
		}
		replica := g.Replica(primary)
		if link, err := infoField(ctx, replica.Addr, "replication", "master_link_status"); err != nil || link != "up" {
			return fmt.Errorf("replica %s link %q (%v)", replica.Addr, link, err)
		}
		for _, s := range g.Sentinels {
			c := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
			m, err := c.Master(ctx, SentinelMaster).Result()
			c.Close()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" || strings.Contains(m["flags"], "down") {
				return fmt.Errorf("sentinel %s: %s replicas, %s other sentinels, flags %s", s.Addr, m["num-slaves"], m["num-other-sentinels"], m["flags"])
			}
		}
		return nil
	})
}

// WaitSynced waits until the replica has every write of the primary, so
// that what was written before a failover is on the server promoted.
func (g *Sentinel) WaitSynced(ctx context.Context, limit time.Duration) error {
	return waitFor(ctx, "replication", limit, nil, func(ctx context.Context) error {
		primary, err := g.Primary(ctx)
		if err != nil {
			return err
		}
		want, err := infoField(ctx, primary.Addr, "replication", "master_repl_offset")
		if err != nil {
			return err
		}
		got, err := infoField(ctx, g.Replica(primary).Addr, "replication", "slave_repl_offset")
		if err != nil {
			return err
		}
		w, _ := strconv.ParseInt(want, 10, 64)
		gg, _ := strconv.ParseInt(got, 10, 64)
		if gg < w {
			return fmt.Errorf("replica at offset %d of %d", gg, w)
		}
		return nil
	})
}

// infoField returns one field of a section of INFO on the server at addr.
func infoField(ctx context.Context, addr, section, field string) (string, error) {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	info, err := c.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", errors.New("no " + field + " in INFO " + section)
}

// Close stops every process of the group.
func (g *Sentinel) Close() {
	for _, s := range g.Sentinels {
		s.Stop()
	}
	for _, r := range g.Servers {
		r.Stop()
	}
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/store"
)

var _ store.GrantWatcher = (*Store)(nil)

// Changes to access-token grants are published on changesChannel() as
// "r:<request ID>", "sid:<session ID>", "sub:<subject>" or "s:<signature>",
// after the change has been made.

// watchPing is how often a quiet subscription is pinged, and watchDead how
// long it may stay silent (no message, no pong) before it is taken for dead
// and reopened: a connection that died without an error would otherwise
// hide lost announcements.
const (
	watchPing = 5 * time.Second
	watchDead = 3 * watchPing
)

func (s *Store) changesChannel() string { return s.prefix + "grant-changes" }

// announce publishes a change to access-token grants; other kinds are not
// cached by anyone and are not announced.
func (s *Store) announce(ctx context.Context, kind store.GrantKind, c store.GrantChange) error {
	if kind != store.GrantAccessToken {
		return nil
	}
	if err := s.c.Publish(context.WithoutCancel(ctx), s.changesChannel(), changeMessage(c)).Err(); err != nil {
		return wrapErr("announce grant change", err)
	}
	return nil
}

// changeMessage is the announcement of a change.
func changeMessage(c store.GrantChange) string {
	switch {
	case c.RequestID != "":
		return "r:" + c.RequestID
	case c.SessionID != "":
		return "sid:" + c.SessionID
	case c.Subject != "" && c.ClientID != "":
		// The subject's length first: either may hold any character.
		return "subc:" + strconv.Itoa(len(c.Subject)) + ":" + c.Subject + c.ClientID
	case c.Subject != "":
		return "sub:" + c.Subject
	}
	return "s:" + c.Signature
}

// WatchGrants implements store.GrantWatcher with a Redis subscription. The
// feed is Ready once the subscription is confirmed and Lost whenever the
// connection fails or stays silent past watchDead; go-redis then reconnects
// and subscribes again, and the confirmation makes it Ready again.
//
// With reads from replicas (read_only, route_by_latency, route_randomly) it
// refuses with an error wrapping errors.ErrUnsupported: a process that hears
// of a change could read the old grant again from a lagging replica.
func (s *Store) WatchGrants(ctx context.Context, w store.GrantWatch) error {
	defer w.Lost()
	if s.replicaReads {
		return fmt.Errorf("redis: reads may go to replicas, which may lag behind an announced change: %w", errors.ErrUnsupported)
	}
	for ctx.Err() == nil {
		s.watch(ctx, w)
		w.Lost()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// watch runs one subscription until it fails, goes silent or ctx ends.
func (s *Store) watch(ctx context.Context, w store.GrantWatch) {
	ps := s.c.Subscribe(ctx, s.changesChannel())
	defer ps.Close()
	// A receive does not watch ctx: closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	heard := time.Now()
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, watchPing)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return // a broken connection: start again
			}
			if time.Since(heard) > watchDead {
				return
			}
			_ = ps.Ping(ctx) // the pong counts as hearing
			continue
		}
		heard = time.Now()
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				w.Ready()
			}
		case *goredis.Message:
			switch {
			case strings.HasPrefix(m.Payload, "r:"):
				w.Changed(store.GrantChange{RequestID: m.Payload[2:]})
			case strings.HasPrefix(m.Payload, "sid:"):
				w.Changed(store.GrantChange{SessionID: m.Payload[4:]})
			case strings.HasPrefix(m.Payload, "subc:"):
				if c, ok := parseSubjectClient(m.Payload[5:]); ok {
					w.Changed(c)
				} else { // not ours to read: whatever it changed is unknown
					w.Lost()
					w.Ready()
				}
			case strings.HasPrefix(m.Payload, "sub:"):
				w.Changed(store.GrantChange{Subject: m.Payload[4:]})
			case strings.HasPrefix(m.Payload, "s:"):
				w.Changed(store.GrantChange{Signature: m.Payload[2:]})
			}
		}
	}
}

// parseSubjectClient reads the payload of a "subc:" announcement (see
// changeMessage).
func parseSubjectClient(p string) (store.GrantChange, bool) {
	n, rest, ok := strings.Cut(p, ":")
	l, err := strconv.Atoi(n)
	if !ok || err != nil || l <= 0 || l >= len(rest) {
		return store.GrantChange{}, false
	}
	return store.GrantChange{Subject: rest[:l], ClientID: rest[l:]}, true
}

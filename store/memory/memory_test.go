package memory

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/storetest"
)

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T, now store.Clock) store.Durable { return New(now) })
}

func TestEphemeral(t *testing.T) {
	storetest.RunEphemeral(t, func(t *testing.T, now store.Clock) store.Ephemeral { return New(now) })
}

func TestNilClockIsTimeNow(t *testing.T) {
	s := New(nil)
	before := time.Now()
	c, err := s.Incr(t.Context(), "k", time.Hour)
	if err != nil {
		t.Fatalf("Incr: %v", err)
	}
	if c.ExpiresAt.Before(before.Add(time.Hour)) || c.ExpiresAt.After(time.Now().Add(time.Hour)) {
		t.Fatalf("ExpiresAt %v is not about an hour from now", c.ExpiresAt)
	}
}

func TestSweepBoundsGrowth(t *testing.T) {
	clk := storetest.NewClock()
	s := New(clk.Now)
	ctx := t.Context()
	const rounds, perRound = 20, 1000
	for r := range rounds {
		for i := range perRound {
			key := fmt.Sprintf("%d-%d", r, i)
			if err := s.PutEntry(ctx, "e:"+key, []byte("v"), time.Second); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Incr(ctx, "c:"+key, time.Second); err != nil {
				t.Fatal(err)
			}
			g := &store.Grant{Kind: store.GrantAccessToken, Signature: key, RequestID: "req-" + key, Active: true,
				RequestedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Second)}
			if err := s.CreateGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(2 * time.Second) // everything written so far has expired
	}
	// Without sweeping 60 000 items would be held; the live ones are at most
	// one round (3 000), and sweeping lags by at most as many writes again.
	if n := s.size(); n > 4*3*perRound {
		t.Fatalf("%d items held after %d rounds of expiring writes", n, rounds)
	}
	s.mu.RLock()
	requests := len(s.requests)
	s.mu.RUnlock()
	if requests > 4*perRound {
		t.Fatalf("request index holds %d families after sweeps", requests)
	}
	// Nothing of the last round is readable: it has expired too.
	if _, err := s.GetEntry(ctx, fmt.Sprintf("e:%d-%d", rounds-1, 0)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEntry(expired): got %v, want ErrNotFound", err)
	}
}

func TestUnexpiredSurvivesSweep(t *testing.T) {
	clk := storetest.NewClock()
	s := New(clk.Now)
	ctx := t.Context()
	if err := s.PutEntry(ctx, "keep", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	g := &store.Grant{Kind: store.GrantRefreshToken, Signature: "keep", RequestID: "r", Active: true, RequestedAt: clk.Now()}
	if err := s.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	for i := range 5 * minSweep {
		if err := s.PutEntry(ctx, fmt.Sprint("tmp", i), nil, time.Second); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	if _, err := s.GetEntry(ctx, "keep"); err != nil {
		t.Fatalf("GetEntry(keep) after sweeps: %v", err)
	}
	if _, err := s.GetGrant(ctx, store.GrantRefreshToken, "keep"); err != nil {
		t.Fatalf("GetGrant(keep) after sweeps: %v", err)
	}
	if err := s.DeactivateRequest(ctx, store.GrantRefreshToken, "r"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetGrant(ctx, store.GrantRefreshToken, "keep")
	if err != nil || got.Active {
		t.Fatalf("GetGrant after DeactivateRequest: %+v, %v", got, err)
	}
	if n := s.size(); n > minSweep+2 {
		t.Fatalf("%d items held, want the expired ones swept", n)
	}
}

func TestJobs(t *testing.T) {
	storetest.RunJobs(t, func(t *testing.T, now store.Clock) store.Durable { return New(now) })
}

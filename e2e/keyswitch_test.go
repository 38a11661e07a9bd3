package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/testserver"
)

// awaitPublished polls srv's JWKS until it lists kid (at most 30 s).
func awaitPublished(t *testing.T, srv *testserver.Server, kid string) {
	t.Helper()
	ctx := ctxT(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		kids, err := replicaJWKSKIDs(ctx, srv)
		if err != nil {
			t.Fatalf("JWKS of %s: %v", srv.URL, err)
		}
		if slices.Contains(kids, kid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the JWKS of %s lists %v, not the rotated key %s, after 30 s", srv.URL, kids, kid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitKeySwitch follows a rotation to the key newKID, which signs from
// activeAt, on a server that already publishes it (awaitPublished): it asks
// for tokens with issue, which returns the kid of the token it got, until
// one is signed with the new key (at most 30 s after activeAt). On the way
// it checks the switch by this machine's clock, which the server shares:
// a token received before activeAt is not signed with the new key (it is
// published before it signs), and a token asked for from activeAt on is
// (a server that publishes the key also holds it to sign).
func awaitKeySwitch(t *testing.T, newKID string, activeAt time.Time, issue func() string) {
	t.Helper()
	deadline := activeAt.Add(30 * time.Second)
	for {
		asked := time.Now()
		kid := issue()
		got := time.Now()
		switch {
		case kid == newKID && got.Before(activeAt):
			t.Errorf("a token received at %s, before the key's active_at %s, is signed with the new key %s", got.Format(time.StampMicro), activeAt.Format(time.StampMicro), newKID)
		case kid != newKID && !asked.Before(activeAt):
			t.Errorf("a token asked for at %s, after the key's active_at %s, is signed with %s, not the new key %s", asked.Format(time.StampMicro), activeAt.Format(time.StampMicro), kid, newKID)
		}
		if kid == newKID {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no token signed with the new key %s 30 s after its active_at", newKID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

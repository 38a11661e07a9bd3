package keys

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"

	"github.com/esia-oidc/idp/internal/logbuf"
	"github.com/esia-oidc/idp/store"
)

// jwksOf parses the manager's JWKS JSON.
func jwksOf(t *testing.T, m *Manager) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatalf("JWKS does not parse: %v\n%s", err, m.JWKS())
	}
	return set
}

func kids(set jose.JSONWebKeySet) map[string]string {
	out := map[string]string{}
	for _, k := range set.Keys {
		out[k.KeyID] = k.Algorithm
	}
	return out
}

func currentKID(t *testing.T, m *Manager, alg string) string {
	t.Helper()
	kid, err := m.CurrentKeyID(alg)
	if err != nil {
		t.Fatalf("CurrentKeyID(%s): %v", alg, err)
	}
	return kid
}

// sign returns a token signed by the manager's fosite signer of alg and the
// kid in its header.
func sign(t *testing.T, m *Manager, alg string) (token, kid string) {
	t.Helper()
	tok, _, err := m.FositeSigner(alg).Generate(context.Background(), TypicalClaims(time.Now()), &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}})
	if err != nil {
		t.Fatalf("Generate(%s): %v", alg, err)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("parse generated token: %v", err)
	}
	return tok, jws.Signatures[0].Protected.KeyID
}

func states(t *testing.T, m *Manager) map[string]string {
	t.Helper()
	list, err := m.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	out := map[string]string{}
	for _, k := range list {
		out[k.ID] = k.State
	}
	return out
}

func TestNothingLoaded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if got := string(f.m.JWKS()); got != `{"keys":[]}` {
		t.Errorf("JWKS before loading = %s, want an empty set", got)
	}
	_, _, err := f.m.FositeSigner(RS256).Generate(context.Background(), TypicalClaims(time.Now()), &jwt.Headers{})
	if !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Generate before loading: err = %v, want ErrNoSigningKey", err)
	}
}

func TestEnsure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, RS256, ES256); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	list, err := f.m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("after Ensure: %d keys, want 2: %+v", len(list), list)
	}
	byAlg := map[string]KeyInfo{}
	for _, k := range list {
		byAlg[k.Alg] = k
		if !k.ActiveAt.Equal(f.clock.Now()) || !k.CreatedAt.Equal(f.clock.Now()) {
			t.Errorf("key %s: created %v active %v, want both %v", k.ID, k.CreatedAt, k.ActiveAt, f.clock.Now())
		}
		if k.State != StateCurrent {
			t.Errorf("key %s state %q, want current", k.ID, k.State)
		}
		if len(k.ID) != 22 {
			t.Errorf("kid %q: want 16 random bytes in base64url", k.ID)
		}
	}
	if len(byAlg) != 2 {
		t.Fatalf("want one key per algorithm, got %+v", list)
	}
	for _, alg := range []string{RS256, ES256} {
		if got := currentKID(t, f.m, alg); got != byAlg[alg].ID {
			t.Errorf("current %s key %s, want %s", alg, got, byAlg[alg].ID)
		}
	}
	if got := kids(jwksOf(t, f.m)); len(got) != 2 || got[byAlg[RS256].ID] != RS256 || got[byAlg[ES256].ID] != ES256 {
		t.Errorf("JWKS kids %v, want the two keys", got)
	}

	// Idempotent: on the same manager, on another replica, later in time.
	f.clock.Advance(time.Hour)
	if err := f.m.Ensure(ctx, RS256, ES256); err != nil {
		t.Fatal(err)
	}
	if err := f.manager().Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.st.len(); n != 2 {
		t.Errorf("after repeated Ensure: %d keys in the store, want 2", n)
	}

	if err := f.m.Ensure(ctx, "PS256"); !errors.Is(err, ErrUnsupportedAlg) {
		t.Errorf("Ensure(PS256): err = %v, want ErrUnsupportedAlg", err)
	}
}

func TestEnsureReplacesRetiredKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	old := currentKID(t, f.m, ES256)
	if _, err := f.st.UpdateKey(ctx, old, func(k *store.SigningKey) error {
		k.RetiredAt = f.clock.Now()
		k.ExpiresAt = f.clock.Now().Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	if got := currentKID(t, f.m, ES256); got == old {
		t.Errorf("Ensure kept the retired key %s as the signer", old)
	}
	if got := kids(jwksOf(t, f.m)); len(got) != 2 {
		t.Errorf("JWKS %v: want the retired key still published beside the new one", got)
	}
}

func TestSealedKeyIsNotPlain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, RS256); err != nil {
		t.Fatal(err)
	}
	kid := currentKID(t, f.m, RS256)
	sk := f.st.get(t, kid)
	der, err := f.sealer.Open(SealPurpose, sk.Sealed, []byte(kid))
	if err != nil {
		t.Fatalf("the sealed key does not open under purpose %q with the kid as associated data: %v", SealPurpose, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("sealed plaintext is not PKCS #8: %v", err)
	}
	rsaKey, ok := priv.(*rsa.PrivateKey)
	if !ok || rsaKey.N.BitLen() != 2048 {
		t.Fatalf("sealed key is %T, want RSA 2048", priv)
	}
	if bytes.Contains(sk.Sealed, der) {
		t.Error("the stored record contains the PKCS #8 bytes")
	}
	if bytes.Contains(sk.Sealed, rsaKey.D.Bytes()) || bytes.Contains(sk.Sealed, rsaKey.Primes[0].Bytes()) {
		t.Error("the stored record contains the private exponent or a prime")
	}
	// The published key is the public half of the sealed one.
	set := f.m.PublicKeys()
	pub := set.Key(kid)
	if len(pub) != 1 || !rsaKey.PublicKey.Equal(pub[0].Key) {
		t.Errorf("published key %v is not the public half of the sealed key", pub)
	}
	// Sealed under a different kid it must not open (the kid is bound).
	if _, err := f.sealer.Open(SealPurpose, sk.Sealed, []byte("other")); err == nil {
		t.Error("sealed key opened with another kid as associated data")
	}
}

func TestTamperedKeyFailsToLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, RS256); err != nil {
		t.Fatal(err)
	}
	kid := currentKID(t, f.m, RS256)
	before := f.m.JWKS()
	if _, err := f.st.UpdateKey(ctx, kid, func(k *store.SigningKey) error {
		k.Sealed[len(k.Sealed)/2] ^= 0x01
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A new replica cannot start without a key that signs, and says which
	// key and why.
	fresh := f.manager()
	err := fresh.Ensure(ctx, RS256)
	if err == nil {
		t.Fatal("Ensure started with a tampered key as the only signer")
	}
	if !errors.Is(err, errOpen) || !errors.Is(err, ErrNoSigningKey) || !strings.Contains(err.Error(), kid) || !strings.Contains(err.Error(), "tampered") {
		t.Errorf("error %q: want the sealer's error wrapped, naming key %s and tampering", err, kid)
	}
	if got := string(fresh.JWKS()); got != `{"keys":[]}` {
		t.Errorf("the new replica publishes %s, want no key", got)
	}
	if n := f.st.len(); n != 1 {
		t.Errorf("Ensure on a tampered key left %d keys in the store, want 1 (no replacement made)", n)
	}

	// A running replica keeps the copy it opened and its snapshot.
	if err := f.m.Refresh(ctx); err != nil {
		t.Errorf("Refresh of a running replica: %v", err)
	}
	if got := f.m.Unreadable(); got != 1 {
		t.Errorf("Unreadable = %d, want 1", got)
	}
	if !bytes.Equal(f.m.JWKS(), before) {
		t.Error("a Refresh that met a tampered key changed the published keys")
	}
	if tok, got := sign(t, f.m, RS256); got != kid || tok == "" {
		t.Errorf("after a Refresh that met a tampered key signing uses %q, want %s", got, kid)
	}
}

// TestUnreadableKeyIsSkipped: one key that cannot be opened (sealed under
// another secret key, or corrupt) does not stop the refresh of the others,
// on a running replica or a new one; it is logged once, counted, and comes
// back when its row is repaired.
func TestUnreadableKeyIsSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, RS256, ES256); err != nil {
		t.Fatal(err)
	}
	rsKID, esKID := currentKID(t, f.m, RS256), currentKID(t, f.m, ES256)
	// A replica with another secret key rotates RS256: the new key is
	// sealed under a key the others do not have.
	foreign := New(f.st, newSealer(t), f.clock.Now, nil)
	nk, err := foreign.Rotate(ctx, RS256, time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// And the ES256 row is corrupted.
	good := f.st.get(t, esKID).Sealed
	if _, err := f.st.UpdateKey(ctx, esKID, func(k *store.SigningKey) error {
		k.Sealed = k.Sealed[:len(k.Sealed)-1]
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	for name, m := range map[string]*Manager{"running": f.m, "new": f.manager()} {
		logs := &logbuf.Buffer{}
		m.log = slog.New(slog.NewTextHandler(logs, nil))
		for range 3 {
			if err := m.Refresh(ctx); err != nil {
				t.Fatalf("%s replica: Refresh: %v", name, err)
			}
		}
		if got := strings.Count(logs.String(), "cannot open a signing key"); got != 2 {
			t.Errorf("%s replica: %d log lines about unreadable keys over three refreshes, want 2 (once per key):\n%s", name, got, logs)
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), nk.ID) || !strings.Contains(logs.String(), esKID) {
			t.Errorf("%s replica: the unreadable keys are not logged at ERROR by kid:\n%s", name, logs)
		}
		if got := m.Unreadable(); got != 2 {
			t.Errorf("%s replica: Unreadable = %d, want 2", name, got)
		}
		// The old RS256 key still signs: the rotated one is not active yet.
		if _, kid := sign(t, m, RS256); kid != rsKID {
			t.Errorf("%s replica signs RS256 with %s, want %s", name, kid, rsKID)
		}
		got := kids(jwksOf(t, m))
		if got[rsKID] != RS256 || got[nk.ID] != "" {
			t.Errorf("%s replica publishes %v: want %s, and not the key it cannot open", name, got, rsKID)
		}
		if name == "running" && got[esKID] != ES256 {
			t.Errorf("the running replica dropped the ES256 key it had opened: %v", got)
		}
		if name == "new" && got[esKID] != "" {
			t.Errorf("the new replica publishes the ES256 key it cannot open: %v", got)
		}
	}
	// A new replica starts with RS256 alone, not when ES256 is required.
	if err := f.manager().Ensure(ctx, RS256); err != nil {
		t.Errorf("Ensure(RS256) with a good RS256 key: %v", err)
	}
	if err := f.manager().Ensure(ctx, RS256, ES256); !errors.Is(err, ErrNoSigningKey) || !strings.Contains(err.Error(), esKID) {
		t.Errorf("Ensure(RS256, ES256) without a readable ES256 key: err = %v, want ErrNoSigningKey naming %s", err, esKID)
	}

	// Repaired, the ES256 key is back and no longer counted.
	if _, err := f.st.UpdateKey(ctx, esKID, func(k *store.SigningKey) error {
		k.Sealed = good
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m := f.manager()
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Unreadable(); got != 1 {
		t.Errorf("after the repair Unreadable = %d, want 1 (the foreign key)", got)
	}
	if _, kid := sign(t, m, ES256); kid != esKID {
		t.Errorf("after the repair ES256 signs with %s, want %s", kid, esKID)
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, RS256, ES256); err != nil {
		t.Fatal(err)
	}
	old := currentKID(t, f.m, RS256)
	oldES := currentKID(t, f.m, ES256)
	oldToken, _ := sign(t, f.m, RS256)

	const publishDelay, retireAfter = time.Minute, time.Hour
	rotatedAt := f.clock.Now()
	nk, err := f.m.Rotate(ctx, RS256, publishDelay, retireAfter)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if nk.ID == old || nk.Alg != RS256 || !nk.ActiveAt.Equal(rotatedAt.Add(publishDelay)) {
		t.Fatalf("new key %+v", nk)
	}
	retired := f.st.get(t, old)
	if !retired.RetiredAt.Equal(nk.ActiveAt) || !retired.ExpiresAt.Equal(nk.ActiveAt.Add(retireAfter)) {
		t.Errorf("old key retired at %v expires %v, want %v and %v", retired.RetiredAt, retired.ExpiresAt, nk.ActiveAt, nk.ActiveAt.Add(retireAfter))
	}
	if es := f.st.get(t, oldES); !es.RetiredAt.IsZero() {
		t.Errorf("rotating RS256 retired the ES256 key")
	}

	// Published at once, but the old key keeps signing until ActiveAt.
	if got := kids(jwksOf(t, f.m)); got[nk.ID] != RS256 || got[old] != RS256 {
		t.Errorf("JWKS after rotation %v: want old and new RS256 keys", got)
	}
	if _, kid := sign(t, f.m, RS256); kid != old {
		t.Errorf("before publishDelay signed with %s, want the old key %s", kid, old)
	}
	if s := states(t, f.m); s[old] != StateCurrent || s[nk.ID] != StateNext || s[oldES] != StateCurrent {
		t.Errorf("states before activation %v", s)
	}

	// Once publishDelay passes the new key signs, without a Refresh.
	f.clock.Advance(publishDelay)
	if _, kid := sign(t, f.m, RS256); kid != nk.ID {
		t.Errorf("after publishDelay signed with %s, want the new key %s", kid, nk.ID)
	}
	if s := states(t, f.m); s[old] != StateRetired || s[nk.ID] != StateCurrent {
		t.Errorf("states after activation %v", s)
	}
	// Old tokens keep verifying until the old key expires.
	f.clock.Advance(retireAfter - time.Second)
	if _, _, err := f.m.Verify(oldToken); err != nil {
		t.Errorf("old token before the old key expires: %v", err)
	}
	if _, err := f.m.FositeSigner(RS256).Decode(ctx, oldToken); err != nil {
		t.Errorf("Decode of an old token before the old key expires: %v", err)
	}

	// Then the old key leaves the JWKS, even before the next Refresh.
	f.clock.Advance(time.Second)
	if got := kids(jwksOf(t, f.m)); got[old] != "" || got[nk.ID] != RS256 || got[oldES] != ES256 {
		t.Errorf("JWKS after the old key expired: %v", got)
	}
	if _, _, err := f.m.Verify(oldToken); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify of a token of an expired key: err = %v, want ErrUnknownKey", err)
	}
	if _, err := f.m.FositeSigner(RS256).Decode(ctx, oldToken); err == nil {
		t.Error("Decode accepted a token of an expired key")
	}
	if s := states(t, f.m); s[old] != StateExpired {
		t.Errorf("old key state %q, want expired", s[old])
	}
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(jwksOf(t, f.m)); got[old] != "" || len(got) != 2 {
		t.Errorf("JWKS after Refresh: %v", got)
	}

	// A day after it expired, the next rotation deletes it from the store.
	f.clock.Advance(PruneAfter + time.Second)
	if _, err := f.m.Rotate(ctx, RS256, 0, retireAfter); err != nil {
		t.Fatal(err)
	}
	list, err := f.m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		if k.ID == old {
			t.Errorf("expired key %s not pruned", old)
		}
	}
	if len(list) != 3 {
		t.Errorf("after pruning %d keys, want 3 (ES256, retired RS256, current RS256)", len(list))
	}

	if _, err := f.m.Rotate(ctx, "HS256", 0, 0); !errors.Is(err, ErrUnsupportedAlg) {
		t.Errorf("Rotate(HS256): err = %v, want ErrUnsupportedAlg", err)
	}
	if _, err := f.m.Rotate(ctx, RS256, -time.Second, 0); err == nil {
		t.Error("Rotate accepted a negative publish delay")
	}
}

func TestRotateTwiceBeforeActivation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	old := currentKID(t, f.m, ES256)
	first, err := f.m.Rotate(ctx, ES256, 2*time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	second, err := f.m.Rotate(ctx, ES256, 2*time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// old signs until first activates, first until second activates.
	for _, step := range []struct {
		after time.Duration
		want  string
	}{{0, old}, {time.Minute, first.ID}, {time.Minute, second.ID}} {
		f.clock.Advance(step.after)
		if _, kid := sign(t, f.m, ES256); kid != step.want {
			t.Errorf("at %v signed with %s, want %s", f.clock.Now(), kid, step.want)
		}
	}
	if got := f.st.get(t, first.ID); !got.RetiredAt.Equal(second.ActiveAt) {
		t.Errorf("first rotation's key retires at %v, want %v", got.RetiredAt, second.ActiveAt)
	}
}

func TestSecondReplicaSeesRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, RS256); err != nil {
		t.Fatal(err)
	}
	other := f.manager()
	if err := other.Ensure(ctx, RS256); err != nil {
		t.Fatal(err)
	}
	old := currentKID(t, other, RS256)

	nk, err := f.m.Rotate(ctx, RS256, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := currentKID(t, other, RS256); got != old {
		t.Errorf("replica changed keys before refreshing: %s", got)
	}
	if err := other.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := currentKID(t, other, RS256); got != nk.ID {
		t.Errorf("after Refresh the replica signs with %s, want %s", got, nk.ID)
	}
	if got := kids(jwksOf(t, other)); got[nk.ID] != RS256 || got[old] != RS256 {
		t.Errorf("replica JWKS %v, want old and new", got)
	}
	// A token of one replica verifies on the other.
	tok, _ := sign(t, f.m, RS256)
	if _, _, err := other.Verify(tok); err != nil {
		t.Errorf("token of one replica on the other: %v", err)
	}

	// Run picks up the next rotation by itself.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { other.Run(runCtx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	next, err := f.m.Rotate(ctx, RS256, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if kid, _ := other.CurrentKeyID(RS256); kid == next.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run did not pick up rotation to %s", next.ID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestListJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	if err := f.m.Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	list, err := f.m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["kid"] != list[0].ID || got[0]["alg"] != ES256 || got[0]["state"] != StateCurrent {
		t.Errorf("List JSON %s", b)
	}
	if _, ok := got[0]["retired_at"]; ok {
		t.Errorf("List JSON of a key in use has retired_at: %s", b)
	}
}

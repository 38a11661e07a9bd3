package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// grantKinds lists every GrantKind of the contract.
var grantKinds = []store.GrantKind{
	store.GrantAuthorizeCode,
	store.GrantAccessToken,
	store.GrantRefreshToken,
	store.GrantPKCE,
	store.GrantOIDC,
}

// otherKind returns a kind different from k.
func otherKind(k store.GrantKind) store.GrantKind {
	for i, x := range grantKinds {
		if x == k {
			return grantKinds[(i+1)%len(grantKinds)]
		}
	}
	return store.GrantAccessToken
}

// grantData is a serialized request with bytes that are not valid UTF-8,
// a NUL and JSON-looking text: the store must keep it byte for byte.
func grantData(tag string) []byte {
	return append([]byte{0x00, 0xff, 0xfe, 0x80, '\n', '\r', 0x00}, `{"scope":"openid snils","tag":"`+tag+`","ru":"Иванов"}`...)
}

func newGrant(clk *Clock, kind store.GrantKind, sig, requestID string) *store.Grant {
	return &store.Grant{
		Kind:        kind,
		Signature:   sig,
		RequestID:   requestID,
		ClientID:    "rp-1",
		Subject:     "acc-1",
		SessionID:   "sso-1",
		Active:      true,
		RequestedAt: clk.Now().Add(-time.Minute + 250*time.Microsecond),
		ExpiresAt:   clk.Now().Add(time.Hour).In(moscow),
		Data:        grantData(sig),
	}
}

func normGrant(g *store.Grant) store.Grant {
	n := *g
	n.Data = normBytes(n.Data)
	n.RequestedAt = normTime(n.RequestedAt)
	n.ExpiresAt = normTime(n.ExpiresAt)
	return n
}

func checkGrant(t *testing.T, s store.Grants, want *store.Grant) {
	t.Helper()
	got, err := s.GetGrant(ctx(t), want.Kind, want.Signature)
	if err != nil {
		t.Fatalf("GetGrant(%s, %s): %v", want.Kind, want.Signature, err)
	}
	if g, w := normGrant(got), normGrant(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("GetGrant(%s, %s):\n got %+v\nwant %+v", want.Kind, want.Signature, g, w)
	}
}

func checkGrantGone(t *testing.T, s store.Grants, kind store.GrantKind, sig string) {
	t.Helper()
	if _, err := s.GetGrant(ctx(t), kind, sig); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetGrant(%s, %s): got %v, want ErrNotFound", kind, sig, err)
	}
}

func mustCreateGrant(t *testing.T, s store.Grants, g *store.Grant) {
	t.Helper()
	if err := s.CreateGrant(ctx(t), g); err != nil {
		t.Fatalf("CreateGrant(%s, %s): %v", g.Kind, g.Signature, err)
	}
}

func grantTests() []test[store.Grants] {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind)
	}{
		{"CreateGet", testGrantCreateGet},
		{"Duplicate", testGrantDuplicate},
		{"Expiry", testGrantExpiry},
		{"NoExpiry", testGrantNoExpiry},
		{"Delete", testGrantDelete},
		{"Deactivate", testGrantDeactivate},
		{"DeactivateRequest", testGrantDeactivateRequest},
		{"Copies", testGrantCopies},
		{"ConcurrentDeactivate", testGrantConcurrentDeactivate},
		{"UnstorableKeys", testGrantUnstorable},
	}
	tests := []test[store.Grants]{
		{"DeactivateSession", testGrantDeactivateSession},
		{"DeactivateSubject", testGrantDeactivateSubject},
		{"DeactivateSubjectClient", testGrantDeactivateSubjectClient},
		{"DeactivateManyOfSession", testGrantDeactivateMany},
	}
	for _, kind := range grantKinds {
		for _, c := range cases {
			tests = append(tests, test[store.Grants]{
				name: string(kind) + "/" + c.name,
				run:  func(t *testing.T, s store.Grants, clk *Clock) { c.run(t, s, clk, kind) },
			})
		}
	}
	return tests
}

func testGrantCreateGet(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	checkGrantGone(t, s, kind, "sig-1")
	g := newGrant(clk, kind, "sig-1", "req-1")
	mustCreateGrant(t, s, g)
	checkGrant(t, s, g)
	// A client-credentials grant: no subject, no expiry, created inactive.
	cc := &store.Grant{Kind: kind, Signature: "sig-2", RequestID: "req-2", ClientID: "rp-2",
		RequestedAt: clk.Now(), Data: []byte("x")}
	mustCreateGrant(t, s, cc)
	checkGrant(t, s, cc)
	// Signatures are looked up only under their own kind.
	checkGrantGone(t, s, otherKind(kind), "sig-1")
	checkGrantGone(t, s, kind, "req-1")
}

func testGrantDuplicate(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	g := newGrant(clk, kind, "sig-1", "req-1")
	mustCreateGrant(t, s, g)
	dup := newGrant(clk, kind, "sig-1", "req-2")
	dup.Data = []byte("other")
	if err := s.CreateGrant(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateGrant(duplicate): got %v, want ErrConflict", err)
	}
	checkGrant(t, s, g)
	// The same signature under another kind is another grant.
	same := newGrant(clk, otherKind(kind), "sig-1", "req-1")
	same.Data = []byte("other kind")
	mustCreateGrant(t, s, same)
	checkGrant(t, s, same)
	checkGrant(t, s, g)
}

func testGrantExpiry(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	g := newGrant(clk, kind, "sig-1", "req-1")
	g.ExpiresAt = clk.Now().Add(time.Hour)
	short := newGrant(clk, kind, "sig-2", "req-1")
	short.ExpiresAt = clk.Now().Add(time.Minute)
	mustCreateGrant(t, s, g)
	mustCreateGrant(t, s, short)
	clk.Advance(time.Minute - time.Second)
	checkGrant(t, s, short)
	clk.Advance(2 * time.Second)
	checkGrantGone(t, s, kind, "sig-2")
	if err := s.DeactivateGrant(ctx(t), kind, "sig-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeactivateGrant(expired): got %v, want ErrNotFound", err)
	}
	checkGrant(t, s, g)
	clk.Advance(time.Hour - time.Minute - 2*time.Second)
	checkGrant(t, s, g)
	clk.Advance(2 * time.Second)
	checkGrantGone(t, s, kind, "sig-1")
	// An expired family is no error to revoke.
	if err := s.DeactivateRequest(ctx(t), kind, "req-1"); err != nil {
		t.Fatalf("DeactivateRequest(expired family): %v", err)
	}
}

func testGrantNoExpiry(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	g := newGrant(clk, kind, "sig-1", "req-1")
	g.ExpiresAt = time.Time{}
	mustCreateGrant(t, s, g)
	clk.Advance(10 * 365 * 24 * time.Hour)
	checkGrant(t, s, g)
	got, _ := s.GetGrant(ctx(t), kind, "sig-1")
	if !got.ExpiresAt.IsZero() {
		t.Fatalf("GetGrant: ExpiresAt %v, want zero", got.ExpiresAt)
	}
	if err := s.DeactivateGrant(ctx(t), kind, "sig-1"); err != nil {
		t.Fatalf("DeactivateGrant(no expiry): %v", err)
	}
}

func testGrantDelete(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	g := newGrant(clk, kind, "sig-1", "req-1")
	sibling := newGrant(clk, kind, "sig-2", "req-1")
	twin := newGrant(clk, otherKind(kind), "sig-1", "req-1")
	for _, x := range []*store.Grant{g, sibling, twin} {
		mustCreateGrant(t, s, x)
	}
	if err := s.DeleteGrant(ctx(t), kind, "sig-1"); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	checkGrantGone(t, s, kind, "sig-1")
	if err := s.DeleteGrant(ctx(t), kind, "sig-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteGrant(again): got %v, want ErrNotFound", err)
	}
	if err := s.DeleteGrant(ctx(t), kind, "never"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteGrant(missing): got %v, want ErrNotFound", err)
	}
	if err := s.DeactivateGrant(ctx(t), kind, "sig-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeactivateGrant(deleted): got %v, want ErrNotFound", err)
	}
	checkGrant(t, s, sibling)
	checkGrant(t, s, twin)
	// A deleted grant no longer belongs to its family, and its signature is free.
	if err := s.DeactivateRequest(ctx(t), kind, "req-1"); err != nil {
		t.Fatalf("DeactivateRequest: %v", err)
	}
	checkGrantGone(t, s, kind, "sig-1")
	again := newGrant(clk, kind, "sig-1", "req-9")
	mustCreateGrant(t, s, again)
	checkGrant(t, s, again)
}

func testGrantDeactivate(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	g := newGrant(clk, kind, "sig-1", "req-1")
	sibling := newGrant(clk, kind, "sig-2", "req-1")
	mustCreateGrant(t, s, g)
	mustCreateGrant(t, s, sibling)
	if err := s.DeactivateGrant(ctx(t), kind, "sig-1"); err != nil {
		t.Fatalf("DeactivateGrant: %v", err)
	}
	inactive := *g
	inactive.Active = false
	checkGrant(t, s, &inactive) // still returned, with everything else intact
	checkGrant(t, s, sibling)
	if err := s.DeactivateGrant(ctx(t), kind, "sig-1"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("DeactivateGrant(again): got %v, want ErrConflict", err)
	}
	if err := s.DeactivateGrant(ctx(t), kind, "never"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeactivateGrant(missing): got %v, want ErrNotFound", err)
	}
	born := newGrant(clk, kind, "sig-3", "req-3")
	born.Active = false
	mustCreateGrant(t, s, born)
	checkGrant(t, s, born)
	if err := s.DeactivateGrant(ctx(t), kind, "sig-3"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("DeactivateGrant(created inactive): got %v, want ErrConflict", err)
	}
	// An inactive grant stays until it expires.
	clk.Advance(time.Hour + time.Second)
	checkGrantGone(t, s, kind, "sig-1")
}

func testGrantDeactivateRequest(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	other := otherKind(kind)
	family := []*store.Grant{
		newGrant(clk, kind, "sig-1", "req-1"),
		newGrant(clk, kind, "sig-2", "req-1"),
		newGrant(clk, kind, "sig-3", "req-1"),
	}
	family[2].Active = false
	family[1].ExpiresAt = time.Time{}
	bystanders := []*store.Grant{
		newGrant(clk, kind, "sig-4", "req-2"),     // same kind, another request
		newGrant(clk, other, "sig-5", "req-1"),    // same request, another kind
		newGrant(clk, kind, "sig-6", "req-1-bis"), // request ID sharing a prefix
		newGrant(clk, kind, "req-1", "req-10"),    // signature equal to the request ID
	}
	for _, g := range append(append([]*store.Grant{}, family...), bystanders...) {
		mustCreateGrant(t, s, g)
	}
	if err := s.DeactivateRequest(ctx(t), kind, "req-1"); err != nil {
		t.Fatalf("DeactivateRequest: %v", err)
	}
	for _, g := range family {
		want := *g
		want.Active = false
		checkGrant(t, s, &want)
		if err := s.DeactivateGrant(ctx(t), kind, g.Signature); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("DeactivateGrant(%s after DeactivateRequest): got %v, want ErrConflict", g.Signature, err)
		}
	}
	for _, g := range bystanders {
		checkGrant(t, s, g)
	}
	// Again, and for requests that have no grants: no error.
	for _, req := range []string{"req-1", "req-unknown", ""} {
		if err := s.DeactivateRequest(ctx(t), kind, req); err != nil {
			t.Fatalf("DeactivateRequest(%q): %v", req, err)
		}
	}
	for _, g := range bystanders {
		checkGrant(t, s, g)
	}
	// A grant created later in the same family is active until revoked again.
	late := newGrant(clk, kind, "sig-7", "req-1")
	mustCreateGrant(t, s, late)
	checkGrant(t, s, late)
}

func testGrantCopies(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	g := newGrant(clk, kind, "sig-1", "req-1")
	want := normGrant(g)
	mustCreateGrant(t, s, g)
	g.Data[0] = 'X'
	g.Active = false
	checkGrant(t, s, &want)
	got, err := s.GetGrant(ctx(t), kind, "sig-1")
	if err != nil {
		t.Fatalf("GetGrant: %v", err)
	}
	got.Data[1] = 'Y'
	got.Active = false
	checkGrant(t, s, &want)
}

func testGrantConcurrentDeactivate(t *testing.T, s store.Grants, clk *Clock, kind store.GrantKind) {
	const n = 32
	g := newGrant(clk, kind, "sig-1", "req-1")
	mustCreateGrant(t, s, g)
	errs := concurrently(n, func(int) error { return s.DeactivateGrant(ctx(t), kind, "sig-1") })
	exactlyOneNil(t, fmt.Sprintf("%d × DeactivateGrant", n), errs, store.ErrConflict)
	want := *g
	want.Active = false
	checkGrant(t, s, &want)
}

// indexedGrants creates, for every kind, grants that DeactivateSession and
// DeactivateSubject must tell apart, and returns them by name: "hit" (the
// session sso-1 of acc-1, of every kind, with and without expiry, already
// inactive, a signature with a colon), "sameSubject" (acc-1's other session),
// "otherSession" and "prefix" (a session and a subject that share a prefix
// with sso-1 and acc-1), "none" (client credentials: no session, no
// subject).
func indexedGrants(t *testing.T, s store.Grants, clk *Clock) map[string][]*store.Grant {
	t.Helper()
	out := map[string][]*store.Grant{}
	for _, kind := range grantKinds {
		k := string(kind)
		hit := newGrant(clk, kind, k+"-hit", "req-1")
		forever := newGrant(clk, kind, k+"-forever", "req-2")
		forever.ExpiresAt = time.Time{}
		inactive := newGrant(clk, kind, k+"-inactive", "req-3")
		inactive.Active = false
		colon := newGrant(clk, kind, k+":colon:sig", "req-4")
		same := newGrant(clk, kind, k+"-same-subject", "req-5")
		same.SessionID = "sso-2"
		other := newGrant(clk, kind, k+"-other", "req-6")
		other.SessionID, other.Subject = "sso-3", "acc-2"
		prefix := newGrant(clk, kind, k+"-prefix", "req-7")
		prefix.SessionID, prefix.Subject = "sso-1-bis", "acc-1-bis"
		none := newGrant(clk, kind, k+"-none", "req-8")
		none.SessionID, none.Subject = "", ""
		out["hit"] = append(out["hit"], hit, forever, inactive, colon)
		out["sameSubject"] = append(out["sameSubject"], same)
		out["other"] = append(out["other"], other, prefix)
		out["none"] = append(out["none"], none)
	}
	for _, gs := range out {
		for _, g := range gs {
			mustCreateGrant(t, s, g)
		}
	}
	return out
}

func checkInactive(t *testing.T, s store.Grants, gs []*store.Grant) {
	t.Helper()
	for _, g := range gs {
		want := *g
		want.Active = false
		checkGrant(t, s, &want)
		if err := s.DeactivateGrant(ctx(t), g.Kind, g.Signature); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("DeactivateGrant(%s, %s) after its revocation: got %v, want ErrConflict", g.Kind, g.Signature, err)
		}
	}
}

func checkActive(t *testing.T, s store.Grants, gs []*store.Grant) {
	t.Helper()
	for _, g := range gs {
		checkGrant(t, s, g)
	}
}

func testGrantDeactivateSession(t *testing.T, s store.Grants, clk *Clock) {
	gs := indexedGrants(t, s, clk)
	// A grant of the session that expires is left to expire.
	short := newGrant(clk, store.GrantAccessToken, "short", "req-9")
	short.ExpiresAt = clk.Now().Add(time.Minute)
	mustCreateGrant(t, s, short)
	clk.Advance(2 * time.Minute)

	if err := s.DeactivateSession(ctx(t), "sso-1"); err != nil {
		t.Fatalf("DeactivateSession: %v", err)
	}
	checkInactive(t, s, gs["hit"])
	checkActive(t, s, gs["sameSubject"])
	checkActive(t, s, gs["other"])
	checkActive(t, s, gs["none"])
	checkGrantGone(t, s, store.GrantAccessToken, "short")

	// Again, for an unknown session, and for none: no error, nothing else
	// touched (the empty session names no grant, not those without one).
	for _, sid := range []string{"sso-1", "sso-unknown", ""} {
		if err := s.DeactivateSession(ctx(t), sid); err != nil {
			t.Fatalf("DeactivateSession(%q): %v", sid, err)
		}
	}
	checkActive(t, s, gs["sameSubject"])
	checkActive(t, s, gs["other"])
	checkActive(t, s, gs["none"])

	// A grant created afterwards (a race the caller closes otherwise) is
	// active until the session is revoked again.
	late := newGrant(clk, store.GrantRefreshToken, "late", "req-10")
	mustCreateGrant(t, s, late)
	checkGrant(t, s, late)
	if err := s.DeactivateSession(ctx(t), "sso-1"); err != nil {
		t.Fatalf("DeactivateSession(again): %v", err)
	}
	checkInactive(t, s, []*store.Grant{late})

	// The other session of the subject on its own.
	if err := s.DeactivateSession(ctx(t), "sso-2"); err != nil {
		t.Fatalf("DeactivateSession(sso-2): %v", err)
	}
	checkInactive(t, s, gs["sameSubject"])
	checkActive(t, s, gs["other"])
	checkActive(t, s, gs["none"])
}

func testGrantDeactivateSubject(t *testing.T, s store.Grants, clk *Clock) {
	gs := indexedGrants(t, s, clk)
	if err := s.DeactivateSubject(ctx(t), "acc-1", ""); err != nil {
		t.Fatalf("DeactivateSubject: %v", err)
	}
	checkInactive(t, s, gs["hit"])
	checkInactive(t, s, gs["sameSubject"])
	checkActive(t, s, gs["other"])
	checkActive(t, s, gs["none"])

	// Client-credentials grants have no subject: the empty subject names
	// none of them.
	for _, sub := range []string{"acc-1", "acc-unknown", ""} {
		if err := s.DeactivateSubject(ctx(t), sub, ""); err != nil {
			t.Fatalf("DeactivateSubject(%q): %v", sub, err)
		}
	}
	checkActive(t, s, gs["other"])
	checkActive(t, s, gs["none"])

	late := newGrant(clk, store.GrantAccessToken, "late", "req-10")
	late.SessionID = "sso-4"
	mustCreateGrant(t, s, late)
	checkGrant(t, s, late)
	if err := s.DeactivateSubject(ctx(t), "acc-1", ""); err != nil {
		t.Fatalf("DeactivateSubject(again): %v", err)
	}
	checkInactive(t, s, []*store.Grant{late})
}

// testGrantDeactivateSubjectClient: a subject's grants of one client are
// deactivated (a consent was revoked), those of its other clients kept, and
// the kept ones are still reached by a later revocation of the subject.
func testGrantDeactivateSubjectClient(t *testing.T, s store.Grants, clk *Clock) {
	gs := indexedGrants(t, s, clk)
	var mine, others []*store.Grant
	for _, kind := range grantKinds {
		k := string(kind)
		for i, client := range []string{"rp-2", "rp-2", "rp-3"} {
			g := newGrant(clk, kind, fmt.Sprintf("%s-client-%d", k, i), fmt.Sprintf("req-c%d", i))
			g.ClientID = client
			mustCreateGrant(t, s, g)
			if client == "rp-2" {
				mine = append(mine, g)
			} else {
				others = append(others, g)
			}
		}
	}
	for _, sub := range []string{"acc-2", ""} { // rp-2's grants of no other subject
		if err := s.DeactivateSubject(ctx(t), sub, "rp-2"); err != nil {
			t.Fatalf("DeactivateSubject(%q, rp-2): %v", sub, err)
		}
	}
	checkActive(t, s, mine)
	if err := s.DeactivateSubject(ctx(t), "acc-1", "rp-2"); err != nil {
		t.Fatalf("DeactivateSubject(acc-1, rp-2): %v", err)
	}
	checkInactive(t, s, mine)
	checkActive(t, s, others)
	checkActive(t, s, gs["sameSubject"]) // acc-1's grants of rp-1
	checkActive(t, s, gs["other"])
	checkActive(t, s, gs["none"])
	if err := s.DeactivateSubject(ctx(t), "acc-1", "rp-unknown"); err != nil {
		t.Fatalf("DeactivateSubject(acc-1, rp-unknown): %v", err)
	}
	checkActive(t, s, others)

	// What the client revocation left is still the subject's.
	if err := s.DeactivateSubject(ctx(t), "acc-1", ""); err != nil {
		t.Fatalf("DeactivateSubject(acc-1): %v", err)
	}
	checkInactive(t, s, others)
	checkInactive(t, s, gs["sameSubject"])
	checkActive(t, s, gs["other"])
}

// testGrantDeactivateMany: a session with more grants than one command of a
// backend may carry is revoked whole.
func testGrantDeactivateMany(t *testing.T, s store.Grants, clk *Clock) {
	const n = 1100
	var gs []*store.Grant
	for i := range n {
		g := newGrant(clk, grantKinds[i%len(grantKinds)], fmt.Sprintf("sig-%d", i), fmt.Sprintf("req-%d", i))
		g.Data = nil
		mustCreateGrant(t, s, g)
		gs = append(gs, g)
	}
	if err := s.DeactivateSession(ctx(t), "sso-1"); err != nil {
		t.Fatalf("DeactivateSession: %v", err)
	}
	for _, g := range gs {
		got, err := s.GetGrant(ctx(t), g.Kind, g.Signature)
		if err != nil || got.Active {
			t.Fatalf("GetGrant(%s, %s) after DeactivateSession: %+v, %v; want inactive", g.Kind, g.Signature, got, err)
		}
	}
}

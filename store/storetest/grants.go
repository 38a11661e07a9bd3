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
	var tests []test[store.Grants]
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

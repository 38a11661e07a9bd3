package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func newClient(clk *Clock, id string) *store.Client {
	created := clk.Now().Add(-time.Hour + 654321*time.Microsecond)
	return &store.Client{
		ID:                       id,
		SecretHash:               []byte{0x00, 0x01, 0xfe, 0xff, 'k', 'e', 'y', 0x80},
		Name:                     "Портал " + id,
		RedirectURIs:             []string{"https://rp.example/callback", "https://rp.example/cb2?x=1"},
		PostLogoutRedirectURIs:   []string{"https://rp.example/bye"},
		GrantTypes:               []string{"authorization_code", "refresh_token"},
		ResponseTypes:            []string{"code"},
		Scopes:                   []string{"openid", "fullname", "snils", "offline_access"},
		TokenEndpointAuthMethod:  "client_secret_basic",
		BackchannelLogoutURI:     "https://rp.example/backchannel",
		MinLevel:                 store.LevelStandard,
		IDTokenSignedResponseAlg: "ES256",
		SubjectType:              store.SubjectPairwise,
		SubjectSalt:              []byte{0x00, 's', 'a', 'l', 't', 0xff},
		PKCEOptional:             true,
		RequireMFA:               true,
		CreatedAt:                created.In(moscow),
		UpdatedAt:                created.Add(time.Minute),
	}
}

// newPublicClient returns a public client with no secret and empty optional lists.
func newPublicClient(clk *Clock, id string) *store.Client {
	return &store.Client{
		ID:                      id,
		Name:                    "Public " + id,
		RedirectURIs:            []string{"http://127.0.0.1:8081/callback"},
		PostLogoutRedirectURIs:  []string{},
		GrantTypes:              []string{"authorization_code"},
		ResponseTypes:           []string{"code"},
		Scopes:                  nil,
		TokenEndpointAuthMethod: "none",
		CreatedAt:               clk.Now(),
		UpdatedAt:               clk.Now(),
	}
}

func normClient(c *store.Client) store.Client {
	n := *c
	n.SecretHash = normBytes(n.SecretHash)
	n.SubjectSalt = normBytes(n.SubjectSalt)
	n.RedirectURIs = normStrings(n.RedirectURIs)
	n.PostLogoutRedirectURIs = normStrings(n.PostLogoutRedirectURIs)
	n.GrantTypes = normStrings(n.GrantTypes)
	n.ResponseTypes = normStrings(n.ResponseTypes)
	n.Scopes = normStrings(n.Scopes)
	n.CreatedAt = normTime(n.CreatedAt)
	n.UpdatedAt = normTime(n.UpdatedAt)
	return n
}

func checkClient(t *testing.T, what string, got, want *store.Client) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: got nil client", what)
	}
	if g, w := normClient(got), normClient(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func mustCreateClient(t *testing.T, s store.Clients, c *store.Client) {
	t.Helper()
	if err := s.CreateClient(ctx(t), c); err != nil {
		t.Fatalf("CreateClient(%s): %v", c.ID, err)
	}
}

func mustGetClient(t *testing.T, s store.Clients, id string) *store.Client {
	t.Helper()
	c, err := s.GetClient(ctx(t), id)
	if err != nil {
		t.Fatalf("GetClient(%s): %v", id, err)
	}
	return c
}

func clientTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"CreateGet", testClientCreateGet},
		{"GetMissing", testClientGetMissing},
		{"Duplicate", testClientDuplicate},
		{"List", testClientList},
		{"Update", testClientUpdate},
		{"UpdateMissing", testClientUpdateMissing},
		{"UpdaterError", testClientUpdaterError},
		{"UpdateImmutable", testClientUpdateImmutable},
		{"Delete", testClientDelete},
		{"Copies", testClientCopies},
	}
}

func testClientCreateGet(t *testing.T, s store.Durable, clk *Clock) {
	conf := newClient(clk, "rp-confidential")
	pub := newPublicClient(clk, "rp-public")
	mustCreateClient(t, s, conf)
	mustCreateClient(t, s, pub)
	checkClient(t, "GetClient(confidential)", mustGetClient(t, s, conf.ID), conf)
	got := mustGetClient(t, s, pub.ID)
	checkClient(t, "GetClient(public)", got, pub)
	if len(got.SecretHash) != 0 {
		t.Fatalf("GetClient(public): SecretHash %x, want none", got.SecretHash)
	}
	if !got.Public() {
		t.Fatal("GetClient(public): Public() is false")
	}
}

func testClientGetMissing(t *testing.T, s store.Durable, clk *Clock) {
	if _, err := s.GetClient(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetClient(missing): got %v, want ErrNotFound", err)
	}
}

func testClientDuplicate(t *testing.T, s store.Durable, clk *Clock) {
	c := newClient(clk, "rp")
	mustCreateClient(t, s, c)
	dup := newPublicClient(clk, "rp")
	if err := s.CreateClient(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateClient(duplicate): got %v, want ErrConflict", err)
	}
	checkClient(t, "GetClient after conflict", mustGetClient(t, s, "rp"), c)
}

func testClientList(t *testing.T, s store.Durable, clk *Clock) {
	list, err := s.ListClients(ctx(t))
	if err != nil {
		t.Fatalf("ListClients(empty store): %v", err)
	}
	if len(list) != 0 {
		t.Fatalf("ListClients(empty store): got %d clients", len(list))
	}
	ids := []string{"m-client", "a-client", "z-client", "b-client", "A-upper"}
	want := map[string]*store.Client{}
	for i, id := range ids {
		c := newClient(clk, id)
		if i%2 == 1 {
			c = newPublicClient(clk, id)
		}
		c.CreatedAt = clk.Now().Add(-time.Duration(i) * time.Minute) // creation order differs from ID order
		want[id] = c
		mustCreateClient(t, s, c)
	}
	list, err = s.ListClients(ctx(t))
	if err != nil {
		t.Fatalf("ListClients: %v", err)
	}
	order := []string{"A-upper", "a-client", "b-client", "m-client", "z-client"}
	if len(list) != len(order) {
		t.Fatalf("ListClients: got %d clients, want %d", len(list), len(order))
	}
	for i, id := range order {
		checkClient(t, fmt.Sprintf("ListClients[%d]", i), list[i], want[id])
	}
	if err := s.DeleteClient(ctx(t), "b-client"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	list, err = s.ListClients(ctx(t))
	if err != nil {
		t.Fatalf("ListClients after delete: %v", err)
	}
	var got []string
	for _, c := range list {
		got = append(got, c.ID)
	}
	if w := []string{"A-upper", "a-client", "m-client", "z-client"}; !reflect.DeepEqual(got, w) {
		t.Fatalf("ListClients after delete: got %v, want %v", got, w)
	}
}

func testClientUpdate(t *testing.T, s store.Durable, clk *Clock) {
	c := newClient(clk, "rp")
	mustCreateClient(t, s, c)
	want := *c
	want.SecretHash = nil
	want.TokenEndpointAuthMethod = "none"
	want.RedirectURIs = []string{"https://rp.example/new"}
	want.Scopes = []string{}
	want.MinLevel = ""
	want.SubjectType, want.PKCEOptional = store.SubjectPublic, false
	want.UpdatedAt = clk.Now().Add(time.Hour)
	got, err := s.UpdateClient(ctx(t), "rp", func(u *store.Client) error {
		checkClient(t, "updater input", u, c)
		u.SecretHash, u.TokenEndpointAuthMethod, u.RedirectURIs = want.SecretHash, want.TokenEndpointAuthMethod, want.RedirectURIs
		u.Scopes, u.MinLevel, u.UpdatedAt = want.Scopes, want.MinLevel, want.UpdatedAt
		u.SubjectType, u.PKCEOptional = want.SubjectType, want.PKCEOptional
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	checkClient(t, "UpdateClient result", got, &want)
	checkClient(t, "GetClient after update", mustGetClient(t, s, "rp"), &want)

	// And back: a secret is set again.
	want.SecretHash = []byte{9, 8, 7}
	want.TokenEndpointAuthMethod = "client_secret_post"
	if _, err := s.UpdateClient(ctx(t), "rp", func(u *store.Client) error {
		u.SecretHash, u.TokenEndpointAuthMethod = []byte{9, 8, 7}, "client_secret_post"
		return nil
	}); err != nil {
		t.Fatalf("UpdateClient(set secret): %v", err)
	}
	checkClient(t, "GetClient after setting a secret", mustGetClient(t, s, "rp"), &want)
}

func testClientUpdateMissing(t *testing.T, s store.Durable, clk *Clock) {
	called := false
	if _, err := s.UpdateClient(ctx(t), "nope", func(*store.Client) error { called = true; return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateClient(missing): got %v, want ErrNotFound", err)
	}
	if called {
		t.Fatal("UpdateClient(missing) called the updater")
	}
}

func testClientUpdaterError(t *testing.T, s store.Durable, clk *Clock) {
	c := newClient(clk, "rp")
	mustCreateClient(t, s, c)
	_, err := s.UpdateClient(ctx(t), "rp", func(u *store.Client) error {
		u.Name = "changed"
		u.RedirectURIs = append(u.RedirectURIs, "https://evil.example/")
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateClient(updater fails): got %v, want the updater's error", err)
	}
	checkClient(t, "GetClient after failed update", mustGetClient(t, s, "rp"), c)
}

func testClientUpdateImmutable(t *testing.T, s store.Durable, clk *Clock) {
	c := newClient(clk, "rp")
	mustCreateClient(t, s, c)
	got, err := s.UpdateClient(ctx(t), "rp", func(u *store.Client) error {
		u.ID = "rp-renamed"
		u.CreatedAt = clk.Now().Add(24 * time.Hour)
		return nil
	})
	if err == nil && (got.ID != "rp" || !sameTime(got.CreatedAt, c.CreatedAt)) {
		t.Fatalf("UpdateClient result changed ID/CreatedAt: %s %v", got.ID, got.CreatedAt)
	}
	checkClient(t, "GetClient after ID/CreatedAt change attempt", mustGetClient(t, s, "rp"), c)
	if _, err := s.GetClient(ctx(t), "rp-renamed"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetClient(new ID): got %v, want ErrNotFound", err)
	}
}

func testClientDelete(t *testing.T, s store.Durable, clk *Clock) {
	mustCreateClient(t, s, newClient(clk, "rp-1"))
	keep := newClient(clk, "rp-2")
	mustCreateClient(t, s, keep)
	if err := s.DeleteClient(ctx(t), "rp-1"); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if _, err := s.GetClient(ctx(t), "rp-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetClient(deleted): got %v, want ErrNotFound", err)
	}
	if err := s.DeleteClient(ctx(t), "rp-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteClient(again): got %v, want ErrNotFound", err)
	}
	checkClient(t, "GetClient(other)", mustGetClient(t, s, "rp-2"), keep)
	// The ID can be registered again.
	again := newPublicClient(clk, "rp-1")
	mustCreateClient(t, s, again)
	checkClient(t, "GetClient(re-created)", mustGetClient(t, s, "rp-1"), again)
}

func testClientCopies(t *testing.T, s store.Durable, clk *Clock) {
	c := newClient(clk, "rp")
	want := normClient(c)
	mustCreateClient(t, s, c)
	c.SecretHash[0] = 0x42
	c.RedirectURIs[0] = "https://evil.example/"
	got := mustGetClient(t, s, "rp")
	checkClient(t, "GetClient after mutating the input", got, &want)
	got.SecretHash[1] = 0x42
	got.Scopes[0] = "mutated"
	got.GrantTypes = append(got.GrantTypes[:0], "implicit")
	checkClient(t, "GetClient after mutating a result", mustGetClient(t, s, "rp"), &want)
	list, err := s.ListClients(ctx(t))
	if err != nil || len(list) != 1 {
		t.Fatalf("ListClients: %v, %d clients", err, len(list))
	}
	list[0].RedirectURIs[0] = "https://evil.example/"
	checkClient(t, "GetClient after mutating a listed client", mustGetClient(t, s, "rp"), &want)
}

package oidc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
)

// TestAccessTokenRecordsHoldNoPersonalData: what the ephemeral store keeps
// for an access token names the subject but not the person.
func TestAccessTokenRecordsHoldNoPersonalData(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(nil)
	if err := mem.CreateClient(ctx, &store.Client{ID: "rp", TokenEndpointAuthMethod: "none"}); err != nil {
		t.Fatal(err)
	}
	st := &storage{durable: mem, ephemeral: mem, now: time.Now, clients: newClientCache(mem, time.Second, time.Now)}
	sess := newSession()
	sess.Subject, sess.AccountID, sess.ClientID, sess.Level, sess.SID = "acc1", "acc1", "rp", "standard", "sid1"
	sess.Claims.Extra = map[string]any{"family_name": "Иванов", "email": "ivan@example.ru", "level": "standard", "sid": "sid1"}
	sess.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
	req := &fosite.Request{ID: "req1", RequestedAt: time.Now(), Client: newClient(&store.Client{ID: "rp"}), Session: sess}
	if err := st.CreateAccessTokenSession(ctx, "sig", req); err != nil {
		t.Fatal(err)
	}
	g, err := mem.GetGrant(ctx, store.GrantAccessToken, "sig")
	if err != nil {
		t.Fatal(err)
	}
	for _, pii := range []string{"Иванов", "ivan@example.ru"} {
		if strings.Contains(string(g.Data), pii) {
			t.Errorf("access token record holds %q", pii)
		}
	}
	if !strings.Contains(string(g.Data), "sid1") {
		t.Error("access token record lost the sid")
	}
	if sess.Claims.Extra["email"] == nil {
		t.Error("the caller's session was changed")
	}
	got, err := st.GetAccessTokenSession(ctx, "sig", newSession())
	if err != nil || got.GetSession().(*Session).AccountID != "acc1" {
		t.Errorf("read back: %v", err)
	}
}

package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// watchEvent is what a recordingWatch heard: "ready", "lost" or a change.
type watchEvent struct {
	what   string
	change store.GrantChange
}

// recordingWatch passes what it hears to a channel.
type recordingWatch chan watchEvent

func (w recordingWatch) Ready()                      { w <- watchEvent{what: "ready"} }
func (w recordingWatch) Lost()                       { w <- watchEvent{what: "lost"} }
func (w recordingWatch) Changed(c store.GrantChange) { w <- watchEvent{what: "changed", change: c} }

// next returns the next event, failing the test after a few seconds.
func (w recordingWatch) next(t *testing.T) watchEvent {
	t.Helper()
	select {
	case ev := <-w:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event from WatchGrants within 5s")
		return watchEvent{}
	}
}

// watchTests checks the announcements of store.GrantWatcher: every
// deactivation and deletion of an access-token grant (a session's and an
// account's revocations are announced whole), nothing for the other kinds, Ready before the first and Lost at the end.
func watchTests() []test[store.Ephemeral] {
	return []test[store.Ephemeral]{{"AnnouncesAccessTokenChanges", func(t *testing.T, s store.Ephemeral, clk *Clock) {
		watcher, ok := s.(store.GrantWatcher)
		if !ok {
			t.Fatalf("%T does not implement store.GrantWatcher", s)
		}
		for _, g := range []*store.Grant{
			newGrant(clk, store.GrantAccessToken, "sig-a", "req-1"),
			newGrant(clk, store.GrantAccessToken, "sig-b", "req-2"),
			newGrant(clk, store.GrantAccessToken, "sig-c", "req-3"),
			newGrant(clk, store.GrantAuthorizeCode, "sig-d", "req-4"),
		} {
			mustCreateGrant(t, s, g)
		}
		wctx, cancel := context.WithCancel(ctx(t))
		w := make(recordingWatch, 16)
		done := make(chan error, 1)
		go func() { done <- watcher.WatchGrants(wctx, w) }()
		defer func() {
			cancel()
			<-done
		}()
		if ev := w.next(t); ev.what != "ready" {
			t.Fatalf("first event %+v, want ready", ev)
		}

		// A change may be announced more than once (a store that cannot
		// tell whether its first announcement followed the change sends
		// another); repeats of the previous change are skipped.
		var last store.GrantChange
		expect := func(op string, err error, want store.GrantChange) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			ev := w.next(t)
			for ev.what == "changed" && ev.change == last && last != want {
				ev = w.next(t)
			}
			if ev.what != "changed" || ev.change != want {
				t.Fatalf("after %s heard %+v, want change %+v", op, ev, want)
			}
			last = want
		}
		// A code's change is not announced: the next event is the access
		// token's.
		if err := s.DeactivateGrant(ctx(t), store.GrantAuthorizeCode, "sig-d"); err != nil {
			t.Fatalf("deactivate code: %v", err)
		}
		expect("DeactivateGrant", s.DeactivateGrant(ctx(t), store.GrantAccessToken, "sig-a"),
			store.GrantChange{Signature: "sig-a"})
		expect("DeactivateRequest", s.DeactivateRequest(ctx(t), store.GrantAccessToken, "req-2"),
			store.GrantChange{RequestID: "req-2"})
		expect("DeleteGrant", s.DeleteGrant(ctx(t), store.GrantAccessToken, "sig-c"),
			store.GrantChange{Signature: "sig-c"})
		expect("DeactivateSession", s.DeactivateSession(ctx(t), "sso-1"),
			store.GrantChange{SessionID: "sso-1"})
		expect("DeactivateSubject of a client", s.DeactivateSubject(ctx(t), "acc-1", "rp:1"),
			store.GrantChange{Subject: "acc-1", ClientID: "rp:1"})
		expect("DeactivateSubject", s.DeactivateSubject(ctx(t), "acc-1", ""),
			store.GrantChange{Subject: "acc-1"})
		// The change was made (whether before the announcement, as the
		// contract requires, is up to each store's code: a test reading
		// here cannot tell).
		if g, err := s.GetGrant(ctx(t), store.GrantAccessToken, "sig-b"); err != nil || g.Active {
			t.Errorf("sig-b after its request was deactivated: %+v, %v", g, err)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchGrants returned %v after its context ended", err)
		}
		done <- nil // for the deferred receive
		for {
			ev := w.next(t)
			if ev.what == "lost" {
				break
			}
			if ev.what != "ready" {
				t.Fatalf("after the end heard %+v, want lost", ev)
			}
		}
	}}}
}

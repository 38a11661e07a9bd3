package simulator_test

import (
	"testing"
	"time"

	"github.com/esia-oidc/idp/catalog/simulator"
	"github.com/esia-oidc/idp/catalog/store"
	"github.com/esia-oidc/idp/catalog/store/memory"
	"github.com/esia-oidc/idp/catalog/store/storetest"
)

func TestStatusesMoveOn(t *testing.T) {
	clk := &storetest.Clock{}
	clk.Add(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Sub(time.Time{}))
	st := memory.New(clk.Now)
	for range 4 {
		a := &store.Application{Subject: "s", ServiceID: "traffic-fines", Fields: map[string]string{}, Created: clk.Now()}
		a.Append(store.StatusSubmitted, clk.Now(), "")
		if err := st.CreateApplication(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	sim := &simulator.Simulator{Store: st, Delay: 5 * time.Second, Now: clk.Now}
	step := func(want int) {
		t.Helper()
		n, err := sim.Step(t.Context())
		if err != nil || n != want {
			t.Fatalf("Step = %d, %v, want %d", n, err, want)
		}
	}
	step(0) // too early
	clk.Add(5 * time.Second)
	step(4) // all to review, none further in the same step
	step(0)
	clk.Add(5 * time.Second)
	step(4)
	for n := int64(1); n <= 4; n++ {
		a, err := st.GetApplication(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		want, comment := store.StatusApproved, simulator.CommentApproved
		if n == 4 {
			want, comment = store.StatusRejected, simulator.CommentRejected
		}
		if a.Status != want || len(a.History) != 3 || a.History[1].Status != store.StatusInReview || a.History[2].Comment != comment {
			t.Errorf("application %d: %s, history %+v", n, a.Status, a.History)
		}
	}
	clk.Add(time.Hour)
	step(0) // final statuses stay
}

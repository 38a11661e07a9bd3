package storetest

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	c := NewClock()
	if !c.Now().Equal(Epoch) {
		t.Fatalf("NewClock().Now() = %v, want %v", c.Now(), Epoch)
	}
	c.Advance(90 * time.Second)
	if want := Epoch.Add(90 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after Advance: %v, want %v", c.Now(), want)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Advance(time.Second) })
	}
	wg.Wait()
	if want := Epoch.Add(100 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after concurrent Advance: %v, want %v", c.Now(), want)
	}
}

func TestSameTime(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	tests := []struct {
		a, b time.Time
		want bool
	}{
		{base, base.Truncate(time.Microsecond).In(time.FixedZone("X", 3600)), true},
		{base, base.Add(time.Microsecond), false},
		{time.Time{}, time.Time{}, true},
		{time.Time{}, base, false},
		{base, time.Time{}, false},
	}
	for _, tc := range tests {
		if got := sameTime(tc.a, tc.b); got != tc.want {
			t.Errorf("sameTime(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

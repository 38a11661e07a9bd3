package signature

import (
	"strings"
	"testing"
	"time"
)

// current: an answer or a CRL is refused from the future, past its
// nextUpdate, or, without one, once older than MaxCache (a CRL without
// nextUpdate cannot be made with crypto/x509, so the rule is tested here).
func TestCurrent(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	r := &Revocation{MaxCache: time.Hour}
	for _, tc := range []struct {
		name       string
		this, next time.Time
		want       string // in the error; "" for current
	}{
		{"fresh", now.Add(-time.Minute), now.Add(time.Hour), ""},
		{"slightly ahead", now.Add(time.Minute), now.Add(time.Hour), ""},
		{"from the future", now.Add(time.Hour), now.Add(2 * time.Hour), "in the future"},
		{"past next update", now.Add(-2 * time.Hour), now.Add(-time.Minute), "next update"},
		{"old with next update ahead", now.AddDate(0, 0, -7), now.Add(time.Hour), ""},
		{"no next update, recent", now.Add(-59 * time.Minute), time.Time{}, ""},
		{"no next update, old", now.Add(-61 * time.Minute), time.Time{}, "without a next update"},
	} {
		err := r.current(tc.this, tc.next, now)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

package testserver

import (
	"strings"
	"testing"
)

// raceWarning starts every report of the race detector.
const raceWarning = "WARNING: DATA RACE"

// DataRaces returns how many data races a log of a race-built process
// reports.
func DataRaces(log string) int { return strings.Count(log, raceWarning) }

// CheckRaces fails the test if the log of the process named what (a server
// built by Binary, as the tests themselves, with the race detector or not)
// reports a data race.
func CheckRaces(t testing.TB, what, log string) {
	t.Helper()
	if n := DataRaces(log); n > 0 {
		t.Errorf("%s: the race detector reported %d data race(s); see its log", what, n)
	}
}

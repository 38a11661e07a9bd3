//go:build race

package testserver

// raceEnabled: this program runs with the race detector, so the server is
// built with it too, and a test fails whose server reports a data race.
const raceEnabled = true

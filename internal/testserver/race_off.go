//go:build !race

package testserver

// raceEnabled: this program runs without the race detector, and so does
// the server it builds.
const raceEnabled = false

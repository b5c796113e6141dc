//go:build race

package ring

// raceEnabled shrinks sample sizes under the race detector, which slows
// these tests tenfold without checking anything more in them.
const raceEnabled = true

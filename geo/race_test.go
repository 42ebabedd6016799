//go:build race

package geo

// raceEnabled shrinks the churn test: the race detector makes each move
// about ten times slower.
const raceEnabled = true

//go:build !race

package runner_test

// raceEnabled reports a -race build: everything runs several times slower.
const raceEnabled = false

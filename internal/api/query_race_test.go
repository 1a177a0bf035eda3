//go:build race

package api_test

// raceDetector: the race detector slows row decoding about fivefold, so the
// large export test uses a smaller board by default under -race.
const raceDetector = true

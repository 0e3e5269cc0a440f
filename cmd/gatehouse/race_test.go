//go:build race

package main

// raceEnabled is true under the race detector, which makes the tests several times slower:
// the longest ones run fewer rounds.
const raceEnabled = true

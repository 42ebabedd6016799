// Command tour runs every blueprint case built so far on the in-memory
// backends and prints what happened, step by step.
//
//	go run ./examples/tour
//
// Each case lives in its own file of this package; main runs them in order.
package main

import (
	"fmt"
	"os"
)

// A section is one case of the tour. It writes what it does to out and
// returns an error only if the library misbehaved.
type section struct {
	title string
	run   func(out *tourWriter) error
}

func main() {
	sections := []section{
		// Each case adds its line here, in the README's order.
		{"IDs (snowflake)", tourIDs},
		{"URL shortener (shortid)", tourShortener},
		{"Home timeline (fanout)", tourTimeline},
		{"End-to-end encryption (e2e)", tourE2E},
		{"Ride dispatch (geo)", tourGeo},
	}
	out := &tourWriter{w: os.Stdout}
	for _, s := range sections {
		fmt.Fprintf(out.w, "\n== %s ==\n", s.title)
		if err := s.run(out); err != nil {
			fmt.Fprintf(os.Stderr, "tour: %s: %v\n", s.title, err)
			os.Exit(1)
		}
	}
}

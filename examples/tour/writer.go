package main

import (
	"fmt"
	"io"
	"time"
)

// tourWriter prints the tour's steps with a common indent.
type tourWriter struct {
	w io.Writer
}

// Step prints one line of what a case did.
func (t *tourWriter) Step(format string, args ...any) {
	fmt.Fprintf(t.w, "  "+format+"\n", args...)
}

// tourClock is a clock that the tour moves by hand, so that what it prints is
// the same on every run and expiry needs no waiting. Sleep advances it, as
// time would.
type tourClock struct{ now time.Time }

// Now returns the clock's current reading.
func (c *tourClock) Now() time.Time { return c.now }

// Sleep moves the clock forward by d.
func (c *tourClock) Sleep(d time.Duration) { c.now = c.now.Add(d) }

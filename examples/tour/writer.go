package main

import (
	"fmt"
	"io"
)

// tourWriter prints the tour's steps with a common indent.
type tourWriter struct {
	w io.Writer
}

// Step prints one line of what a case did.
func (t *tourWriter) Step(format string, args ...any) {
	fmt.Fprintf(t.w, "  "+format+"\n", args...)
}

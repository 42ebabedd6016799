package fanout_test

import (
	"context"
	"errors"
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
)

// FuzzCursor feeds arbitrary cursors to Timeline: each is either rejected
// with ErrBadCursor or yields a valid page.
func FuzzCursor(f *testing.F) {
	e := newEnv(f, 16, fanout.Options{})
	e.follow(2, 1)
	for range 5 {
		e.post(1, "x")
	}
	pg, _ := e.svc.Timeline(e.ctx, 2, "", 2)
	f.Add(pg.Next)
	f.Add("")
	f.Add("AQAAAAAAAAAB")
	f.Add("AQ__________")
	f.Add("%%%%")
	f.Fuzz(func(t *testing.T, c string) {
		pg, err := e.svc.Timeline(context.Background(), 2, c, 3)
		if err != nil {
			if !errors.Is(err, fanout.ErrBadCursor) {
				t.Fatalf("Timeline(%q) = %v", c, err)
			}
			return
		}
		for i := 1; i < len(pg.Posts); i++ {
			if pg.Posts[i].ID >= pg.Posts[i-1].ID {
				t.Fatalf("page not descending for cursor %q", c)
			}
		}
	})
}

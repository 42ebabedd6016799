package fanout

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/blueprint-go/blueprint/snowflake"
)

// TestGoneSetProperty checks goneSet against a plain model: an entry needs
// the followee check if it is older than the newest bound given and its
// author was unfollowed and not followed again since, or (past goneMax
// unfollowed authors) whatever its author. A false "no check" would show an
// unfollowed author's post.
func TestGoneSetProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 1))
	for range 200 {
		var g goneSet
		listed := map[UserID]bool{}
		var below snowflake.ID
		all := false
		for range 60 {
			a := UserID(1 + r.IntN(12))
			switch r.IntN(3) {
			case 0, 1:
				b := snowflake.ID(r.IntN(1000))
				g.add(a, b)
				below = max(below, b)
				if !listed[a] && len(listed) == goneMax {
					all = true
				}
				listed[a] = true
			case 2:
				g.drop(a)
				if !all {
					delete(listed, a)
				}
			}
			if !all && len(g.ids) != len(listed) {
				t.Fatalf("listed %d authors, model %d", len(g.ids), len(listed))
			}
			for range 20 {
				e := Entry{ID: snowflake.ID(r.IntN(1100)), Author: UserID(1 + r.IntN(12))}
				want := e.ID < below && (all || listed[e.Author])
				if got := g.check(e); got != want && !(got && all) {
					t.Fatalf("check(%v) = %v, model %v (all %v, ids %v, below %d)", e, got, want, all, g.ids, g.below)
				}
			}
		}
		// A copy, as a read takes one, keeps what it saw while the
		// original changes.
		c := g
		was := slices.Clone(c.ids)
		g.add(99, 5000)
		if len(g.ids) > 0 {
			g.drop(g.ids[0])
		}
		if !slices.Equal(c.ids, was) || c.below == 5000 {
			t.Fatalf("a copy changed with the original: %v, was %v", c.ids, was)
		}
	}
}

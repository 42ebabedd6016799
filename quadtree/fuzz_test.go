package quadtree

import (
	"errors"
	"math"
	"testing"
)

// FuzzOperations replays a byte string as a sequence of operations on a
// small tree and its brute-force model, checking the invariants after each.
// Each operation takes 4 bytes: opcode, id, x, y. Coordinates come from a
// coarse grid so duplicates and cell edges are common, and some bytes map
// outside the bounds or to NaN.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 1, 10, 10, 0, 2, 10, 10, 1, 1, 200, 200, 2, 2, 0, 0})
	f.Add([]byte{0, 1, 255, 255, 0, 2, 254, 0, 1, 2, 128, 128, 3, 0, 128, 128})
	f.Add([]byte{0, 1, 5, 5, 0, 2, 5, 5, 0, 3, 5, 5, 0, 4, 5, 5, 0, 5, 5, 5, 2, 3, 0, 0, 1, 1, 6, 5})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tr, _ := New[int, int](Rect{0, 0, 200, 200}, Options{LeafSize: 2, MaxDepth: 12})
		m := model{}
		coord := func(b byte) float64 {
			switch b {
			case 255:
				return math.NaN()
			case 254:
				return 201
			}
			return float64(b) * 200 / 253
		}
		for len(ops) >= 4 {
			op, id, p := ops[0]%4, int(ops[1]%16), Point{coord(ops[2]), coord(ops[3])}
			ops = ops[4:]
			valid := !math.IsNaN(p.X) && !math.IsNaN(p.Y) && p.X <= 200 && p.Y <= 200
			_, present := m[id]
			switch op {
			case 0:
				err := tr.Insert(id, p, int(op))
				switch {
				case !valid:
					if !errors.Is(err, ErrInvalidPoint) && !errors.Is(err, ErrOutOfBounds) {
						t.Fatalf("Insert(%v) = %v", p, err)
					}
				case present:
					if !errors.Is(err, ErrExists) {
						t.Fatalf("Insert dup = %v", err)
					}
				case err != nil:
					t.Fatal(err)
				default:
					m[id] = struct {
						p Point
						v int
					}{p, 0}
				}
			case 1:
				err := tr.Move(id, p)
				if valid && present {
					if err != nil {
						t.Fatal(err)
					}
					o := m[id]
					o.p = p
					m[id] = o
				} else if err == nil {
					t.Fatalf("Move(%d, %v) succeeded", id, p)
				}
			case 2:
				if tr.Remove(id) != present {
					t.Fatalf("Remove(%d) != %v", id, present)
				}
				delete(m, id)
			case 3:
				if valid {
					got := tr.Nearest(nil, 3, math.Inf(1), Euclidean(p), nil)
					want := bruteNearest(m, p, 3, math.Inf(1), nil)
					if len(got) != len(want) {
						t.Fatalf("Nearest len %d, want %d", len(got), len(want))
					}
					for i := range got {
						if got[i].Dist != want[i] {
							t.Fatalf("Nearest[%d] = %v, want %v", i, got[i].Dist, want[i])
						}
					}
				}
			}
			checkInvariants(t, tr, m)
		}
	})
}

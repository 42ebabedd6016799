package quadtree

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// FuzzOperations replays a byte string as a sequence of operations on a
// small tree and its brute-force model, checking the invariants after each.
// Each operation takes 4 bytes: opcode, id, x, y. Coordinates come from a
// coarse grid so duplicates and cell edges (the closed max edge included)
// are common, and some bytes map outside the bounds, to infinity or to
// NaN. The tree marks odd values, so NearestMarked is checked too.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 1, 10, 10, 0, 2, 10, 10, 1, 1, 200, 200, 2, 2, 0, 0})
	f.Add([]byte{0, 1, 255, 255, 0, 2, 254, 0, 1, 2, 128, 128, 3, 0, 128, 128})
	f.Add([]byte{0, 1, 5, 5, 0, 2, 5, 5, 0, 3, 5, 5, 0, 4, 5, 5, 0, 5, 5, 5, 2, 3, 0, 0, 1, 1, 6, 5})
	f.Add([]byte{0, 1, 253, 253, 5, 2, 252, 3, 5, 3, 7, 9, 4, 200, 0, 253, 6, 3, 1, 2, 3, 35, 100, 100, 7, 3, 0, 0, 4, 9, 251, 40})
	f.Fuzz(func(t *testing.T, ops []byte) {
		odd := func(v int) bool { return v%2 == 1 }
		tr, _ := NewMarked[int, int](Rect{0, 0, 200, 200}, Options{LeafSize: 2, MaxDepth: 12}, odd)
		m := model{}
		coord := func(b byte) float64 {
			switch b {
			case 255:
				return math.NaN()
			case 254:
				return 201
			case 252:
				return -1
			case 251:
				return math.Inf(1)
			}
			return float64(b) * 200 / 253
		}
		set := func(id int, p Point, v int) {
			m[id] = struct {
				p Point
				v int
			}{p, v}
		}
		for len(ops) >= 4 {
			op, id, p := ops[0]%8, int(ops[1]%16), Point{coord(ops[2]), coord(ops[3])}
			arg, xb := ops[1], ops[2] // a second coordinate byte, a k, a value
			ops = ops[4:]
			valid := p.X >= 0 && p.Y >= 0 && p.X <= 200 && p.Y <= 200 // false for NaN
			o, present := m[id]
			switch op {
			case 0:
				err := tr.Insert(id, p, int(arg))
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
					set(id, p, int(arg))
				}
			case 1:
				err := tr.Move(id, p)
				if valid && present {
					if err != nil {
						t.Fatal(err)
					}
					set(id, p, o.v)
				} else if err == nil {
					t.Fatalf("Move(%d, %v) succeeded", id, p)
				}
			case 2:
				if tr.Remove(id) != present {
					t.Fatalf("Remove(%d) != %v", id, present)
				}
				delete(m, id)
			case 3:
				// k from -1 to 4, maxDist from the id byte, a filter on
				// the value when the id byte is even.
				k, maxD := int(arg%6)-1, math.Inf(1)
				if arg >= 128 {
					maxD = float64(arg-128) * 300
				}
				var filter func(int, Point, int) bool
				if arg%2 == 0 {
					filter = func(_ int, _ Point, v int) bool { return v%3 != 0 }
				}
				if !valid {
					p = Point{100, 100}
				}
				for _, marked := range []bool{false, true} {
					var got []Neighbor[int, int]
					want := bruteNearest(m, p, k, maxD, filter)
					if marked {
						got = tr.NearestMarked(nil, k, maxD, Euclidean(p), filter)
						want = bruteNearest(m, p, k, maxD, func(id int, q Point, v int) bool {
							return odd(v) && (filter == nil || filter(id, q, v))
						})
					} else {
						got = tr.Nearest(nil, k, maxD, Euclidean(p), filter)
					}
					if len(got) != len(want) {
						t.Fatalf("Nearest(%v, k=%d, max=%v, marked %v) len %d, want %d", p, k, maxD, marked, len(got), len(want))
					}
					for i := range got {
						if got[i].Dist != want[i] || m[got[i].ID].p != got[i].Point {
							t.Fatalf("Nearest[%d] = %+v, want dist %v", i, got[i], want[i])
						}
					}
				}
			case 4:
				// A rectangle from p to a second corner, maybe inverted,
				// outside the bounds or NaN; fn stops after arg%5 objects
				// when that is not zero.
				r := Rect{p.X, p.Y, coord(arg), coord(arg * 7)}
				stop := int(arg % 5)
				var got, want []int
				tr.Range(r, func(id int, q Point, v int) bool {
					if o := m[id]; o.p != q || o.v != v || !r.Contains(q) {
						t.Fatalf("Range(%+v) reported %d %v %v", r, id, q, v)
					}
					got = append(got, id)
					return stop == 0 || len(got) < stop
				})
				for id, o := range m {
					if r.Contains(o.p) {
						want = append(want, id)
					}
				}
				if stop == 0 || len(want) < stop {
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Fatalf("Range(%+v) = %v, want %v", r, got, want)
					}
				} else if len(got) != stop {
					t.Fatalf("Range(%+v) reported %d objects, fn stopped at %d", r, len(got), stop)
				}
			case 5:
				old, had, err := tr.Swap(id, p, int(arg))
				if !valid {
					if err == nil {
						t.Fatalf("Swap(%d, %v) succeeded", id, p)
					}
					break
				}
				if err != nil || had != present || (present && old != o.v) {
					t.Fatalf("Swap(%d) = %v %v %v, model %v %v", id, old, had, err, o.v, present)
				}
				set(id, p, int(arg))
			case 6:
				err := tr.Update(id, int(xb))
				if !present {
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("Update(%d) = %v", id, err)
					}
					break
				}
				set(id, o.p, int(xb))
			case 7:
				// Move to where the object already is.
				if present {
					if err := tr.Move(id, o.p); err != nil {
						t.Fatal(err)
					}
				}
			}
			checkInvariants(t, tr, m)
		}
	})
}

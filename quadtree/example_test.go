package quadtree_test

import (
	"fmt"
	"math"

	"github.com/blueprint-go/blueprint/quadtree"
)

func Example() {
	// A 100 x 100 plane; each object carries a string value.
	tr, err := quadtree.New[string, string](quadtree.Rect{MaxX: 100, MaxY: 100}, quadtree.Options{})
	if err != nil {
		panic(err)
	}
	if err := tr.Insert("a", quadtree.Point{X: 10, Y: 10}, "car"); err != nil {
		panic(err)
	}
	if err := tr.Insert("b", quadtree.Point{X: 20, Y: 15}, "bike"); err != nil {
		panic(err)
	}
	if err := tr.Insert("c", quadtree.Point{X: 90, Y: 90}, "car"); err != nil {
		panic(err)
	}
	if err := tr.Move("c", quadtree.Point{X: 12, Y: 11}); err != nil {
		panic(err)
	}

	// The two nearest cars to (11, 11), with squared planar distances.
	onlyCars := func(_ string, _ quadtree.Point, v string) bool { return v == "car" }
	for _, n := range tr.Nearest(nil, 2, math.Inf(1), quadtree.Euclidean(quadtree.Point{X: 11, Y: 11}), onlyCars) {
		fmt.Println(n.ID, n.Point, n.Dist)
	}

	// A point outside the bounds is refused: this error is the point.
	fmt.Println(tr.Insert("d", quadtree.Point{X: 101, Y: 0}, "car"))
	// Output:
	// c {12 11} 1
	// a {10 10} 2
	// quadtree: point out of bounds: (101, 0)
}

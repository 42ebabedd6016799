package quadtree

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

const benchN = 1_000_000

func benchTree(b *testing.B) (*Tree[int64, struct{}], []Point) {
	r := rand.New(rand.NewPCG(1, 1))
	tr, _ := New[int64, struct{}](unit, Options{})
	pts := make([]Point, benchN)
	for i := range pts {
		pts[i] = Point{r.Float64() * 1000, r.Float64() * 1000}
		_ = tr.Insert(int64(i), pts[i], struct{}{})
	}
	return tr, pts
}

func BenchmarkInsert(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	pts := make([]Point, benchN)
	for i := range pts {
		pts[i] = Point{r.Float64() * 1000, r.Float64() * 1000}
	}
	b.ReportAllocs()
	var tr *Tree[int64, struct{}]
	i := benchN
	for b.Loop() {
		if i == benchN {
			b.StopTimer()
			tr, _ = New[int64, struct{}](unit, Options{})
			i = 0
			b.StartTimer()
		}
		_ = tr.Insert(int64(i), pts[i], struct{}{})
		i++
	}
}

func BenchmarkMove(b *testing.B) {
	tr, _ := benchTree(b)
	r := rand.New(rand.NewPCG(3, 3))
	b.ReportAllocs()
	for b.Loop() {
		_ = tr.Move(r.Int64N(benchN), Point{r.Float64() * 1000, r.Float64() * 1000})
	}
}

func BenchmarkNearest10(b *testing.B) {
	tr, _ := benchTree(b)
	r := rand.New(rand.NewPCG(4, 4))
	buf := make([]Neighbor[int64, struct{}], 0, 10)
	b.ReportAllocs()
	for b.Loop() {
		buf = tr.Nearest(buf, 10, math.Inf(1), Euclidean(Point{r.Float64() * 1000, r.Float64() * 1000}), nil)
	}
}

// BenchmarkMemory reports the heap bytes per object of a tree of 1M objects
// with int64 IDs and no value, including the ID index.
func BenchmarkMemory(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tr, _ := benchTree(b)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/benchN-16, "B/object")
		runtime.KeepAlive(tr)
	}
}

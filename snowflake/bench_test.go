package snowflake_test

import (
	"encoding/json"
	"testing"

	"github.com/blueprint-go/blueprint/snowflake"
)

// wideLayout has a 20-bit sequence (2^20 IDs per millisecond), so a generator
// never reaches its cap and the benchmarks measure the cost of a call.
func wideLayout() snowflake.Layout {
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 2, 20
	return l
}

func newBenchGenerator(b *testing.B, l snowflake.Layout) *snowflake.Generator {
	b.Helper()
	g, err := snowflake.NewGenerator(1, snowflake.Options{Layout: l})
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkNext measures one goroutine's Next: "cap" on the default layout,
// where 4096 IDs per millisecond bound it at 244 ns/ID, and "wide" on a
// layout whose sequence never runs out.
func BenchmarkNext(b *testing.B) {
	for _, c := range []struct {
		name   string
		layout snowflake.Layout
	}{{"cap", snowflake.DefaultLayout()}, {"wide", wideLayout()}} {
		b.Run(c.name, func(b *testing.B) {
			g := newBenchGenerator(b, c.layout)
			b.ReportAllocs()
			var last snowflake.ID
			for b.Loop() {
				id, err := g.Next()
				if err != nil || id <= last {
					b.Fatalf("Next = %v, %v after %v", id, err, last)
				}
				last = id
			}
		})
	}
}

// BenchmarkNextParallel is BenchmarkNext with b.RunParallel: all goroutines
// share one generator. Run it with -cpu 1,2,8.
func BenchmarkNextParallel(b *testing.B) {
	for _, c := range []struct {
		name   string
		layout snowflake.Layout
	}{{"cap", snowflake.DefaultLayout()}, {"wide", wideLayout()}} {
		b.Run(c.name, func(b *testing.B) {
			g := newBenchGenerator(b, c.layout)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := g.Next(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkNextN measures the batch form per ID, in batches of 64.
func BenchmarkNextN(b *testing.B) {
	g := newBenchGenerator(b, wideLayout())
	dst := make([]snowflake.ID, 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := g.NextN(dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(dst)), "ns/ID")
}

const benchID snowflake.ID = 1234567890123456789

func BenchmarkString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = benchID.String()
	}
}

func BenchmarkAppendText(b *testing.B) {
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = benchID.AppendText(buf[:0])
	}
}

func BenchmarkParse(b *testing.B) {
	s := benchID.String()
	b.ReportAllocs()
	for b.Loop() {
		if id, err := snowflake.Parse(s); err != nil || id != benchID {
			b.Fatal(id, err)
		}
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := benchID.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = benchID.AppendJSON(buf[:0])
	}
}

func BenchmarkUnmarshalJSON(b *testing.B) {
	data, _ := json.Marshal(benchID)
	b.ReportAllocs()
	for b.Loop() {
		var id snowflake.ID
		if err := id.UnmarshalJSON(data); err != nil || id != benchID {
			b.Fatal(id, err)
		}
	}
}

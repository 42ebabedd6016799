package benchmarks

import (
	"testing"
	"time"

	bwmarrin "github.com/bwmarrin/snowflake"
	"github.com/sony/sonyflake"

	"github.com/blueprint-go/blueprint/snowflake"
)

// The snowflake workloads compare blueprint's snowflake.Generator with
// github.com/bwmarrin/snowflake (mutex, monotonic clock, busy-waits at the
// cap) and github.com/sony/sonyflake (mutex, wall clock, 10 ms ticks with
// 256 IDs each, so its cap is 39 µs per ID: it is measured at its own cap).
//
//	go test -run '^$' -bench 'BenchmarkSnowflake' -benchmem -cpu 1,2,8

func newBlueprint(b *testing.B, l snowflake.Layout) *snowflake.Generator {
	b.Helper()
	g, err := snowflake.NewGenerator(1, snowflake.Options{Layout: l})
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func newBwmarrin(b *testing.B) *bwmarrin.Node {
	b.Helper()
	n, err := bwmarrin.NewNode(1)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// newBwmarrinWide returns a bwmarrin node with a 2-bit node and 20-bit
// sequence field. bwmarrin configures layouts through package variables,
// which NewNode copies into the node and also uses to recompute the masks
// that ID.Node and friends read; so the variables are restored at once and
// a throwaway NewNode recomputes the masks for the default layout.
func newBwmarrinWide(b *testing.B) *bwmarrin.Node {
	b.Helper()
	nodeBits, stepBits := bwmarrin.NodeBits, bwmarrin.StepBits
	bwmarrin.NodeBits, bwmarrin.StepBits = 2, 20
	n := newBwmarrin(b)
	bwmarrin.NodeBits, bwmarrin.StepBits = nodeBits, stepBits
	newBwmarrin(b)
	return n
}

func newSonyflake(b *testing.B) *sonyflake.Sonyflake {
	b.Helper()
	sf, err := sonyflake.New(sonyflake.Settings{
		StartTime: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
		MachineID: func() (uint16, error) { return 1, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	return sf
}

// wideLayout is a 41/2/20 layout: 2^20 IDs per millisecond, a cap no
// generator reaches, so the benchmark measures the cost of a call.
func wideLayout() snowflake.Layout {
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 2, 20
	return l
}

// BenchmarkSnowflakeNext: one goroutine takes IDs as fast as it can from a
// default-layout generator (41/10/12, 1 ms), so it runs at the cap of 4096
// per millisecond: 244 ns/ID. sonyflake runs at its own cap, 39 µs/ID.
func BenchmarkSnowflakeNext(b *testing.B) {
	b.Run("blueprint", func(b *testing.B) {
		g := newBlueprint(b, snowflake.DefaultLayout())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.Next(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bwmarrin", func(b *testing.B) {
		n := newBwmarrin(b)
		b.ReportAllocs()
		for b.Loop() {
			n.Generate()
		}
	})
	b.Run("sonyflake", func(b *testing.B) {
		sf := newSonyflake(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sf.NextID(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSnowflakeNextParallel is BenchmarkSnowflakeNext with every
// goroutine of b.RunParallel sharing one generator; run it with -cpu 1,2,8.
func BenchmarkSnowflakeNextParallel(b *testing.B) {
	benchParallelPair(b, snowflake.DefaultLayout(), newBwmarrin)
	b.Run("sonyflake", func(b *testing.B) {
		sf := newSonyflake(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := sf.NextID(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSnowflakeNextWide measures the cost of a call below the cap, on a
// 41/2/20 layout. sonyflake's layout is fixed, so it cannot take part.
func BenchmarkSnowflakeNextWide(b *testing.B) {
	b.Run("blueprint", func(b *testing.B) {
		g := newBlueprint(b, wideLayout())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.Next(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bwmarrin", func(b *testing.B) {
		n := newBwmarrinWide(b)
		b.ReportAllocs()
		for b.Loop() {
			n.Generate()
		}
	})
}

// BenchmarkSnowflakeNextWideParallel is BenchmarkSnowflakeNextWide under
// b.RunParallel, all goroutines sharing one generator.
func BenchmarkSnowflakeNextWideParallel(b *testing.B) {
	benchParallelPair(b, wideLayout(), newBwmarrinWide)
}

// benchParallelPair runs the "blueprint" and "bwmarrin" sub-benchmarks of a
// parallel workload: every goroutine of b.RunParallel takes IDs from one
// shared generator, ours on layout l and bwmarrin's from newBw.
func benchParallelPair(b *testing.B, l snowflake.Layout, newBw func(*testing.B) *bwmarrin.Node) {
	b.Run("blueprint", func(b *testing.B) {
		g := newBlueprint(b, l)
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
	b.Run("bwmarrin", func(b *testing.B) {
		n := newBw(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n.Generate()
			}
		})
	})
}

const benchIDValue = 683282320588828673

// BenchmarkSnowflakeString formats an ID as decimal. (The allocation-free
// AppendText and AppendJSON have no peer; snowflake/bench_test.go measures
// them.)
func BenchmarkSnowflakeString(b *testing.B) {
	b.Run("blueprint", func(b *testing.B) {
		id := snowflake.ID(benchIDValue)
		b.ReportAllocs()
		for b.Loop() {
			_ = id.String()
		}
	})
	b.Run("bwmarrin", func(b *testing.B) {
		id := bwmarrin.ID(benchIDValue)
		b.ReportAllocs()
		for b.Loop() {
			_ = id.String()
		}
	})
}

// BenchmarkSnowflakeParse parses a decimal ID (bwmarrin: strconv.ParseInt,
// which also accepts signs and leading zeros).
func BenchmarkSnowflakeParse(b *testing.B) {
	const s = "683282320588828673"
	b.Run("blueprint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := snowflake.Parse(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bwmarrin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bwmarrin.ParseString(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSnowflakeMarshalJSON encodes an ID as a JSON string.
func BenchmarkSnowflakeMarshalJSON(b *testing.B) {
	b.Run("blueprint", func(b *testing.B) {
		id := snowflake.ID(benchIDValue)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := id.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bwmarrin", func(b *testing.B) {
		id := bwmarrin.ID(benchIDValue)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := id.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSnowflakeUnmarshalJSON decodes an ID from a JSON string.
func BenchmarkSnowflakeUnmarshalJSON(b *testing.B) {
	data := []byte(`"683282320588828673"`)
	b.Run("blueprint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var id snowflake.ID
			if err := id.UnmarshalJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bwmarrin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var id bwmarrin.ID
			if err := id.UnmarshalJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSnowflakeDecompose splits an ID into time, node and sequence.
func BenchmarkSnowflakeDecompose(b *testing.B) {
	b.Run("blueprint", func(b *testing.B) {
		l := snowflake.DefaultLayout()
		id := snowflake.ID(benchIDValue)
		b.ReportAllocs()
		for b.Loop() {
			p := l.Decompose(id)
			if p.Node != 7 {
				b.Fatal(p)
			}
		}
	})
	b.Run("bwmarrin", func(b *testing.B) {
		id := bwmarrin.ID(benchIDValue)
		b.ReportAllocs()
		for b.Loop() {
			if id.Time() == 0 || id.Node() != 7 || id.Step() != 1 {
				b.Fatal(id)
			}
		}
	})
	b.Run("sonyflake", func(b *testing.B) {
		const id = uint64(benchIDValue)
		b.ReportAllocs()
		for b.Loop() {
			if m := sonyflake.Decompose(id); m["id"] != id {
				b.Fatal(m)
			}
		}
	})
}

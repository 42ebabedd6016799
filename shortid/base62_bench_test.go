package shortid_test

import (
	"math"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// The comparison with github.com/jxskiss/base62 on mixed lengths lives in
// the benchmarks module; these measure our codec by code length.

func BenchmarkAppendEncode(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    uint64
	}{{"len=1", 42}, {"len=7", 3_000_000_000_000}, {"len=11", math.MaxUint64}} {
		b.Run(tc.name, func(b *testing.B) {
			buf := make([]byte, 0, 16)
			b.ReportAllocs()
			for b.Loop() {
				buf = shortid.AppendEncode(buf[:0], tc.n)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, tc := range []struct{ name, code string }{{"len=1", "G"}, {"len=7", "ZZZZZZZ"}, {"len=11", "lYGhA16ahyf"}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := shortid.Decode(tc.code); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

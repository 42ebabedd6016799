package benchmarks

import (
	"math/bits"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
	"github.com/jxskiss/base62"
)

// base62Inputs returns 1024 numbers whose base-62 lengths are spread evenly
// over 1 to 11 digits, from a fixed SplitMix64 stream so every run and
// every implementation sees the same inputs.
func base62Inputs() []uint64 {
	out := make([]uint64, 1024)
	state := uint64(0x9e3779b97f4a7c15)
	for i := range out {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
		digits := i%11 + 1
		// Keep about 5.95 bits per digit, then force the top digit non-zero.
		keep := min(64, digits*6-1)
		v := z >> (64 - keep)
		if bits.Len64(v) < keep {
			v |= 1 << (keep - 1)
		}
		out[i] = v
	}
	return out
}

// BenchmarkBase62Encode appends the base-62 code of a number to a reused
// buffer.
func BenchmarkBase62Encode(b *testing.B) {
	in := base62Inputs()
	b.Run("blueprint", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 16)
		i := 0
		for b.Loop() {
			buf = shortid.AppendEncode(buf[:0], in[i&1023])
			i++
		}
	})
	b.Run("jxskiss", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 16)
		i := 0
		for b.Loop() {
			buf = base62.AppendUint(buf[:0], in[i&1023])
			i++
		}
	})
}

// BenchmarkBase62Decode decodes the codes of the same numbers. jxskiss takes
// []byte and we take string, so each gets its own form, prepared in advance.
// jxskiss checks neither overflow nor leading zeros; blueprint checks both.
func BenchmarkBase62Decode(b *testing.B) {
	in := base62Inputs()
	ours := make([]string, len(in))
	theirs := make([][]byte, len(in))
	for i, n := range in {
		ours[i] = shortid.Encode(n)
		theirs[i] = base62.FormatUint(n)
	}
	b.Run("blueprint", func(b *testing.B) {
		b.ReportAllocs()
		var sum uint64
		i := 0
		for b.Loop() {
			n, err := shortid.Decode(ours[i&1023])
			if err != nil {
				b.Fatal(err)
			}
			sum += n
			i++
		}
		_ = sum
	})
	b.Run("jxskiss", func(b *testing.B) {
		b.ReportAllocs()
		var sum uint64
		i := 0
		for b.Loop() {
			n, err := base62.ParseUint(theirs[i&1023])
			if err != nil {
				b.Fatal(err)
			}
			sum += n
			i++
		}
		_ = sum
	})
}

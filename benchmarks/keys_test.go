package benchmarks

import (
	"context"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
	"github.com/bwmarrin/snowflake"
	"github.com/jxskiss/base62"
)

// BenchmarkSequenceKey hands out one unique short code per call, into a
// reused buffer.
//
//   - blueprint: shortid.Sequence, a 7-character code from an in-memory
//     counter through the keyed 8-round Feistel permutation (unguessable).
//   - bwmarrin: what one reaches for without it: a bwmarrin/snowflake ID
//     written in base 62 by jxskiss/base62. Unique too, but 11 characters,
//     capped at 4096 codes per millisecond per node, and guessable: the
//     next code is the previous one plus a small step.
func BenchmarkSequenceKey(b *testing.B) {
	b.Run("blueprint", func(b *testing.B) {
		seq, err := shortid.NewSequence(new(shortid.MemCounter), shortid.SequenceOptions{
			Keys: []shortid.Key{{Version: 1, Secret: []byte("benchmark secret, 32 bytes long.")}},
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		buf := make([]byte, 0, 16)
		b.ReportAllocs()
		for b.Loop() {
			buf, err = seq.AppendKey(ctx, buf[:0])
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bwmarrin", func(b *testing.B) {
		node, err := snowflake.NewNode(1)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 0, 16)
		b.ReportAllocs()
		for b.Loop() {
			buf = base62.AppendUint(buf[:0], uint64(node.Generate().Int64()))
		}
	})
}

// BenchmarkRandomKey draws one uniformly random 7-character base-62 code
// per call from crypto/rand, rejection-sampled, into a reused buffer. No
// peer offers this; it is here so the README can set it beside the
// Sequence.
func BenchmarkRandomKey(b *testing.B) {
	b.Run("blueprint", func(b *testing.B) {
		r, err := shortid.NewRandom(shortid.RandomOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		buf := make([]byte, 0, 16)
		b.ReportAllocs()
		for b.Loop() {
			buf, err = r.AppendKey(ctx, buf[:0])
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

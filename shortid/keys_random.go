package shortid

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
)

// RandomOptions configures [NewRandom]. The zero value means 7-character
// base-62 codes drawn from crypto/rand.
type RandomOptions struct {
	// Length is the number of characters of every code (default 7), from 2
	// to 64.
	Length int
	// Alphabet is the codes' alphabet (default Base62Alphabet); it must
	// satisfy NewCodec.
	Alphabet string
	// Rand is the source of randomness (default crypto/rand.Reader). Never
	// pass math/rand: its output is predictable from a few codes.
	Rand io.Reader
}

// randomBuf is the number of random bytes Random reads at a time: one read
// serves about 70 seven-character codes.
const randomBuf = 512

// Random is a [KeySource] of uniformly random fixed-length codes, for
// callers who prefer no counter at all. Codes are not collision-free: with
// n links among base^Length codes a new code clashes with probability
// n/base^Length (5·10^-2 for 180 billion links at length 7, 8·10^-4 at
// length 8), and the service's atomic create retries with a fresh code.
//
// Each character is one byte of randomness, rejection-sampled so that every
// character is exactly equally likely: a byte is used only below the
// largest multiple of the base that fits in 256 (248 for base 62, so 3% of
// bytes are skipped), never reduced with a biased modulo. Bytes are read
// from Rand 512 at a time into a spare buffer, outside the lock that guards
// the current one, so Rand may block without stalling callers that still
// have bytes to take. Build a Random with [NewRandom]; the zero Random is
// not usable. A Random is safe for concurrent use.
type Random struct {
	length   int
	alphabet string
	table    [256]byte // random byte -> character, 0 for a rejected byte
	rand     io.Reader
	refill   chan struct{} // one-slot semaphore held while reading into spare

	mu    sync.Mutex
	buf   []byte // unused random bytes: a suffix of cur
	cur   *[randomBuf]byte
	spare *[randomBuf]byte // written only by the holder of refill
}

var _ KeySource = (*Random)(nil)

// NewRandom returns a Random, or an error matching ErrInvalidLength or
// ErrInvalidAlphabet for bad options.
func NewRandom(opts RandomOptions) (*Random, error) {
	codec, err := NewCodec(cmp.Or(opts.Alphabet, Base62Alphabet))
	if err != nil {
		return nil, err
	}
	length := cmp.Or(opts.Length, DefaultLength)
	if length < 2 || length > 64 {
		return nil, fmt.Errorf("%w: %d characters, want 2 to 64", ErrInvalidLength, length)
	}
	r := &Random{
		length:   length,
		alphabet: codec.alphabet,
		rand:     cmp.Or[io.Reader](opts.Rand, rand.Reader),
		refill:   make(chan struct{}, 1),
		cur:      new([randomBuf]byte),
		spare:    new([randomBuf]byte),
	}
	base := int(codec.base)
	limit := 256 - 256%base
	for v := range limit {
		// Alphabet bytes are printable ASCII, never 0.
		r.table[v] = codec.alphabet[v%base]
	}
	return r, nil
}

// Length returns the number of characters of every code.
func (r *Random) Length() int { return r.length }

// AppendKey appends a fresh random code to dst. It returns ctx.Err() if ctx
// ends while it waits for another caller's read of Rand, and Rand's error if
// Rand fails; on error it returns dst unchanged.
func (r *Random) AppendKey(ctx context.Context, dst []byte) ([]byte, error) {
	n := len(dst)
	r.mu.Lock()
	for len(dst)-n < r.length {
		if len(r.buf) == 0 {
			r.mu.Unlock()
			if err := r.fill(ctx); err != nil {
				return dst[:n], err
			}
			r.mu.Lock()
			continue
		}
		c := r.table[r.buf[0]]
		r.buf = r.buf[1:]
		if c != 0 {
			dst = append(dst, c)
		}
	}
	r.mu.Unlock()
	return dst, nil
}

// fill reads a block of randomness into the spare buffer and makes it
// current, unless another caller has refilled the buffer meanwhile. Rand is
// called without r.mu held.
func (r *Random) fill(ctx context.Context) error {
	select {
	case r.refill <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.refill }()
	r.mu.Lock()
	empty := len(r.buf) == 0
	r.mu.Unlock()
	if !empty {
		return nil
	}
	if _, err := io.ReadFull(r.rand, r.spare[:]); err != nil {
		return fmt.Errorf("shortid: reading randomness: %w", err)
	}
	r.mu.Lock()
	r.cur, r.spare = r.spare, r.cur
	r.buf = r.cur[:]
	r.mu.Unlock()
	return nil
}

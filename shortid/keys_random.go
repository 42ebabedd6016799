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
// n/base^Length (1.7·10^-3 for 6 billion links at length 7), and the
// service's atomic create retries with a fresh code.
//
// Each character is one byte of randomness, rejection-sampled so that every
// character is exactly equally likely: a byte is used only below the
// largest multiple of the base that fits in 256 (248 for base 62, so 3% of
// bytes are skipped), never reduced with a biased modulo. Bytes are read
// from Rand in blocks of 512 under a mutex. Build a Random with
// [NewRandom]; the zero Random is not usable. A Random is safe for
// concurrent use.
type Random struct {
	length int
	table  [256]byte // random byte -> character, 0 for a rejected byte
	rand   io.Reader

	mu  sync.Mutex
	buf [randomBuf]byte
	pos int // next unused byte of buf
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
		length: length,
		rand:   cmp.Or[io.Reader](opts.Rand, rand.Reader),
		pos:    randomBuf,
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

// AppendKey appends a fresh random code to dst. It fails only if Rand does,
// returning the error and dst unchanged; ctx is not consulted, since drawing
// from a buffer does not block.
func (r *Random) AppendKey(_ context.Context, dst []byte) ([]byte, error) {
	n := len(dst)
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(dst)-n < r.length {
		if r.pos == len(r.buf) {
			if _, err := io.ReadFull(r.rand, r.buf[:]); err != nil {
				return dst[:n], fmt.Errorf("shortid: reading randomness: %w", err)
			}
			r.pos = 0
		}
		c := r.table[r.buf[r.pos]]
		r.pos++
		if c != 0 {
			dst = append(dst, c)
		}
	}
	return dst, nil
}

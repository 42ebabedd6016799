package shortid

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
)

// A KeySource hands out candidate keys for new links. A candidate may still
// be taken (by an alias, by an earlier random draw, or by a code of a rotated
// key): the service's atomic create decides, and on a clash asks for another
// candidate. Implementations must be safe for concurrent use.
type KeySource interface {
	// AppendKey appends one candidate key to dst and returns the extended
	// buffer. On error it returns dst unchanged.
	AppendKey(ctx context.Context, dst []byte) ([]byte, error)
}

// Errors of the key generators' options and of [Sequence.Reverse].
var (
	// ErrInvalidLength reports a code length below 2 or one whose code
	// space does not fit in a uint64.
	ErrInvalidLength = errors.New("shortid: invalid code length")
	// ErrInvalidKey reports a bad key ring: a secret shorter than
	// MinSecretLen, or two keys with the same Version or the same Since.
	ErrInvalidKey = errors.New("shortid: invalid key")
	// ErrForeignCode reports a code that no key of the ring maps into its
	// own counter range: it was not issued by this configuration.
	ErrForeignCode = errors.New("shortid: code not issued by this key ring")
)

const (
	// DefaultLength is the code length of the generators when their options
	// leave Length zero: 62^7 ≈ 3.5 trillion codes, 19 times the 180
	// billion links of five years at 100 million links a day (choose 8 for
	// 1,200 times).
	DefaultLength = 7
	// DefaultBlock is the number of counter values a Sequence leases at a
	// time when SequenceOptions.Block is zero.
	DefaultBlock = 1024
	// MinSecretLen is the shortest Key.Secret accepted: 128 bits.
	MinSecretLen = 16
)

// A Key is one version of the secret behind a [Sequence]. Rotating the secret
// means adding a newer Key whose Since lies beyond every counter value
// handed out so far; the older keys stay in the ring so that their codes
// still reverse.
type Key struct {
	// Version names the key; it is what Reverse reports. Distinct across
	// the ring.
	Version uint32
	// Since is the first counter value encoded with this key: a key owns
	// the counter values from its Since up to the next key's Since. The
	// oldest key also owns every value below its Since.
	Since uint64
	// Secret is at least MinSecretLen bytes from a cryptographic source.
	// The permutation's key is derived from it with HKDF-SHA256 (RFC 5869),
	// bound to the alphabet and the code length, so one secret gives
	// unrelated codes at different lengths. NewSequence keeps only the
	// derived key, not Secret.
	Secret []byte
}

// SequenceOptions configures [NewSequence]. The zero value means 7-character
// base-62 codes, blocks of 1024 counter values and a fresh random key.
type SequenceOptions struct {
	// Length is the number of characters of every code (default 7). The
	// code space Alphabet^Length must fit in a uint64.
	Length int
	// Alphabet is the codes' alphabet (default Base62Alphabet); it must
	// satisfy NewCodec.
	Alphabet string
	// Keys is the key ring, in any order. If it is empty, NewSequence draws
	// one 32-byte secret from Rand: codes are then unique and unguessable
	// but reverse only within this process, and a restart with a new key
	// relies on the service's atomic create to refuse the rare code that
	// clashes with one issued under the old key.
	Keys []Key
	// Block is the number of counter values leased per Counter round trip
	// (default 1024). Values leased but unused when the process stops are
	// skipped, never reissued.
	Block uint64
	// Rand is the source of the ephemeral key when Keys is empty (default
	// crypto/rand.Reader).
	Rand io.Reader
}

// A Sequence turns counter values into fixed-length codes that are unique
// yet not guessable: the code of counter value c is the Length-digit
// representation of P(c), where P is a keyed pseudo-random permutation of
// [0, base^Length) (an 8-round Feistel network with a SipHash-2-4 round
// function; see the package documentation). Distinct counter values give
// distinct codes by construction, and consecutive ones give unrelated codes.
// [Sequence.Reverse] recovers the counter value with the key.
//
// Build a Sequence with [NewSequence]; the zero Sequence is not usable. A
// Sequence is safe for concurrent use. It leases counter values from its
// [Counter] a block at a time and hands them out with one atomic add; when
// a block runs out, one caller leases the next while the others wait for it
// (or for their context to end).
type Sequence struct {
	counter Counter
	block   uint64
	length  int
	codec   *Codec
	perm    feistel
	u       int    // digits of the first half
	size    uint64 // base^length: the number of codes
	keys    []ringKey

	cur    atomic.Pointer[lease]
	refill chan struct{} // a one-slot semaphore that respects ctx
}

var _ KeySource = (*Sequence)(nil)

// ringKey is a Key ready for use.
type ringKey struct {
	version uint32
	since   uint64
	sip     sipKey
}

// lease is a block [next, end) of counter values being handed out.
type lease struct {
	next atomic.Uint64
	end  uint64
}

// NewSequence returns a Sequence that numbers codes with counter c. It panics
// if c is nil, and returns an error matching ErrInvalidLength,
// ErrInvalidAlphabet or ErrInvalidKey for bad options.
func NewSequence(c Counter, opts SequenceOptions) (*Sequence, error) {
	if c == nil {
		panic("shortid: NewSequence with nil Counter")
	}
	alphabet := cmp.Or(opts.Alphabet, Base62Alphabet)
	codec, err := NewCodec(alphabet)
	if err != nil {
		return nil, err
	}
	length := opts.Length
	if length == 0 {
		length = DefaultLength
	}
	size, ok := pow(codec.base, length)
	if length < 2 || !ok {
		return nil, fmt.Errorf("%w: %d characters of a %d-letter alphabet", ErrInvalidLength, length, codec.base)
	}
	u := length / 2
	a, _ := pow(codec.base, u)
	b, _ := pow(codec.base, length-u)
	// The round function reads a half as 40 bits: b ≤ base·√size < 94·2^32.
	s := &Sequence{
		counter: c,
		block:   opts.Block,
		length:  length,
		codec:   codec,
		perm:    feistel{a: a, b: b},
		u:       u,
		size:    size,
		refill:  make(chan struct{}, 1),
	}
	if s.block == 0 {
		s.block = DefaultBlock
	}
	keys := opts.Keys
	if len(keys) == 0 {
		secret := make([]byte, 32)
		if _, err := io.ReadFull(cmp.Or[io.Reader](opts.Rand, rand.Reader), secret); err != nil {
			return nil, fmt.Errorf("shortid: drawing a sequence key: %w", err)
		}
		keys = []Key{{Secret: secret}}
	}
	s.keys, err = expandKeys(keys, alphabet, length)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// expandKeys validates the ring, sorts it by Since and derives each key's
// SipHash key.
func expandKeys(keys []Key, alphabet string, length int) ([]ringKey, error) {
	ring := make([]ringKey, 0, len(keys))
	info := fmt.Sprintf("blueprint shortid sequence v1, length %d, alphabet %q", length, alphabet)
	for i, k := range keys {
		if len(k.Secret) < MinSecretLen {
			return nil, fmt.Errorf("%w: version %d has a %d-byte secret, want at least %d", ErrInvalidKey, k.Version, len(k.Secret), MinSecretLen)
		}
		for _, prev := range keys[:i] {
			if prev.Version == k.Version {
				return nil, fmt.Errorf("%w: version %d appears twice", ErrInvalidKey, k.Version)
			}
			if prev.Since == k.Since {
				return nil, fmt.Errorf("%w: versions %d and %d both start at %d", ErrInvalidKey, prev.Version, k.Version, k.Since)
			}
		}
		sk, err := hkdf.Key(sha256.New, k.Secret, nil, info, 16)
		if err != nil {
			return nil, fmt.Errorf("shortid: deriving key %d: %w", k.Version, err)
		}
		ring = append(ring, ringKey{
			version: k.Version,
			since:   k.Since,
			sip:     newSipKey(binary.LittleEndian.Uint64(sk), binary.LittleEndian.Uint64(sk[8:])),
		})
	}
	slices.SortFunc(ring, func(x, y ringKey) int {
		switch {
		case x.since < y.since:
			return -1
		case x.since > y.since:
			return 1
		}
		return 0
	})
	return ring, nil
}

// Length returns the number of characters of every code.
func (s *Sequence) Length() int { return s.length }

// Size returns the number of distinct codes, Alphabet^Length: the counter
// values that can be encoded are [0, Size).
func (s *Sequence) Size() uint64 { return s.size }

// AppendKey takes the next counter value and appends its code to dst. It
// costs one atomic add and the permutation, plus a Counter.Lease once per
// block. It returns an error matching ErrExhausted when the counter passes
// Size, ctx.Err() if ctx ends while it waits for a lease, or the Counter's
// error; on error dst is returned unchanged.
func (s *Sequence) AppendKey(ctx context.Context, dst []byte) ([]byte, error) {
	for {
		l := s.cur.Load()
		if l != nil {
			if c := l.next.Add(1) - 1; c < l.end {
				return s.AppendCode(dst, c)
			}
		}
		if err := s.renew(ctx, l); err != nil {
			return dst, err
		}
	}
}

// renew replaces the exhausted lease old with a fresh block, unless another
// caller already has.
func (s *Sequence) renew(ctx context.Context, old *lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.refill <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.refill }()
	if s.cur.Load() != old {
		return nil
	}
	first, err := s.counter.Lease(ctx, s.block)
	if err != nil {
		return fmt.Errorf("shortid: leasing counter values: %w", err)
	}
	if first >= s.size {
		return fmt.Errorf("%w: counter value %d is past the %d codes of length %d", ErrExhausted, first, s.size, s.length)
	}
	l := &lease{end: s.size}
	if s.block < s.size-first {
		l.end = first + s.block
	}
	l.next.Store(first)
	s.cur.Store(l)
	return nil
}

// AppendCode appends the code of counter value c to dst, using the key that
// owns c. It is the pure function behind AppendKey, for callers that manage
// their own counter values; it never allocates when dst has room. It returns
// an error matching ErrExhausted, and dst unchanged, if c ≥ Size.
func (s *Sequence) AppendCode(dst []byte, c uint64) ([]byte, error) {
	if c >= s.size {
		return dst, fmt.Errorf("%w: counter value %d is past the %d codes of length %d", ErrExhausted, c, s.size, s.length)
	}
	k := &s.keys[0]
	for i := len(s.keys) - 1; i > 0; i-- {
		if c >= s.keys[i].since {
			k = &s.keys[i]
			break
		}
	}
	A, B := s.perm.encrypt(&k.sip, c/s.perm.b, c%s.perm.b)
	n := len(dst)
	dst = slices.Grow(dst, s.length)[:n+s.length]
	s.putDigits(dst[n:n+s.u], A)
	s.putDigits(dst[n+s.u:], B)
	return dst, nil
}

// putDigits writes x into b as exactly len(b) digits, most significant
// first.
func (s *Sequence) putDigits(b []byte, x uint64) {
	alphabet := s.codec.alphabet
	if s.codec.base == 62 {
		// Halves are below 62^5 < 2^32: 32-bit constant division.
		_ = alphabet[61]
		y := uint32(x)
		for i := len(b) - 1; i >= 0; i-- {
			q := y / 62
			b[i] = alphabet[y-q*62]
			y = q
		}
		return
	}
	base := s.codec.base
	for i := len(b) - 1; i >= 0; i-- {
		q := x / base
		b[i] = alphabet[x-q*base]
		x = q
	}
}

// Reverse returns the counter value that code encodes and the version of the
// key that owns it. It returns an error matching ErrInvalidCode for a code of
// the wrong length ([ErrCodeLength]) or with a byte outside the alphabet, and
// [ErrForeignCode] when no key of the ring maps code into its own range.
//
// With one key the answer is exact. After a rotation a code decrypts under
// every key; Reverse returns the oldest key whose range holds the result.
// That is the issuing key except when an older key's decryption lands in its
// own range by chance, with probability (counter values owned by older
// keys) / Size: 3·10^-4 after a billion 7-character codes. Reverse does not
// tell whether a code was ever handed out: every well-formed code decrypts to
// some counter value; the store knows which exist.
func (s *Sequence) Reverse(code string) (counter uint64, version uint32, err error) {
	if len(code) != s.length {
		return 0, 0, ErrCodeLength
	}
	A, ok := s.readDigits(code[:s.u])
	B, ok2 := s.readDigits(code[s.u:])
	if !ok || !ok2 {
		return 0, 0, ErrInvalidChar
	}
	for i := range s.keys {
		k := &s.keys[i]
		x, y := s.perm.decrypt(&k.sip, A, B)
		c := x*s.perm.b + y
		if (i == 0 || c >= k.since) && (i == len(s.keys)-1 || c < s.keys[i+1].since) {
			return c, k.version, nil
		}
	}
	return 0, 0, ErrForeignCode
}

// readDigits reads a fixed-width number; false if a byte is not a digit.
func (s *Sequence) readDigits(code string) (uint64, bool) {
	var x uint64
	for i := 0; i < len(code); i++ {
		d := s.codec.index[code[i]]
		if d == noDigit {
			return 0, false
		}
		x = x*s.codec.base + uint64(d)
	}
	return x, true
}

// pow returns base^k and whether it fits in a uint64.
func pow(base uint64, k int) (uint64, bool) {
	r := uint64(1)
	for range k {
		hi, lo := bits.Mul64(r, base)
		if hi != 0 {
			return math.MaxUint64, false
		}
		r = lo
	}
	return r, true
}

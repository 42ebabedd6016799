package shortid

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Base62Alphabet is the alphabet of [Encode] and [Decode]: the ten digits,
// then the lower-case letters, then the upper-case letters, so 0 encodes as
// "0", 61 as "Z" and 62 as "10".
const Base62Alphabet = "0123456789abcdefghijklmnopqrstuvwxyz" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// base62Index maps a byte to its digit value in Base62Alphabet, or to 0xff
// for a byte outside it. It is a constant so that the package functions need
// no table built at run time.
const base62Index = "" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\xff\xff\xff\xff\xff\xff" +
	"\xff\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32" +
	"\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\xff\xff\xff\xff\xff" +
	"\xff\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18" +
	"\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

const (
	// pow62x5 is 62^5, the largest power of 62 below 2^32: numbers are cut
	// into 5-digit chunks so that each chunk is converted with 32-bit
	// arithmetic.
	pow62x5 = 62 * 62 * 62 * 62 * 62
	// maxLen62 is the length of the longest base-62 uint64, Encode(MaxUint64).
	maxLen62 = 11
	// noDigit marks a byte outside the alphabet in an index table.
	noDigit = 0xff
)

// ErrInvalidCode is the error, tested with errors.Is, of every code that does
// not decode: the more specific errors below all match it.
var ErrInvalidCode = errors.New("shortid: invalid code")

// Specific reasons a code does not decode. Each wraps [ErrInvalidCode].
var (
	// ErrEmptyCode reports an empty code.
	ErrEmptyCode = fmt.Errorf("%w: empty", ErrInvalidCode)
	// ErrInvalidChar reports a byte outside the codec's alphabet.
	ErrInvalidChar = fmt.Errorf("%w: character outside the alphabet", ErrInvalidCode)
	// ErrLeadingZero reports a non-canonical code: a longer code that starts
	// with the alphabet's zero digit. Only the zero digit alone encodes 0, so
	// every number has exactly one code.
	ErrLeadingZero = fmt.Errorf("%w: leading zero", ErrInvalidCode)
	// ErrOverflow reports a code whose value does not fit in a uint64.
	ErrOverflow = fmt.Errorf("%w: value overflows uint64", ErrInvalidCode)
	// ErrCodeLength reports a code of the wrong length for a fixed-length
	// generator such as [Sequence].
	ErrCodeLength = fmt.Errorf("%w: wrong length", ErrInvalidCode)
)

// ErrInvalidAlphabet is returned by [NewCodec] and the generators' constructors
// for an alphabet that is too short, repeats a character, or holds a byte
// outside printable ASCII.
var ErrInvalidAlphabet = errors.New("shortid: invalid alphabet")

// Encode returns the canonical base-62 code of n in [Base62Alphabet]: the
// shortest one, without leading zeros. It costs one multiply-shift per digit
// (at most 11) and, beyond the returned string, no allocation.
func Encode(n uint64) string {
	var buf [maxLen62]byte
	return string(appendBase62(buf[:0], n, Base62Alphabet))
}

// AppendEncode appends the canonical base-62 code of n to dst and returns the
// extended buffer. It does not allocate when dst has room for 11 more bytes.
func AppendEncode(dst []byte, n uint64) []byte {
	return appendBase62(dst, n, Base62Alphabet)
}

// Decode returns the number whose canonical base-62 code is s. It is strict,
// so that each number has exactly one code: it rejects an empty s
// ([ErrEmptyCode]), any byte outside [Base62Alphabet] ([ErrInvalidChar]), a
// leading "0" in a longer code ([ErrLeadingZero]) and a value past
// math.MaxUint64 ([ErrOverflow]); all of them match [ErrInvalidCode]. It
// costs one multiply-add per byte and never allocates.
func Decode(s string) (uint64, error) {
	return decodeBase62(s)
}

// appendBase62 appends the canonical code of n in the 62-character alphabet.
// Whole chunks of five digits are cut off the low end with one 64-bit
// division by 62^5 and converted with 32-bit multiply-shift division, so no
// chain of dependent multiplies is longer than five; the only branches that
// depend on n are the exits of two short loops.
func appendBase62(dst []byte, n uint64, alphabet string) []byte {
	_ = alphabet[61]
	var buf [maxLen62]byte
	i := len(buf)
	for n >= pow62x5 { // at most twice
		q := n / pow62x5
		x := uint32(n - q*pow62x5)
		y := x / 62
		buf[i-1] = alphabet[x-y*62]
		x = y / 62
		buf[i-2] = alphabet[y-x*62]
		y = x / 62
		buf[i-3] = alphabet[x-y*62]
		x = y / 62
		buf[i-4] = alphabet[y-x*62]
		buf[i-5] = alphabet[x]
		i -= 5
		n = q
	}
	x := uint32(n)
	for x >= 62 {
		q := x / 62
		i--
		buf[i] = alphabet[x-q*62]
		x = q
	}
	i--
	buf[i] = alphabet[x]
	return append(dst, buf[i:]...)
}

// decodeBase62 decodes s through base62Index, the 256-byte table that maps
// a byte to its digit or to noDigit. It calls nothing (decodeError is
// inlined), so it runs without a stack frame. Up to ten digits cannot
// overflow (62^10 < 2^64) and take a loop without branches: a digit is
// below 64 and noDigit is not, so OR-ing every table entry into bad and
// testing once validates them all. Only an eleventh digit needs an overflow
// check.
func decodeBase62(s string) (uint64, error) {
	const index = base62Index
	if uint(len(s))-1 < maxLen62 { // neither empty nor longer than any uint64
		last := min(len(s), maxLen62-1)
		var n uint64
		var bad byte
		for i := 0; i < last; i++ {
			d := index[s[i]]
			bad |= d
			n = n*62 + uint64(d)
		}
		var over uint64
		if last < len(s) {
			d := index[s[last]]
			bad |= d
			hi, lo := bits.Mul64(n, 62)
			n, over = bits.Add64(lo, uint64(d), 0)
			over |= hi
		}
		if bad&^63 == 0 && over == 0 && (s[0] != Base62Alphabet[0] || len(s) == 1) {
			return n, nil
		}
	}
	return 0, decodeError(s, index, 62)
}

// decodeBase decodes s in any base, as decodeBase62 does in base 62: codes
// shorter than maxLen cannot overflow, since base^(maxLen-1) ≤ MaxUint64.
func decodeBase(s string, index string, base uint64, maxLen int) (uint64, error) {
	_ = index[255]
	if uint(len(s))-1 < uint(maxLen) {
		last := min(len(s), maxLen-1)
		var n uint64
		var bad byte
		for i := 0; i < last; i++ {
			d := index[s[i]]
			bad |= d
			n = n*base + uint64(d)
		}
		var over uint64
		if last < len(s) {
			d := index[s[last]]
			bad |= d
			hi, lo := bits.Mul64(n, base)
			n, over = bits.Add64(lo, uint64(d), 0)
			over |= hi
		}
		// Digits are below 128; noDigit is not.
		if bad&0x80 == 0 && over == 0 && (index[s[0]] != 0 || len(s) == 1) {
			return n, nil
		}
	}
	return 0, decodeError(s, index, base)
}

// decodeError classifies a code that does not decode, in a fixed order: an
// empty code, a byte outside the alphabet, a leading zero, else overflow.
func decodeError(s string, index string, base uint64) error {
	if len(s) == 0 {
		return ErrEmptyCode
	}
	for i := 0; i < len(s); i++ {
		if uint64(index[s[i]]) >= base {
			return ErrInvalidChar
		}
	}
	if len(s) > 1 && index[s[0]] == 0 {
		return ErrLeadingZero
	}
	return ErrOverflow
}

// A Codec converts between uint64 and codes in its own alphabet, with the
// same canonical, strict rules as [Encode] and [Decode]: the digit values are
// the positions in the alphabet, and a code never starts with the zero digit
// (the alphabet's first byte) unless it is that digit alone.
//
// The zero Codec is the base-62 codec of [Encode] and [Decode]. A Codec is
// immutable and safe for concurrent use. Decoding costs the same in every
// base. Encoding with a 62-character alphabet takes the fast path of the
// package functions; other bases divide by a variable, a few times slower
// per digit.
type Codec struct {
	alphabet string
	index    string // 256 bytes: byte -> digit, or noDigit
	base     uint64
	maxLen   int // length of the code of math.MaxUint64
}

// NewCodec returns a codec for alphabet, whose i-th byte is the digit of
// value i. The alphabet must hold between 2 and 94 distinct bytes of
// printable ASCII other than space ('!' through '~'), else NewCodec returns an
// error matching [ErrInvalidAlphabet]. For codes used in URL paths, keep to
// the unreserved characters of RFC 3986: letters, digits, '-', '.', '_', '~';
// a [Shortener]'s keys take only letters, digits, '-' and '_'.
func NewCodec(alphabet string) (*Codec, error) {
	if len(alphabet) < 2 || len(alphabet) > 94 {
		return nil, fmt.Errorf("%w: %d characters, want 2 to 94", ErrInvalidAlphabet, len(alphabet))
	}
	var index [256]byte
	for i := range index {
		index[i] = noDigit
	}
	for i := 0; i < len(alphabet); i++ {
		c := alphabet[i]
		if c < '!' || c > '~' {
			return nil, fmt.Errorf("%w: byte %#02x at offset %d is not printable ASCII", ErrInvalidAlphabet, c, i)
		}
		if index[c] != noDigit {
			return nil, fmt.Errorf("%w: %q repeats", ErrInvalidAlphabet, c)
		}
		index[c] = byte(i)
	}
	c := &Codec{alphabet: alphabet, index: string(index[:]), base: uint64(len(alphabet))}
	for n := uint64(math.MaxUint64); n > 0; n /= c.base {
		c.maxLen++
	}
	return c, nil
}

// Alphabet returns the codec's alphabet.
func (c *Codec) Alphabet() string {
	if c.base == 0 {
		return Base62Alphabet
	}
	return c.alphabet
}

// Encode returns the canonical code of n.
func (c *Codec) Encode(n uint64) string {
	var buf [64]byte
	return string(c.AppendEncode(buf[:0], n))
}

// AppendEncode appends the canonical code of n to dst and returns the
// extended buffer.
func (c *Codec) AppendEncode(dst []byte, n uint64) []byte {
	if c.base == 0 {
		return AppendEncode(dst, n)
	}
	if c.base == 62 {
		return appendBase62(dst, n, c.alphabet)
	}
	var buf [64]byte // base 2 needs 64 digits
	i := len(buf)
	for n >= c.base {
		q := n / c.base
		i--
		buf[i] = c.alphabet[n-q*c.base]
		n = q
	}
	i--
	buf[i] = c.alphabet[n]
	return append(dst, buf[i:]...)
}

// Decode returns the number whose canonical code is s, or an error matching
// [ErrInvalidCode] as [Decode] does.
func (c *Codec) Decode(s string) (uint64, error) {
	if c.base == 0 {
		return Decode(s)
	}
	return decodeBase(s, c.index, c.base, c.maxLen)
}

package shortid_test

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// bigAlphabet is the digit order of math/big's Text and SetString, which
// for bases up to 62 is a prefix of Base62Alphabet: it is our reference.
const bigAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func TestBase62AlphabetMatchesMathBig(t *testing.T) {
	if shortid.Base62Alphabet != bigAlphabet {
		t.Fatalf("Base62Alphabet = %q, want %q", shortid.Base62Alphabet, bigAlphabet)
	}
}

func TestEncodeKnown(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		code string
	}{
		{0, "0"},
		{9, "9"},
		{10, "a"},
		{35, "z"},
		{36, "A"},
		{61, "Z"},
		{62, "10"},
		{63, "11"},
		{3843, "ZZ"},
		{3844, "100"},
		{62*62*62*62*62 - 1, "ZZZZZ"},
		{62 * 62 * 62 * 62 * 62, "100000"},
		{math.MaxUint64, "lYGhA16ahyf"},
	} {
		if got := shortid.Encode(tc.n); got != tc.code {
			t.Errorf("Encode(%d) = %q, want %q", tc.n, got, tc.code)
		}
		if got := string(shortid.AppendEncode([]byte("x/"), tc.n)); got != "x/"+tc.code {
			t.Errorf("AppendEncode(\"x/\", %d) = %q, want %q", tc.n, got, "x/"+tc.code)
		}
		if got, err := shortid.Decode(tc.code); err != nil || got != tc.n {
			t.Errorf("Decode(%q) = %d, %v, want %d", tc.code, got, err, tc.n)
		}
	}
}

// randomUint64 returns a number of a uniformly random bit length, so that
// every code length is well represented.
func randomUint64(rng *rand.Rand) uint64 {
	return rng.Uint64() >> rng.UintN(64)
}

func TestEncodeDecodeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(shortid.KeysSeed(t), 2))
	for range 20000 {
		n := randomUint64(rng)
		want := new(big.Int).SetUint64(n).Text(62)
		code := shortid.Encode(n)
		if code != want {
			t.Fatalf("Encode(%d) = %q, want %q", n, code, want)
		}
		got, err := shortid.Decode(code)
		if err != nil || got != n {
			t.Fatalf("Decode(Encode(%d)) = %d, %v", n, got, err)
		}
	}
}

func TestDecodeHostile(t *testing.T) {
	for _, tc := range []struct {
		code string
		want error
	}{
		{"", shortid.ErrEmptyCode},
		{"-1", shortid.ErrInvalidChar},
		{"+1", shortid.ErrInvalidChar},
		{" 1", shortid.ErrInvalidChar},
		{"1 ", shortid.ErrInvalidChar},
		{"1\n", shortid.ErrInvalidChar},
		{"\x00", shortid.ErrInvalidChar},
		{"1_0", shortid.ErrInvalidChar},
		{"1.0", shortid.ErrInvalidChar},
		{"é", shortid.ErrInvalidChar},
		{"abc\xff", shortid.ErrInvalidChar},
		{"aaaaaaaaaa-", shortid.ErrInvalidChar},           // bad 11th byte
		{"aaaaaaaaaaaaaaaaaaaa%", shortid.ErrInvalidChar}, // long and bad
		{"00", shortid.ErrLeadingZero},
		{"01", shortid.ErrLeadingZero},
		{"0Z", shortid.ErrLeadingZero},
		{"00000000000", shortid.ErrLeadingZero},
		{"000000000000000000000001", shortid.ErrLeadingZero},
		{"lYGhA16ahyg", shortid.ErrOverflow}, // MaxUint64 + 1
		{"lYGhA16ahZZ", shortid.ErrOverflow},
		{"lYGhA16ai00", shortid.ErrOverflow},
		{"ZZZZZZZZZZZ", shortid.ErrOverflow},
		{"100000000000", shortid.ErrOverflow}, // 62^11
		{strings.Repeat("1", 1000), shortid.ErrOverflow},
	} {
		n, err := shortid.Decode(tc.code)
		if !errors.Is(err, tc.want) || !errors.Is(err, shortid.ErrInvalidCode) {
			t.Errorf("Decode(%q) = %d, %v, want %v", tc.code, n, err, tc.want)
		}
		if n != 0 {
			t.Errorf("Decode(%q) returned %d with its error, want 0", tc.code, n)
		}
	}
}

func TestNewCodecRejects(t *testing.T) {
	for _, alphabet := range []string{
		"",
		"a",
		"aa",
		"abca",
		"ab ",
		"ab\x00",
		"ab\x7f",
		"abé",
		"ab\t",
		strings.Repeat("x", 95),
	} {
		c, err := shortid.NewCodec(alphabet)
		if !errors.Is(err, shortid.ErrInvalidAlphabet) || c != nil {
			t.Errorf("NewCodec(%q) = %v, %v, want ErrInvalidAlphabet", alphabet, c, err)
		}
	}
	var all []byte
	for c := byte('!'); c <= '~'; c++ {
		all = append(all, c)
	}
	if _, err := shortid.NewCodec(string(all)); err != nil {
		t.Errorf("NewCodec(all 94 printable bytes) = %v", err)
	}
}

// TestCodecMatchesMathBig compares codecs for every base from 2 to 62
// (prefixes of the math/big alphabet) with big.Int.Text, and checks that
// the codec decodes its codes back and rejects the non-canonical and
// overflowing forms.
func TestCodecMatchesMathBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(shortid.KeysSeed(t), 3))
	for base := 2; base <= 62; base++ {
		c, err := shortid.NewCodec(bigAlphabet[:base])
		if err != nil {
			t.Fatal(err)
		}
		if c.Alphabet() != bigAlphabet[:base] {
			t.Fatalf("Alphabet() = %q", c.Alphabet())
		}
		for i := range 300 {
			n := randomUint64(rng)
			if i == 0 {
				n = math.MaxUint64
			}
			want := new(big.Int).SetUint64(n).Text(base)
			code := c.Encode(n)
			if code != want {
				t.Fatalf("base %d: Encode(%d) = %q, want %q", base, n, code, want)
			}
			if got, err := c.Decode(code); err != nil || got != n {
				t.Fatalf("base %d: Decode(%q) = %d, %v, want %d", base, code, got, err, n)
			}
			if got := string(c.AppendEncode([]byte("p"), n)); got != "p"+want {
				t.Fatalf("base %d: AppendEncode = %q", base, got)
			}
		}
		past := new(big.Int).SetUint64(math.MaxUint64)
		past.Add(past, big.NewInt(1))
		for _, tc := range []struct {
			code string
			want error
		}{
			{"", shortid.ErrEmptyCode},
			{"0" + c.Encode(1), shortid.ErrLeadingZero},
			{past.Text(base), shortid.ErrOverflow},
			{c.Encode(math.MaxUint64) + "0", shortid.ErrOverflow},
			{c.Encode(12345) + "/", shortid.ErrInvalidChar},
		} {
			if n, err := c.Decode(tc.code); !errors.Is(err, tc.want) {
				t.Errorf("base %d: Decode(%q) = %d, %v, want %v", base, tc.code, n, err, tc.want)
			}
		}
		if base < 62 {
			// The first byte past this base's digits is not a digit.
			if n, err := c.Decode("1" + bigAlphabet[base:base+1]); !errors.Is(err, shortid.ErrInvalidChar) {
				t.Errorf("base %d: Decode(%q) = %d, %v, want ErrInvalidChar", base, "1"+bigAlphabet[base:base+1], n, err)
			}
		}
	}
}

// TestCodecOtherOrder uses a 62-letter alphabet in another order (that of
// jxskiss/base62), which takes the fast base-62 path with its own digits.
func TestCodecOtherOrder(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	c, err := shortid.NewCodec(alphabet)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(shortid.KeysSeed(t), 4))
	for range 5000 {
		n := randomUint64(rng)
		ref := new(big.Int).SetUint64(n).Text(62)
		want := strings.Map(func(r rune) rune { return rune(alphabet[strings.IndexRune(bigAlphabet, r)]) }, ref)
		if got := c.Encode(n); got != want {
			t.Fatalf("Encode(%d) = %q, want %q", n, got, want)
		}
		if got, err := c.Decode(want); err != nil || got != n {
			t.Fatalf("Decode(%q) = %d, %v, want %d", want, got, err, n)
		}
	}
	if _, err := c.Decode("AB"); !errors.Is(err, shortid.ErrLeadingZero) {
		t.Errorf(`Decode("AB") = %v, want ErrLeadingZero`, err)
	}
	if _, err := c.Decode("A"); err != nil {
		t.Errorf(`Decode("A") = %v, want 0`, err)
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		buf = shortid.AppendEncode(buf[:0], math.MaxUint64)
		if _, err := shortid.Decode("lYGhA16ahyf"); err != nil {
			t.Fatal(err)
		}
		if _, err := shortid.Decode("lYGhA16ahyg"); err == nil {
			t.Fatal("no overflow")
		}
	})
	if allocs != 0 {
		t.Errorf("AppendEncode + Decode allocate %v times per run, want 0", allocs)
	}
}

func TestZeroCodecIsBase62(t *testing.T) {
	var c shortid.Codec
	if c.Alphabet() != shortid.Base62Alphabet {
		t.Errorf("zero Codec Alphabet() = %q", c.Alphabet())
	}
	for _, n := range []uint64{0, 61, 62, math.MaxUint64} {
		if got, want := c.Encode(n), shortid.Encode(n); got != want {
			t.Errorf("zero Codec Encode(%d) = %q, want %q", n, got, want)
		}
	}
	if n, err := c.Decode("10"); n != 62 || err != nil {
		t.Errorf(`zero Codec Decode("10") = %d, %v`, n, err)
	}
	if _, err := c.Decode("01"); !errors.Is(err, shortid.ErrLeadingZero) {
		t.Errorf(`zero Codec Decode("01") = %v, want ErrLeadingZero`, err)
	}
}

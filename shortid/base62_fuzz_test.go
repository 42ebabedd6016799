package shortid_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// refDecode is the reference for strict decoding in a prefix of bigAlphabet:
// non-empty, every byte a digit, no leading zero, value below 2^64.
func refDecode(s, alphabet string) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == alphabet[0]) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return 0, false
		}
	}
	v, ok := new(big.Int).SetString(s, len(alphabet))
	if !ok || !v.IsUint64() {
		return 0, false
	}
	return v.Uint64(), true
}

// FuzzDecode checks that Decode never panics, accepts exactly the canonical
// codes (those math/big accepts, without leading zeros, below 2^64) and
// that what it accepts encodes back to the same code.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "0", "Z", "10", "00", "01", "lYGhA16ahyf", "lYGhA16ahyg", "ZZZZZZZZZZZ",
		"100000000000", "-1", "1_0", "é", "\x00", "aaaaaaaaaa-", strings.Repeat("z", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := shortid.Decode(s)
		want, ok := refDecode(s, bigAlphabet)
		if ok != (err == nil) || n != want {
			t.Fatalf("Decode(%q) = %d, %v; reference: %d, valid %v", s, n, err, want, ok)
		}
		if err != nil {
			if !errors.Is(err, shortid.ErrInvalidCode) {
				t.Fatalf("Decode(%q) error %v does not match ErrInvalidCode", s, err)
			}
			return
		}
		if code := shortid.Encode(n); code != s {
			t.Fatalf("Encode(Decode(%q)) = %q", s, code)
		}
	})
}

// FuzzCodecDecode does the same for the codec of every base from 2 to 62.
func FuzzCodecDecode(f *testing.F) {
	f.Add(uint8(2), "1111111111111111111111111111111111111111111111111111111111111111")
	f.Add(uint8(2), "10000000000000000000000000000000000000000000000000000000000000000")
	f.Add(uint8(10), "18446744073709551615")
	f.Add(uint8(10), "18446744073709551616")
	f.Add(uint8(16), "0ff")
	f.Add(uint8(36), "3w5e11264sgsf")
	f.Add(uint8(61), "zz")
	f.Fuzz(func(t *testing.T, b uint8, s string) {
		base := 2 + int(b)%61
		alphabet := bigAlphabet[:base]
		c, err := shortid.NewCodec(alphabet)
		if err != nil {
			t.Fatal(err)
		}
		n, err := c.Decode(s)
		want, ok := refDecode(s, alphabet)
		if ok != (err == nil) || n != want {
			t.Fatalf("base %d: Decode(%q) = %d, %v; reference: %d, valid %v", base, s, n, err, want, ok)
		}
		if err == nil && c.Encode(n) != s {
			t.Fatalf("base %d: Encode(Decode(%q)) = %q", base, s, c.Encode(n))
		}
		if err != nil && !errors.Is(err, shortid.ErrInvalidCode) {
			t.Fatalf("base %d: Decode(%q) error %v does not match ErrInvalidCode", base, s, err)
		}
	})
}

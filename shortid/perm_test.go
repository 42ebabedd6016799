package shortid

import (
	"math/rand/v2"
	"testing"
)

// TestSipHashVectors checks sum64short against the first eight vectors of
// the SipHash-2-4 reference implementation (key 00 01 .. 0f, message
// 00 01 .. n-1 for n = 0..7).
func TestSipHashVectors(t *testing.T) {
	want := []uint64{
		0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
		0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
	}
	k := newSipKey(0x0706050403020100, 0x0f0e0d0c0b0a0908)
	var m uint64
	for n, w := range want {
		if got := k.sum64short(m, n); got != w {
			t.Errorf("SipHash-2-4 of %d bytes = %#016x, want %#016x", n, got, w)
		}
		m |= uint64(n) << (8 * n)
	}
}

// TestFeistelInverts checks decrypt(encrypt(x)) = x and that outputs stay in
// their half ranges, for random pairs on several domain shapes.
func TestFeistelInverts(t *testing.T) {
	seed := keysSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	k := newSipKey(rng.Uint64(), rng.Uint64())
	for _, f := range []feistel{{a: 1, b: 2}, {a: 62, b: 62}, {a: 62 * 62 * 62, b: 62 * 62 * 62 * 62}, {a: 94 * 94 * 94 * 94, b: 94 * 94 * 94 * 94 * 94}} {
		for range 2000 {
			A, B := rng.Uint64N(f.a), rng.Uint64N(f.b)
			x, y := f.encrypt(&k, A, B)
			if x >= f.a || y >= f.b {
				t.Fatalf("%+v: encrypt(%d, %d) = (%d, %d), out of range", f, A, B, x, y)
			}
			if a, b := f.decrypt(&k, x, y); a != A || b != B {
				t.Fatalf("%+v: decrypt(encrypt(%d, %d)) = (%d, %d)", f, A, B, a, b)
			}
		}
	}
}

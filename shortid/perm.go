package shortid

import "math/bits"

// feistelRounds is the number of Feistel rounds of a Sequence's permutation.
// Luby and Rackoff showed four rounds of a random function make a strong
// pseudo-random permutation as the half size grows; our halves are small
// (62^3 and 62^4 for 7-character codes), where the generic attacks on
// Feistel-based format-preserving encryption (Bellare, Hoang and Tessaro,
// CCS 2016; Durak and Vaudenay, CRYPTO 2017) lose strength with every
// round. Eight is the count NIST SP 800-38G Rev. 1 fixed for FF3-1.
const feistelRounds = 8

// sipKey is a SipHash-2-4 key, kept as the four initial state words so that
// each call starts from them.
type sipKey struct {
	v0, v1, v2, v3 uint64
}

// newSipKey expands the 128-bit key k0 || k1 (little-endian words) into the
// initial state, as in section 2 of the SipHash paper.
func newSipKey(k0, k1 uint64) sipKey {
	return sipKey{
		v0: k0 ^ 0x736f6d6570736575,
		v1: k1 ^ 0x646f72616e646f6d,
		v2: k0 ^ 0x6c7967656e657261,
		v3: k1 ^ 0x7465646279746573,
	}
}

// sum64short returns SipHash-2-4 of a message of n < 8 bytes held
// little-endian in the low bytes of m (Aumasson and Bernstein, "SipHash: a
// fast short-input PRF", INDOCRYPT 2012). Such a message is one final block:
// two compression rounds and four finalization rounds.
func (k *sipKey) sum64short(m uint64, n int) uint64 {
	v0, v1, v2, v3 := k.v0, k.v1, k.v2, k.v3
	b := uint64(n)<<56 | m
	v3 ^= b
	for range 2 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	v0 ^= b
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is one SipRound of SipHash; small enough to be inlined.
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}

// feistel is the keyed permutation of [0, a·b) behind a Sequence, where
// a = base^u and b = base^v are the value ranges of the code's first u and
// last v = k-u digits. It is the alternating-modulus Feistel network of
// Black and Rogaway's "Ciphers with Arbitrary Finite Domains" (CT-RSA 2002,
// the generalized Feistel construction) as NIST SP 800-38G FF1 arranges it:
// the halves A < a and B < b swap every round and the new half is
//
//	C = (A + F_i(B)) mod (a if i is even, else b)
//
// so after an even number of rounds A < a and B < b again. Modular addition
// is invertible, so this is a bijection on exactly [0, a·b) by construction;
// no cycle walking is needed because a·b is the whole domain.
//
// F_i(B) is SipHash-2-4 under the version's key of the 6-byte message
// B || i (B < 2^40 always holds, see NewSequence), scaled into [0, m) by a
// multiply-high, whose bias is below m/2^64 < 2^-28.
type feistel struct {
	a, b uint64 // ranges of the first and last half
}

// round returns F_i(x) reduced into [0, m).
func round(k *sipKey, i int, x, m uint64) uint64 {
	hi, _ := bits.Mul64(k.sum64short(x|uint64(i)<<40, 6), m)
	return hi
}

// encrypt permutes the pair (A, B), A < f.a and B < f.b.
func (f feistel) encrypt(k *sipKey, A, B uint64) (uint64, uint64) {
	for i := range feistelRounds {
		m := f.a
		if i&1 != 0 {
			m = f.b
		}
		C := A + round(k, i, B, m)
		if C >= m {
			C -= m
		}
		A, B = B, C
	}
	return A, B
}

// decrypt inverts encrypt.
func (f feistel) decrypt(k *sipKey, A, B uint64) (uint64, uint64) {
	for i := feistelRounds - 1; i >= 0; i-- {
		m := f.a
		if i&1 != 0 {
			m = f.b
		}
		// Before round i the pair was (prevA, A) with B = (prevA + F_i(A)) mod m.
		f := round(k, i, A, m)
		prevA := B - f
		if B < f {
			prevA += m
		}
		A, B = prevA, A
	}
	return A, B
}

// Package shortid is the URL-shortener case of blueprint: the base-62 codec,
// short codes that are unique yet not guessable, and the shortener service
// built on them.
//
// # Base-62 codes
//
// [Encode], [AppendEncode] and [Decode] convert between uint64 and base 62 in
// [Base62Alphabet] (0-9, a-z, A-Z), so 0 is "0", 61 is "Z", 62 is "10" and
// math.MaxUint64 is "lYGhA16ahyf", eleven characters. Seven characters hold
// 62^7 ≈ 3.5·10^12 codes, 580 times the 6·10^9 links a shortener taking
// 100 million links a day stores in five years.
//
// Decoding is strict so that every number has exactly one code: an empty
// code, a byte outside the alphabet, a leading zero ("007") and a value past
// math.MaxUint64 are errors that match [ErrInvalidCode]. A [Codec] does the
// same for any alphabet of 2 to 94 printable ASCII characters.
//
// Encoding cuts the number into five-digit chunks converted with 32-bit
// multiply-shift division, so no dependency chain is longer than five
// multiplies; decoding is a branch-free multiply-add loop that validates the
// whole code with one test at the end, and only 11-digit codes, the only
// ones that can overflow, pay for an overflow check. On a 2-core AMD EPYC,
// AppendEncode takes about 9 ns and Decode about 5.5 ns over codes of 1 to 11
// digits, and neither allocates (BenchmarkBase62Encode and
// BenchmarkBase62Decode in the benchmarks module set them beside
// github.com/jxskiss/base62, which checks neither overflow nor leading
// zeros).
//
// # Unguessable codes
//
// Counting links 1, 2, 3 and printing the count in base 62 gives unique
// codes, but anyone can enumerate them. Random codes cannot be enumerated
// but may collide. A [Sequence] has both properties: the code of counter
// value c is P(c) written as a fixed number of digits, where P is a
// pseudo-random permutation of [0, 62^k) keyed by a secret. Because P is a
// permutation, distinct counter values give distinct codes; because it is
// pseudo-random, consecutive counter values give codes that differ in
// almost every position, and without the key the codes of other links
// cannot be predicted from one's own.
//
// P follows the generalized Feistel construction of Black and Rogaway,
// "Ciphers with Arbitrary Finite Domains" (CT-RSA 2002), arranged as in
// NIST SP 800-38G FF1: the value splits into a first half A of u = ⌊k/2⌋
// digits and a second half B of k-u digits, and each round replaces the pair
// with (B, (A + F_i(B)) mod 62^m), m alternating between u and k-u. The
// domain is then exactly [0, 62^k), so no cycle walking is needed, and
// modular subtraction inverts each round, so [Sequence.Reverse] recovers the
// counter value from a code with the key. The round function F_i is
// SipHash-2-4 (Aumasson and Bernstein, INDOCRYPT 2012), a pseudo-random
// function with a 128-bit key, of the half and the round number. Luby and
// Rackoff proved four Feistel rounds of a random function a strong
// pseudo-random permutation; with halves as small as 62^3 the published
// attacks on small-domain Feistel ciphers gain from every missing round, so
// a Sequence runs eight, as FF3-1 does. A code costs eight SipHash calls on
// a single block: about 110 ns and no allocation, for [Sequence.AppendKey]
// and [Sequence.Reverse] alike.
//
// Counter values come from a [Counter], which leases them in blocks (default
// 1024), so a fleet of servers sharing one counter row pays one round trip
// per block. [MemCounter] is the in-memory counter.
//
// # Key rotation
//
// A [Key] has a version, a secret and the first counter value it encodes
// (Since); each key owns the counter values from its Since up to the next
// key's. To rotate, add a key whose Since lies beyond every value leased so
// far, and deploy the ring everywhere before the counter gets there. Codes
// of one key never repeat; a code of the new key may equal one issued under
// an old key (probability: old codes / 62^k per code), and the service's
// atomic create refuses that clash and takes the next counter value, so
// stored codes stay unique. Reverse decrypts a code under each key and
// returns the oldest key whose range contains the result, which is the
// issuing key except with the same small probability; it is exact with a
// single key.
//
// [Random] draws codes uniformly from crypto/rand instead, for callers who
// want no counter: about 30 ns a code, reading 512 random bytes at a time.
// It relies on the service retrying the rare collision: with n links stored
// among 62^k codes a new code clashes with probability n/62^k, 1.7·10^-3
// for 6·10^9 links of seven characters.
//
// # The shortener service
//
// The shortener service stores links through a small Store interface and
// takes the codes of new links from a [KeySource] such as a [Sequence]; its
// atomic create is what keeps stored codes unique across key rotations,
// aliases and random draws. (This section is written by the service's
// authors: URL rules, aliases, expiry, dedup, click counting, HTTP.)
//
// # Concurrency
//
// Every function and type of this part of the package is safe for concurrent
// use: a [Codec] is immutable, a [Sequence] hands out counter values with an
// atomic add and leases new blocks under a one-slot semaphore that respects
// the caller's context, and a [Random] takes bytes from its buffer under a
// mutex and refills it under a similar semaphore, outside the mutex. A slow
// Counter or random source therefore delays only the callers that need its
// result, and they give up when their context ends.
package shortid

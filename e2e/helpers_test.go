package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/e2e"
)

// drbg is a deterministic key source for tests: SHA-256 over a seed and a
// counter. Tests that use it reproduce exactly from the logged seed.
type drbg struct {
	seed uint64
	ctr  uint64
	buf  []byte
}

func newDRBG(seed uint64) *drbg { return &drbg{seed: seed} }

func (r *drbg) Read(p []byte) (int, error) {
	for n := 0; n < len(p); {
		if len(r.buf) == 0 {
			var in [16]byte
			binary.BigEndian.PutUint64(in[:], r.seed)
			binary.BigEndian.PutUint64(in[8:], r.ctr)
			r.ctr++
			b := sha256.Sum256(in[:])
			r.buf = b[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return len(p), nil
}

// testSeed returns the seed of a property test, from SEED if set, and logs it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with SEED=%d)", seed, seed)
	return seed
}

// pair is an established conversation: Alice's and Bob's sessions after
// Bob accepted Alice's first message.
type pair struct {
	alice, bob *e2e.Session
	bobKeys    *e2e.Keyring
}

func mustIdentity(t testing.TB, seed uint64) *e2e.Identity {
	t.Helper()
	id, err := e2e.NewIdentity(newDRBG(seed))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newPair runs X3DH with a one-time prekey and delivers one message each
// way, so both sessions can send.
func newPair(t testing.TB, opts e2e.Options) pair {
	t.Helper()
	alice, bob := mustIdentity(t, 1), mustIdentity(t, 2)
	kr, err := e2e.NewKeyring(bob, opts)
	if err != nil {
		t.Fatal(err)
	}
	otps, err := kr.GenerateOneTimePrekeys(1)
	if err != nil {
		t.Fatal(err)
	}
	as, err := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey(), OneTimePrekey: &otps[0]}, opts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := as.Seal(nil, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	bs, pt, err := kr.Accept(nil, m)
	if err != nil || string(pt) != "hello" {
		t.Fatalf("Accept = %q, %v", pt, err)
	}
	r, err := bs.Seal(nil, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := as.Open(nil, r); err != nil || string(pt) != "hi" {
		t.Fatalf("Open(reply) = %q, %v", pt, err)
	}
	return pair{as, bs, kr}
}

func seal(t testing.TB, s *e2e.Session, text string) []byte {
	t.Helper()
	m, err := s.Seal(nil, []byte(text))
	if err != nil {
		t.Fatalf("Seal(%q) = %v", text, err)
	}
	return m
}

func open(t testing.TB, s *e2e.Session, m []byte, want string) {
	t.Helper()
	pt, err := s.Open(nil, m)
	if err != nil || string(pt) != want {
		t.Fatalf("Open = %q, %v, want %q", pt, err, want)
	}
}

// state returns the session's encoding, to compare states.
func state(t testing.TB, s *e2e.Session) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clone copies a session through its encoding, with its own randomness.
func clone(t testing.TB, s *e2e.Session) *e2e.Session {
	t.Helper()
	var c e2e.Session
	if err := c.UnmarshalBinary(state(t, s)); err != nil {
		t.Fatalf("UnmarshalBinary = %v", err)
	}
	return &c
}

// fakeClock is a settable clock for keyrings.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// syncClock is a settable clock that may be read and set concurrently.
type syncClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *syncClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *syncClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// signedPrekeyPrivates returns the private keys of the current and, if the
// state holds one, the previous signed prekey in a keyring's saved state,
// walking the layout documented on Keyring.MarshalBinary; current is nil
// if the state is too short for it.
func signedPrekeyPrivates(state []byte) (current, previous []byte) {
	const head = 4 + 1 + e2e.IdentitySize + 4  // magic, version, identity, nextID
	const fixed = 4 + e2e.KeySize + 64 + 8 + 4 // id, private, signature, expires, count
	if len(state) < head+fixed+1 {
		return nil, nil
	}
	current = state[head+4 : head+4+e2e.KeySize]
	off := head + fixed + int(binary.BigEndian.Uint32(state[head+fixed-4:]))*e2e.KeySize
	if off+1+4+e2e.KeySize > len(state) || state[off] != 1 {
		return current, nil
	}
	return current, state[off+1+4 : off+1+4+e2e.KeySize]
}

// keyringState returns kr's saved state.
func keyringState(t testing.TB, kr *e2e.Keyring) []byte {
	t.Helper()
	b, err := kr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// retiredKeyring builds a keyring from fixed identities and randomness:
// two one-time prekeys, a signed prekey rotated at now() with a
// PrekeyGrace of one hour, and one initial message without a one-time
// prekey accepted under the retired prekey (so its replay record holds one
// base key). It returns the keyring, its options and a bundle naming the
// retired prekey, without a one-time prekey.
func retiredKeyring(t testing.TB, now func() time.Time) (*e2e.Keyring, e2e.Options, e2e.Bundle) {
	t.Helper()
	opts := e2e.Options{Now: now, PrekeyGrace: time.Hour, Rand: newDRBG(132)}
	bob := mustIdentity(t, 130)
	kr, err := e2e.NewKeyring(bob, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.GenerateOneTimePrekeys(2); err != nil {
		t.Fatal(err)
	}
	old := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
	if _, err := kr.RotateSignedPrekey(); err != nil {
		t.Fatal(err)
	}
	a, err := e2e.Initiate(mustIdentity(t, 131), old, e2e.Options{Rand: newDRBG(133)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Accept(nil, seal(t, a, "under the retired prekey")); err != nil {
		t.Fatal(err)
	}
	return kr, opts, old
}

var bg = context.Background()

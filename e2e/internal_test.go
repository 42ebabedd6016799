package e2e

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMessageKeysMatchHKDF checks the allocation-free HMAC and HKDF against
// crypto/hmac and crypto/hkdf for random keys and every info length.
func TestMessageKeysMatchHKDF(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	k := newKDF()
	for n := 0; n <= maxDerivedInfoLen; n++ {
		var mk [KeySize]byte
		for i := range mk {
			mk[i] = byte(rng.Uint32())
		}
		info := strings.Repeat("i", n)
		key, nonce := k.messageKeys(&mk, info)
		want, err := MessageKeyMaterial(mk, info, 44)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(key[:], want[:32]) || !bytes.Equal(nonce[:], want[32:]) {
			t.Fatalf("info length %d: messageKeys differs from HKDF", n)
		}
		// The precomputed-pad chain and root KDFs equal KDFCK, KDFRK and
		// crypto/hkdf's 96-byte output.
		next, ckmk := k.chain(&mk)
		if wn, wmk := KDFCK(mk); next != wn || ckmk != wmk {
			t.Fatalf("kdf.chain differs from KDFCK")
		}
		var dh [KeySize]byte
		for i := range dh {
			dh[i] = byte(rng.Uint32())
		}
		root, chain, nhk := k.rootKeys(&mk, &dh, info, 3)
		want96, err := hkdf.Key(sha256.New, dh[:], mk[:], info, 96)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(slices.Concat(root[:], chain[:], nhk[:]), want96) {
			t.Fatalf("info length %d: kdf.rootKeys(3) differs from HKDF", n)
		}
		root2, chain2, zero := k.rootKeys(&mk, &dh, info, 2)
		if wr, wc := KDFRK(mk, dh, info); root2 != wr || chain2 != wc || zero != [KeySize]byte{} {
			t.Fatalf("info length %d: kdf.rootKeys(2) differs from KDFRK", n)
		}
		msg := make([]byte, rng.IntN(193))
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		m := hmac.New(sha256.New, mk[:])
		m.Write(msg)
		if got := hmacSHA256(&mk, msg); !bytes.Equal(got[:], m.Sum(nil)) {
			t.Fatalf("hmacSHA256 differs from crypto/hmac for a %d-byte message", len(msg))
		}
	}
}

// TestWycheproofAESGCMEdgeCases runs the AES-256 vectors of the GCM
// specification (McGrew and Viega, test cases 13 and 14: all-zero key and
// nonce, empty and one-block plaintext) through the AEAD construction the
// ratchet uses, and checks that every truncation of the tag is refused.
func TestWycheproofAESGCMEdgeCases(t *testing.T) {
	var key [32]byte
	nonce := make([]byte, 12)
	aead, err := newGCM(&key)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(aead.Seal(nil, nonce, nil, nil)); got != "530f8afbc74536b9a963b4f1c4cb738b" {
		t.Errorf("test case 13: %s", got)
	}
	ct := aead.Seal(nil, nonce, make([]byte, 16), nil)
	if got := hex.EncodeToString(ct); got != "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919" {
		t.Errorf("test case 14: %s", got)
	}
	for cut := 1; cut <= 16; cut++ {
		if _, err := aead.Open(nil, nonce, ct[:len(ct)-cut], nil); err == nil {
			t.Errorf("tag truncated by %d bytes accepted", cut)
		}
	}
	// Modified-tag and modified-AD vectors in the manner of Wycheproof's
	// aes_gcm_test.json (its "ModifiedTag" flag): every single-bit flip of
	// the tag, and of associated data 00..0f, must be refused, as must a
	// tag of all zeros or all ones. Ids are local: tcId = 1000 + bit for
	// tag flips, 2000 + bit for AD flips, 3000 and 3001 for the constant
	// tags.
	ad := []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f")
	pt := []byte("wycheproof-style")
	sealed := aead.Seal(nil, nonce, pt, ad)
	if got, err := aead.Open(nil, nonce, sealed, ad); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("valid vector: %q, %v", got, err)
	}
	type vector struct {
		tcID    int
		comment string
		ct, ad  []byte
	}
	var vs []vector
	for bit := range 128 {
		c := bytes.Clone(sealed)
		c[len(pt)+bit/8] ^= 1 << (bit % 8)
		vs = append(vs, vector{1000 + bit, "flipped tag bit", c, ad})
	}
	for bit := range 8 * len(ad) {
		a := bytes.Clone(ad)
		a[bit/8] ^= 1 << (bit % 8)
		vs = append(vs, vector{2000 + bit, "flipped AD bit", sealed, a})
	}
	zeros := bytes.Clone(sealed)
	clear(zeros[len(pt):])
	ones := bytes.Clone(sealed)
	for i := len(pt); i < len(ones); i++ {
		ones[i] = 0xff
	}
	vs = append(vs, vector{3000, "all-zero tag", zeros, ad}, vector{3001, "all-ones tag", ones, ad})
	for _, v := range vs {
		if got, err := aead.Open(nil, nonce, v.ct, v.ad); err == nil {
			t.Errorf("tcId %d (%s): accepted, plaintext %x", v.tcID, v.comment, got)
		}
	}
}

func TestX3DHPadIs32FF(t *testing.T) {
	if x3dhPad != strings.Repeat("\xff", 32) {
		t.Fatalf("F = %x, want 32 bytes of 0xFF", x3dhPad)
	}
}

// TestHeaderCipherCacheBounded runs many DH ratchet steps with skipped
// keys under header encryption: the cache of header ciphers holds only the
// keys in use (four, plus one per chain with stored keys).
func TestHeaderCipherCacheBounded(t *testing.T) {
	var sk, bobPriv [KeySize]byte
	sk[0], bobPriv[0] = 1, 2
	bobPub, err := DH(bobPriv, [KeySize]byte{9})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{HeaderEncryption: true, MaxSkippedChains: 3}
	alice, err := NewInitiatorSession(sk, nil, bobPub, opts)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := NewResponderSession(sk, nil, bobPriv, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := alice.Seal(nil, []byte("skipped")); err != nil {
			t.Fatal(err)
		}
		m, _ := alice.Seal(nil, []byte("a"))
		if _, err := bob.Open(nil, m); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		r, _ := bob.Seal(nil, []byte("b"))
		if _, err := alice.Open(nil, r); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if n := len(bob.headerAEADs); n > 5+len(bob.skippedChains) || len(bob.skippedChains) > 3 {
			t.Fatalf("step %d: %d cached header ciphers, %d chains with skipped keys", i, n, len(bob.skippedChains))
		}
	}
}

// BenchmarkKDF measures the per-message derivations: KDF_CK (message key
// and next chain key), the AES key and nonce from a message key, and
// KDF_RK of a DH ratchet step.
func BenchmarkKDF(b *testing.B) {
	var ck [KeySize]byte
	ck[0] = 1
	k := newKDF()
	b.Run("chain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ck, _ = k.chain(&ck)
		}
	})
	b.Run("chain-stack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ck, _ = KDFCK(ck)
		}
	})
	b.Run("message-keys", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			key, _ := k.messageKeys(&ck, DefaultInfo+suffixMessage)
			ck[0] ^= key[0]
		}
	})
	b.Run("root", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ck, _, _ = k.rootKeys(&ck, &ck, DefaultInfo+suffixRatchet, 2)
		}
	})
	b.Run("root-hkdf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ck, _ = KDFRK(ck, ck, DefaultInfo+suffixRatchet)
		}
	})
}

// TestGroupIterationMaxRefused has a malicious member craft what its own
// GroupSender never seals: a validly signed message at iteration 2³²−1
// (after a distribution at 2³²−2), and a distribution at 2³²−1. The
// receiver refuses both as ErrBadHeader; accepting the message used to wrap
// the receiver's iteration to 0 with a skipped key stored above it, after
// which the victim's Group state no longer decoded.
func TestGroupIterationMaxRefused(t *testing.T) {
	evil, err := NewGroupSender(Options{})
	if err != nil {
		t.Fatal(err)
	}
	evil.iteration = math.MaxUint32 - 1
	victim, err := NewGroup(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.SetMember("evil", evil.Distribution()); err != nil {
		t.Fatal(err)
	}
	skipped, err := evil.seal(nil, []byte("skipped")) // advances to 2³²−1
	if err != nil {
		t.Fatal(err)
	}
	m, err := evil.seal(nil, []byte("wrap"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := victim.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := victim.Open(nil, "evil", m); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("message at iteration 2³²−1: %q, %v, want ErrBadHeader", pt, err)
	}
	after, err := victim.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("refused message changed the state")
	}
	var back Group
	if err := back.UnmarshalBinary(after); err != nil {
		t.Fatalf("state does not reload: %v", err)
	}
	// The last iteration a sender seals still opens, and the state still
	// encodes and decodes after it.
	if pt, err := back.Open(nil, "evil", skipped); err != nil || string(pt) != "skipped" {
		t.Fatalf("message at iteration 2³²−2: %q, %v", pt, err)
	}
	after, err = back.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := back.UnmarshalBinary(after); err != nil {
		t.Fatalf("state after the last iteration does not reload: %v", err)
	}

	// A distribution at 2³²−1 names an iteration no message can have
	// (evil's own seal wrapped it to 0; a sender stops at 2³²−1).
	evil.iteration = math.MaxUint32
	d := evil.Distribution()
	if _, err := NewGroupReceiver(d, Options{}); !errors.Is(err, ErrBadHeader) {
		t.Errorf("NewGroupReceiver(distribution at 2³²−1) = %v, want ErrBadHeader", err)
	}
	if err := victim.SetMember("evil", d); !errors.Is(err, ErrBadHeader) {
		t.Errorf("SetMember(distribution at 2³²−1) = %v, want ErrBadHeader", err)
	}
}

// allocated returns the bytes f allocates (runtime.MemStats.TotalAlloc;
// testing.AllocsPerRun counts allocations, not bytes). No test in this
// package runs in parallel, so the count is f's own, give or take the
// runtime's.
func allocated(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// TestDecodersAllocateWhatInputJustifies checks the promise of the Formats
// section: a decoder never allocates more than its input justifies. A
// group encoding whose member count claims 2²⁰ members in 1 MiB used to
// size its member map by that count (about 53 times the input); counts
// are now checked against the shortest encoding of what they count. Valid
// states of each decoder, and the same with 1 MiB of trailing garbage,
// stay within a small multiple of their size too.
func TestDecodersAllocateWhatInputJustifies(t *testing.T) {
	const pad = 1 << 20
	within := func(name string, input []byte, factor uint64, decode func([]byte) error) error {
		t.Helper()
		var err error
		a := allocated(func() { err = decode(input) })
		if limit := factor*uint64(len(input)) + 64<<10; a > limit {
			t.Errorf("%s: %d bytes of input allocated %d bytes (%.1f×), want at most %d", name, len(input), a, float64(a)/float64(len(input)), limit)
		}
		return err
	}
	decodeGroup := func(b []byte) error { var g Group; return g.UnmarshalBinary(b) }

	// A group with no members, its member count (the last four bytes)
	// replaced by a large one and followed by 1 MiB of zeros: 2²⁰ members,
	// and the most that 1 MiB could hold if members were valid.
	g, err := NewGroup(Options{Info: "x"})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, count := range []uint32{pad, uint32(pad / minGroupMemberSize)} {
		b := binary.BigEndian.AppendUint32(slices.Clone(empty[:len(empty)-4]), count)
		b = append(b, make([]byte, pad)...)
		if err := within(fmt.Sprint("group claiming ", count, " members"), b, 4, decodeGroup); !errors.Is(err, ErrBadState) {
			t.Errorf("group claiming %d members: %v, want ErrBadState", count, err)
		}
	}
	// minGroupMemberSize is the shortest member: with Info "x", an empty
	// name and no skipped keys a member takes exactly that, and decodes.
	s, err := NewGroupSender(Options{Info: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetMember("", s.Distribution()); err != nil {
		t.Fatal(err)
	}
	one, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(one)-len(empty) != minGroupMemberSize {
		t.Fatalf("shortest member takes %d bytes, minGroupMemberSize is %d", len(one)-len(empty), minGroupMemberSize)
	}
	if err := decodeGroup(one); err != nil {
		t.Fatalf("group with the shortest member: %v", err)
	}

	// Valid states with many entries: a group of 1000 members, a receiver
	// with 4000 skipped keys, a session with 1998 and a keyring with 5000
	// one-time prekeys and 5000 recorded base keys. A keyring parses every
	// private key (an ecdh.PrivateKey, a few hundred bytes for 36 of input),
	// so the factor is 8; the expected figures are 2.5 to 4.5×.
	for i := range 1000 {
		if err := g.SetMember(fmt.Sprint(i), s.Distribution()); err != nil {
			t.Fatal(err)
		}
	}
	big, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}

	r, err := NewGroupReceiver(s.Distribution(), Options{Info: "x", MaxSkip: 5000, MaxSkippedKeys: 5000})
	if err != nil {
		t.Fatal(err)
	}
	var m []byte
	for range 4001 {
		if m, err = s.Seal(m[:0], nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Open(nil, m); err != nil {
		t.Fatal(err)
	}
	rb, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}

	var sk, bobPriv [KeySize]byte
	sk[0], bobPriv[0] = 7, 9
	bobPub, err := DH(bobPriv, [KeySize]byte{9})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := NewResponderSession(sk, nil, bobPriv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := NewInitiatorSession(sk, nil, bobPub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if m, err = alice.Seal(m[:0], nil); err != nil {
			t.Fatal(err)
		}
		if i == 999 || i == 1999 { // MaxSkip (1000) apart
			if _, err := bob.Open(nil, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	sb, err := bob.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}

	id, err := NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(id, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.GenerateOneTimePrekeys(5000); err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		var base [KeySize]byte
		binary.BigEndian.PutUint32(base[:], uint32(i))
		kr.current.seen[base] = struct{}{}
	}
	kb, err := kr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name   string
		b      []byte
		factor uint64
		decode func([]byte) error
	}{
		{"group", big, 4, decodeGroup},
		{"receiver", rb, 4, func(b []byte) error { var r GroupReceiver; return r.UnmarshalBinary(b) }},
		{"session", sb, 4, func(b []byte) error { var s Session; return s.UnmarshalBinary(b) }},
		{"keyring", kb, 8, func(b []byte) error { _, err := LoadKeyring(b, Options{}); return err }},
	} {
		if err := within(c.name, c.b, c.factor, c.decode); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		padded := append(slices.Clone(c.b), make([]byte, pad)...)
		if err := within(c.name+" with trailing zeros", padded, 4, c.decode); !errors.Is(err, ErrBadState) {
			t.Errorf("%s with trailing zeros: %v, want ErrBadState", c.name, err)
		}
	}
}

// TestKeyringNoticesExpiry checks that each Keyring method that uses or
// reports its prekeys, and LoadKeyring, deletes the previous signed prekey
// and its replay record once the grace period has passed, and keeps them
// one nanosecond before.
func TestKeyringNoticesExpiry(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type setup struct {
		k          *Keyring
		saved      []byte // the state saved before the clock moved
		toCurrent  []byte // an initial message under the current signed prekey
		toPrevious []byte // one under the previous signed prekey
	}
	for _, c := range []struct {
		name string
		call func(s setup) (*Keyring, error)
	}{
		{"SignedPrekey", func(s setup) (*Keyring, error) { s.k.SignedPrekey(); return s.k, nil }},
		{"OneTimePrekeys", func(s setup) (*Keyring, error) { s.k.OneTimePrekeys(); return s.k, nil }},
		{"GenerateOneTimePrekeys", func(s setup) (*Keyring, error) { _, err := s.k.GenerateOneTimePrekeys(1); return s.k, err }},
		{"MarshalBinary", func(s setup) (*Keyring, error) { _, err := s.k.MarshalBinary(); return s.k, err }},
		{"Accept/current", func(s setup) (*Keyring, error) { _, _, err := s.k.Accept(nil, s.toCurrent); return s.k, err }},
		{"Accept/previous", func(s setup) (*Keyring, error) {
			_, _, err := s.k.Accept(nil, s.toPrevious)
			if s.k.previous == nil && errors.Is(err, ErrUnknownPrekey) {
				err = nil // the expected refusal after the grace period
			}
			return s.k, err
		}},
		{"LoadKeyring", func(s setup) (*Keyring, error) { return LoadKeyring(s.saved, s.k.opts) }},
	} {
		for _, after := range []time.Duration{time.Hour - time.Nanosecond, time.Hour} {
			t.Run(fmt.Sprintf("%s/%v", c.name, after), func(t *testing.T) {
				now := t0
				opts := Options{Now: func() time.Time { return now }, PrekeyGrace: time.Hour}
				alice, err := NewIdentity(nil)
				if err != nil {
					t.Fatal(err)
				}
				bob, err := NewIdentity(nil)
				if err != nil {
					t.Fatal(err)
				}
				k, err := NewKeyring(bob, opts)
				if err != nil {
					t.Fatal(err)
				}
				old := Bundle{Identity: bob.Public(), SignedPrekey: k.SignedPrekey()}
				if _, err := k.RotateSignedPrekey(); err != nil {
					t.Fatal(err)
				}
				s := setup{k: k}
				for _, m := range []struct {
					b   Bundle
					out *[]byte
				}{{Bundle{Identity: bob.Public(), SignedPrekey: k.SignedPrekey()}, &s.toCurrent}, {old, &s.toPrevious}} {
					as, err := Initiate(alice, m.b, opts)
					if err != nil {
						t.Fatal(err)
					}
					if *m.out, err = as.Seal(nil, []byte("hi")); err != nil {
						t.Fatal(err)
					}
				}
				if s.saved, err = k.MarshalBinary(); err != nil {
					t.Fatal(err)
				}
				now = t0.Add(after)
				got, err := c.call(s)
				if err != nil {
					t.Fatal(err)
				}
				if kept := after < time.Hour; (got.previous != nil) != kept {
					t.Errorf("previous signed prekey held = %v %v after the rotation, want %v", got.previous != nil, after, kept)
				}
			})
		}
	}
}

// TestOptionLimits checks the documented bounds of Options: MaxSkip and
// MaxSkippedKeys at most 2²⁰, MaxSkippedChains at most 1024 (larger values
// are clamped), and the defaults for zero or negative values.
func TestOptionLimits(t *testing.T) {
	for _, c := range []struct {
		in                   Options
		skip, skipped, chain int
	}{
		{Options{}, 1000, 2000, 5},
		{Options{MaxSkip: -1, MaxSkippedKeys: -1, MaxSkippedChains: -1}, 1000, 2000, 5},
		{Options{MaxSkip: 1 << 20, MaxSkippedKeys: 1 << 20, MaxSkippedChains: 1024}, 1 << 20, 1 << 20, 1024},
		{Options{MaxSkip: 1<<20 + 1, MaxSkippedKeys: 1 << 30, MaxSkippedChains: 1025}, 1 << 20, 1 << 20, 1024},
	} {
		s := newSession(nil, c.in)
		if s.maxSkip != c.skip || s.maxSkipped != c.skipped || s.maxChains != c.chain {
			t.Errorf("%+v: MaxSkip %d, MaxSkippedKeys %d, MaxSkippedChains %d, want %d, %d, %d",
				c.in, s.maxSkip, s.maxSkipped, s.maxChains, c.skip, c.skipped, c.chain)
		}
	}
}

// TestSetMemberKeyIDCollision gives a member's new sender key the key id of
// one of its kept keys (a 2⁻³² accident for honest senders): the new key
// replaces that one, as in libsignal, since a message's key id picks the
// key it opens under; the member's other keys stay, newest first. A late
// copy of the replaced key's distribution is refused with
// ErrStaleDistribution (it replaced the new key back).
func TestSetMemberKeyIDCollision(t *testing.T) {
	g, err := NewGroup(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var senders []*GroupSender
	for range 3 {
		s, err := NewGroupSender(Options{})
		if err != nil {
			t.Fatal(err)
		}
		senders = append(senders, s)
	}
	senders[2].keyID = senders[0].keyID
	for _, s := range senders {
		if err := g.SetMember("ann", s.Distribution()); err != nil {
			t.Fatal(err)
		}
	}
	keys := g.members["ann"].keys
	if len(keys) != 2 || !keys[0].verify.Equal(senders[2].signing.Public()) || keys[1].keyID != senders[1].keyID {
		t.Fatalf("member's keys after a colliding key id: %d keys, want the colliding one first, then the other", len(keys))
	}
	m, _ := senders[0].Seal(nil, []byte("replaced"))
	if _, err := g.Open(nil, "ann", m); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("message under the replaced key: %v, want ErrInvalidSignature", err)
	}
	if err := g.SetMember("ann", senders[0].Distribution()); !errors.Is(err, ErrStaleDistribution) {
		t.Errorf("the replaced key's distribution again: %v, want ErrStaleDistribution", err)
	}
	for i, s := range senders[1:] {
		m, _ := s.Seal(nil, []byte("kept"))
		if pt, err := g.Open(nil, "ann", m); err != nil || string(pt) != "kept" {
			t.Errorf("sender %d: %q, %v", i+1, pt, err)
		}
	}
}

// TestGroupStateRefusesReceiverLimits saves a group whose member's
// receiver has another MaxSkip or MaxSkippedKeys than the group's, which
// no group makes (its receivers take its Options): UnmarshalBinary
// refuses it. Taking it, a loaded member with one key could store up to
// its receiver's larger limit (49b2e92 made Open evict to the group's
// limit for that case).
func TestGroupStateRefusesReceiverLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(r *GroupReceiver)
	}{
		{"MaxSkippedKeys", func(r *GroupReceiver) { r.maxSkipped = 10 }},
		{"MaxSkip", func(r *GroupReceiver) { r.maxSkip = 10 }},
	} {
		g, err := NewGroup(Options{MaxSkippedKeys: 2})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewGroupSender(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.SetMember("h", s.Distribution()); err != nil {
			t.Fatal(err)
		}
		b, err := g.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var loaded Group
		if err := loaded.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: group's own state: %v", c.name, err)
		}
		c.set(g.members["h"].keys[0])
		if b, err = g.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
		if err := loaded.UnmarshalBinary(b); !errors.Is(err, ErrBadState) {
			t.Errorf("receiver with another %s than the group's: %v, want ErrBadState", c.name, err)
		}
	}
}

// TestReceiverStateRefusesUnorderedSkippedKeys swaps the two skipped keys
// of a saved receiver, alone and in a group: MarshalBinary writes them
// ascending, and the decoders refuse any other order (they took it).
func TestReceiverStateRefusesUnorderedSkippedKeys(t *testing.T) {
	g, err := NewGroup(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewGroupSender(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetMember("h", s.Distribution()); err != nil {
		t.Fatal(err)
	}
	skipSealing(s, 2)
	m, _ := s.Seal(nil, []byte("x"))
	if _, err := g.Open(nil, "h", m); err != nil {
		t.Fatal(err)
	}
	rb, err := g.members["h"].keys[0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	gb, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The receiver's encoding ends in its count and two keys of 36 bytes
	// (iteration, key), and the group's in that and the forgotten count.
	swap := func(b []byte, end int) []byte {
		b = slices.Clone(b)
		first := slices.Clone(b[end-72 : end-36])
		copy(b[end-72:], b[end-36:end])
		copy(b[end-36:], first)
		return b
	}
	var r GroupReceiver
	if err := r.UnmarshalBinary(rb); err != nil {
		t.Fatal(err)
	}
	if err := r.UnmarshalBinary(swap(rb, len(rb))); !errors.Is(err, ErrBadState) {
		t.Errorf("receiver with descending skipped keys: %v, want ErrBadState", err)
	}
	var back Group
	if err := back.UnmarshalBinary(gb); err != nil {
		t.Fatal(err)
	}
	if err := back.UnmarshalBinary(swap(gb, len(gb)-1)); !errors.Is(err, ErrBadState) {
		t.Errorf("group with descending skipped keys: %v, want ErrBadState", err)
	}
}

// retained returns the heap that what f returns keeps alive: HeapAlloc
// after a GC with it held, less HeapAlloc after a GC before f.
func retained(f func() any) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	v := f()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(v)
	if m1.HeapAlloc < m0.HeapAlloc {
		return 0
	}
	return m1.HeapAlloc - m0.HeapAlloc
}

// skipSealing advances s by n iterations without sealing anything, as if
// it had sent n messages that never arrive.
func skipSealing(s *GroupSender, n int) {
	for range n {
		s.chain, _ = KDFCK(s.chain)
		s.iteration++
	}
}

// TestOldSenderKeysGiveBackSkippedMemory gives a member keys sender keys
// one after another, each opening iterations 1000 and 2001 (MaxSkip 1000,
// MaxSkippedKeys 2000), so that each stores 2000 skipped keys while it is
// the newest and the group evicts all those of the older ones. Five keys
// must retain about what one does: the 2000 live skipped keys, not five
// maps grown to 2000 each. Without rebuilding a receiver's map after
// evictions they retained 843 KB against one key's 175 KB (a Go map never
// shrinks, and eviction only resliced order from the front).
func TestOldSenderKeysGiveBackSkippedMemory(t *testing.T) {
	opts := Options{MaxSkip: 1000, MaxSkippedKeys: 2000}
	build := func(keys int) *Group {
		g, err := NewGroup(opts)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewGroupSender(opts)
		if err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			if k > 0 {
				if err := s.Rotate(); err != nil {
					t.Fatal(err)
				}
			}
			if err := g.SetMember("ann", s.Distribution()); err != nil {
				t.Fatal(err)
			}
			for _, gap := range []int{1000, 1000} {
				skipSealing(s, gap)
				m, _ := s.Seal(nil, []byte("x"))
				if _, err := g.Open(nil, "ann", m); err != nil {
					t.Fatal(err)
				}
			}
		}
		return g
	}
	// One key's map splits into tables by its random hash seed, so what
	// it retains varies (137 to 175 KB): take the larger of two.
	one := max(retained(func() any { return build(1) }), retained(func() any { return build(1) }))
	var g *Group
	five := retained(func() any { g = build(MaxSenderKeyStates); return g })
	t.Logf("one key retains %d bytes, %d keys %d", one, MaxSenderKeyStates, five)
	if five > one*3/2 {
		t.Errorf("%d keys retain %d bytes, one key %d: more than 1.5 times", MaxSenderKeyStates, five, one)
	}
	keys := g.members["ann"].keys
	if n := len(keys[0].skipped); n != opts.MaxSkippedKeys {
		t.Fatalf("newest key stores %d skipped keys, want %d", n, opts.MaxSkippedKeys)
	}
	for i, r := range keys[1:] {
		if r.skipped != nil || cap(r.order) != 0 {
			t.Errorf("key %d, its skipped keys all evicted, holds a map (%d live) and %d of order", i+1, len(r.skipped), cap(r.order))
		}
	}
}

// TestUsedSkippedKeysGiveBackMemory opens all of a receiver's delayed
// messages: with no skipped key left it holds no map and no order, and
// once fewer than half were left its map and order were rebuilt at the
// live size.
func TestUsedSkippedKeysGiveBackMemory(t *testing.T) {
	s, err := NewGroupSender(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewGroupReceiver(s.Distribution(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var late [][]byte
	for range 100 {
		m, _ := s.Seal(nil, []byte("late"))
		late = append(late, m)
	}
	m, _ := s.Seal(nil, []byte("x"))
	if _, err := r.Open(nil, m); err != nil {
		t.Fatal(err)
	}
	for i, m := range late {
		if _, err := r.Open(nil, m); err != nil {
			t.Fatal(err)
		}
		if i == 50 && cap(r.order) != 49 {
			t.Errorf("49 of 100 skipped keys left: order's capacity %d, want 49 (rebuilt at the live size)", cap(r.order))
		}
	}
	if r.skipped != nil || r.order != nil {
		t.Errorf("no skipped key left, yet a map (%d) and order (cap %d) held", len(r.skipped), cap(r.order))
	}
}

// TestSetMemberDropsOlderKeysScratch opens a late message under each of a
// member's older keys, which makes their derivation scratch, and gives the
// member a new key: every key but the new one must have dropped it, as
// the package doc says ("until the member's next rotation"). Only the
// previous newest key's was dropped.
func TestSetMemberDropsOlderKeysScratch(t *testing.T) {
	g, err := NewGroup(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewGroupSender(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var late [][]byte
	for k := range 3 {
		if k > 0 {
			if err := s.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.SetMember("ann", s.Distribution()); err != nil {
			t.Fatal(err)
		}
		m, _ := s.Seal(nil, []byte("late"))
		late = append(late, m)
	}
	for _, m := range late {
		if _, err := g.Open(nil, "ann", m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := g.SetMember("ann", s.Distribution()); err != nil {
		t.Fatal(err)
	}
	for i, r := range g.members["ann"].keys[1:] {
		if r.kdf != nil {
			t.Errorf("older key %d keeps its derivation scratch after the member's rotation", i+1)
		}
	}
}

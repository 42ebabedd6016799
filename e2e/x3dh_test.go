package e2e_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/e2e"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLibsignalChainKeyVector checks KDFCK and MessageKeyMaterial against
// libsignal's test_chain_key_derivation (rust/protocol/src/ratchet/keys.rs).
func TestLibsignalChainKeyVector(t *testing.T) {
	ck := [32]byte(unhex(t, "8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f"))
	next, seed := e2e.KDFCK(ck)
	if want := unhex(t, "28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d"); !bytes.Equal(next[:], want) {
		t.Errorf("next chain key = %x, want %x", next, want)
	}
	keys, err := e2e.MessageKeyMaterial(seed, "WhisperMessageKeys", 80)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217"); !bytes.Equal(keys[:32], want) {
		t.Errorf("cipher key = %x, want %x", keys[:32], want)
	}
	if want := unhex(t, "c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b"); !bytes.Equal(keys[32:64], want) {
		t.Errorf("MAC key = %x, want %x", keys[32:64], want)
	}
	// The IV is the last 16 of the 80 bytes: recompute the HKDF (RFC 5869)
	// with crypto/hmac, blocks T1 ‖ T2 ‖ T3, and compare all of it.
	mac := func(key []byte, parts ...[]byte) []byte {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write(p)
		}
		return m.Sum(nil)
	}
	info := []byte("WhisperMessageKeys")
	prk := mac(make([]byte, 32), seed[:])
	t1 := mac(prk, info, []byte{1})
	t2 := mac(prk, t1, info, []byte{2})
	t3 := mac(prk, t2, info, []byte{3})
	if len(keys) != 80 || !bytes.Equal(keys[64:], t3[:16]) || !bytes.Equal(keys[:64], slices.Concat(t1, t2)) {
		t.Errorf("HKDF output %x, want T1 ‖ T2 ‖ T3[:16] = %x ‖ %x ‖ %x", keys, t1, t2, t3[:16])
	}
	if iv := keys[64:80]; len(iv) != 16 || bytes.Equal(iv, make([]byte, 16)) {
		t.Errorf("IV = %x", iv)
	}
}

// TestX3DHSecretFromRawDH recomputes both sides' X3DH from raw keys with the
// exported DH and X3DHSecret, as an external checker would.
func TestX3DHSecretFromRawDH(t *testing.T) {
	r := newDRBG(testSeed(t))
	key := func() (priv, pub [32]byte) {
		r.Read(priv[:])
		var err error
		// The public key is X25519(priv, 9).
		pub, err = e2e.DH(priv, [32]byte{9})
		if err != nil {
			t.Fatal(err)
		}
		return priv, pub
	}
	ika, ikaPub := key()
	ikb, ikbPub := key()
	spk, spkPub := key()
	opk, opkPub := key()
	ek, ekPub := key()
	dh := func(priv, pub [32]byte) []byte {
		out, err := e2e.DH(priv, pub)
		if err != nil {
			t.Fatal(err)
		}
		return out[:]
	}
	alice, err := e2e.X3DHSecret("WhisperText", 64, dh(ika, spkPub), dh(ek, ikbPub), dh(ek, spkPub), dh(ek, opkPub))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e2e.X3DHSecret("WhisperText", 64, dh(spk, ikaPub), dh(ikb, ekPub), dh(spk, ekPub), dh(opk, ekPub))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(alice, bob) || len(alice) != 64 {
		t.Fatalf("X3DH secrets differ: %x vs %x", alice, bob)
	}
	three, _ := e2e.X3DHSecret("WhisperText", 64, dh(ika, spkPub), dh(ek, ikbPub), dh(ek, spkPub))
	if bytes.Equal(three, alice) {
		t.Error("DH4 did not change the secret")
	}
	if _, err := e2e.X3DHSecret("x", 32, []byte{1, 2, 3}); !errors.Is(err, e2e.ErrBadKey) {
		t.Errorf("X3DHSecret(short DH) = %v, want ErrBadKey", err)
	}
}

// TestDerivedLengthOutOfRange checks that X3DHSecret and MessageKeyMaterial
// refuse a negative length or one beyond HKDF-SHA256's 255×32 = 8160 bytes
// with ErrDerivedLength, without panicking (crypto/hkdf panics on a
// negative length), and accept the bounds 0 and 8160.
func TestDerivedLengthOutOfRange(t *testing.T) {
	dh := make([]byte, 32)
	for _, n := range []int{-1, math.MinInt, 8161, math.MaxInt} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("n = %d: panic %v", n, r)
				}
			}()
			if out, err := e2e.X3DHSecret("x", n, dh, dh, dh); !errors.Is(err, e2e.ErrDerivedLength) || out != nil {
				t.Errorf("X3DHSecret(n = %d) = %d bytes, %v, want ErrDerivedLength", n, len(out), err)
			}
			if out, err := e2e.MessageKeyMaterial([32]byte{}, "x", n); !errors.Is(err, e2e.ErrDerivedLength) || out != nil {
				t.Errorf("MessageKeyMaterial(n = %d) = %d bytes, %v, want ErrDerivedLength", n, len(out), err)
			}
		}()
	}
	for _, n := range []int{0, 8160} {
		if out, err := e2e.X3DHSecret("x", n, dh, dh, dh); err != nil || len(out) != n {
			t.Errorf("X3DHSecret(n = %d) = %d bytes, %v", n, len(out), err)
		}
		if out, err := e2e.MessageKeyMaterial([32]byte{}, "x", n); err != nil || len(out) != n {
			t.Errorf("MessageKeyMaterial(n = %d) = %d bytes, %v", n, len(out), err)
		}
	}
}

func TestX3DHWithAndWithoutOneTimePrekey(t *testing.T) {
	for _, withOPK := range []bool{true, false} {
		alice, bob := mustIdentity(t, 10), mustIdentity(t, 11)
		kr, err := e2e.NewKeyring(bob, e2e.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
		if withOPK {
			otps, _ := kr.GenerateOneTimePrekeys(3)
			b.OneTimePrekey = &otps[1]
		}
		as, err := e2e.Initiate(alice, b, e2e.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := seal(t, as, "first")
		if !e2e.IsInitial(m) || len(m) != e2e.PrekeyOverhead+e2e.Overhead+len("first") {
			t.Errorf("initial message: IsInitial %v, len %d", e2e.IsInitial(m), len(m))
		}
		if id, err := e2e.PeekIdentity(m); err != nil || id != alice.Public() {
			t.Errorf("PeekIdentity = %v, %v", id, err)
		}
		bs, pt, err := kr.Accept(nil, m)
		if err != nil || string(pt) != "first" {
			t.Fatalf("Accept = %q, %v", pt, err)
		}
		if bs.Peer() != alice.Public() || as.Peer() != bob.Public() {
			t.Error("Peer identities wrong")
		}
		if !bytes.Equal(as.AssociatedData(), bs.AssociatedData()) ||
			!bytes.Equal(as.AssociatedData(), e2e.AssociatedData(alice.Public(), bob.Public())) {
			t.Error("associated data differs")
		}
		if want := map[bool]int{true: 2, false: 0}[withOPK]; kr.OneTimePrekeys() != want {
			t.Errorf("one-time prekeys left = %d, want %d", kr.OneTimePrekeys(), want)
		}
		// Until Alice hears back, every message carries the X3DH prefix,
		// and Bob's session opens them.
		m2 := seal(t, as, "second")
		if !e2e.IsInitial(m2) {
			t.Error("second message before a reply lost its X3DH prefix")
		}
		open(t, bs, m2, "second")
		open(t, as, seal(t, bs, "reply"), "reply")
		if m3 := seal(t, as, "third"); e2e.IsInitial(m3) {
			t.Error("message after a reply still carries the X3DH prefix")
		} else {
			open(t, bs, m3, "third")
		}
	}
}

func TestForgedSignedPrekeyRefused(t *testing.T) {
	alice, bob, mallory := mustIdentity(t, 20), mustIdentity(t, 21), mustIdentity(t, 22)
	kr, _ := e2e.NewKeyring(bob, e2e.Options{})
	mkr, _ := e2e.NewKeyring(mallory, e2e.Options{})
	good := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
	cases := map[string]func(b *e2e.Bundle){
		"flipped signature bit": func(b *e2e.Bundle) { b.SignedPrekey.Signature[17] ^= 0x10 },
		"substituted prekey":    func(b *e2e.Bundle) { b.SignedPrekey.Public = mkr.SignedPrekey().Public },
		"signed by another identity": func(b *e2e.Bundle) {
			b.SignedPrekey = mkr.SignedPrekey()
		},
		"substituted signing key": func(b *e2e.Bundle) { b.Identity.Sign = mallory.Public().Sign },
		"zero signature":          func(b *e2e.Bundle) { b.SignedPrekey.Signature = [64]byte{} },
	}
	for name, forge := range cases {
		b := good
		forge(&b)
		s, err := e2e.Initiate(alice, b, e2e.Options{})
		if !errors.Is(err, e2e.ErrInvalidSignature) || s != nil {
			t.Errorf("%s: Initiate = %v, %v, want ErrInvalidSignature", name, s, err)
		}
	}
	// Every single-bit flip of the signature or the prekey is refused.
	for i := range 64 * 8 {
		b := good
		b.SignedPrekey.Signature[i/8] ^= 1 << (i % 8)
		if _, err := e2e.Initiate(alice, b, e2e.Options{}); !errors.Is(err, e2e.ErrInvalidSignature) {
			t.Fatalf("signature bit %d flipped: %v", i, err)
		}
	}
	for i := range 32 * 8 {
		b := good
		b.SignedPrekey.Public[i/8] ^= 1 << (i % 8)
		if _, err := e2e.Initiate(alice, b, e2e.Options{}); !errors.Is(err, e2e.ErrInvalidSignature) {
			t.Fatalf("prekey bit %d flipped: %v", i, err)
		}
	}
	if _, err := e2e.Initiate(alice, good, e2e.Options{}); err != nil {
		t.Fatalf("genuine bundle refused: %v", err)
	}
}

func TestInitialMessageReplayRefused(t *testing.T) {
	for _, withOPK := range []bool{true, false} {
		alice, bob := mustIdentity(t, 30), mustIdentity(t, 31)
		kr, _ := e2e.NewKeyring(bob, e2e.Options{})
		b := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
		if withOPK {
			otps, _ := kr.GenerateOneTimePrekeys(1)
			b.OneTimePrekey = &otps[0]
		}
		as, _ := e2e.Initiate(alice, b, e2e.Options{})
		m := seal(t, as, "once")
		if _, _, err := kr.Accept(nil, m); err != nil {
			t.Fatal(err)
		}
		if s, pt, err := kr.Accept(nil, m); !errors.Is(err, e2e.ErrReplay) || s != nil || len(pt) != 0 {
			t.Errorf("one-time prekey %v: replayed Accept = %v, %q, %v, want ErrReplay", withOPK, s, pt, err)
		}
	}
}

// TestAcceptErrors checks errors Accept's doc lists beyond the common
// ones: ErrBadKey for a non-canonical base key in the prefix,
// ErrTooManySkipped for a first message more than MaxSkip into the chain,
// and ErrReplay (not ErrUnknownPrekey) for a one-time prekey id below the
// keyring's next id that it never issued as one (id 0, or its signed
// prekey's id), since the keyring cannot tell those from used ones; an id
// not issued yet is ErrUnknownPrekey. None of them consumes anything.
func TestAcceptErrors(t *testing.T) {
	alice, bob := mustIdentity(t, 32), mustIdentity(t, 33)
	kr, err := e2e.NewKeyring(bob, e2e.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otps, err := kr.GenerateOneTimePrekeys(1)
	if err != nil {
		t.Fatal(err)
	}
	spk := kr.SignedPrekey()
	initial := func(opk *e2e.OneTimePrekey) *e2e.Session {
		t.Helper()
		s, err := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: spk, OneTimePrekey: opk}, e2e.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	m := seal(t, initial(&otps[0]), "x")
	// The base key follows the type byte and the identity (64 bytes); set
	// its top bit, which X25519 ignores.
	m[1+64+31] |= 0x80
	if _, _, err := kr.Accept(nil, m); !errors.Is(err, e2e.ErrBadKey) {
		t.Errorf("non-canonical base key: %v, want ErrBadKey", err)
	}

	s := initial(&otps[0])
	for range e2e.DefaultMaxSkip + 1 {
		seal(t, s, "skipped")
	}
	if _, _, err := kr.Accept(nil, seal(t, s, "too far")); !errors.Is(err, e2e.ErrTooManySkipped) {
		t.Errorf("first message at N = MaxSkip+1: %v, want ErrTooManySkipped", err)
	}

	for _, id := range []uint32{0, spk.ID} {
		opk := e2e.OneTimePrekey{ID: id, Public: otps[0].Public}
		if _, _, err := kr.Accept(nil, seal(t, initial(&opk), "x")); !errors.Is(err, e2e.ErrReplay) {
			t.Errorf("one-time prekey id %d, never issued as one: %v, want ErrReplay", id, err)
		}
	}
	opk := e2e.OneTimePrekey{ID: otps[0].ID + 1, Public: otps[0].Public}
	if _, _, err := kr.Accept(nil, seal(t, initial(&opk), "x")); !errors.Is(err, e2e.ErrUnknownPrekey) {
		t.Errorf("one-time prekey id not issued yet: %v, want ErrUnknownPrekey", err)
	}

	if kr.OneTimePrekeys() != 1 {
		t.Fatal("a refused message consumed the one-time prekey")
	}
	if _, _, err := kr.Accept(nil, seal(t, initial(&otps[0]), "x")); err != nil {
		t.Fatalf("genuine initial message: %v", err)
	}
}

func TestForgedInitialMessageConsumesNothing(t *testing.T) {
	alice, bob := mustIdentity(t, 40), mustIdentity(t, 41)
	kr, _ := e2e.NewKeyring(bob, e2e.Options{})
	otps, _ := kr.GenerateOneTimePrekeys(1)
	as, _ := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey(), OneTimePrekey: &otps[0]}, e2e.Options{})
	m := seal(t, as, "x")
	for i := range len(m) * 8 {
		f := bytes.Clone(m)
		f[i/8] ^= 1 << (i % 8)
		if s, _, err := kr.Accept(nil, f); err == nil || s != nil {
			t.Fatalf("bit %d flipped: Accept succeeded", i)
		}
	}
	if kr.OneTimePrekeys() != 1 {
		t.Fatalf("forged messages consumed the one-time prekey")
	}
	if _, _, err := kr.Accept(nil, m); err != nil {
		t.Fatalf("genuine initial message after forgeries: %v", err)
	}
	if _, _, err := kr.Accept(nil, m[:e2e.PrekeyOverhead-1]); !errors.Is(err, e2e.ErrBadHeader) {
		t.Errorf("truncated initial message: %v, want ErrBadHeader", err)
	}
}

func TestKeyringSignedPrekeyGrace(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts := e2e.Options{Now: clock.Now, PrekeyGrace: time.Hour}
	alice, bob := mustIdentity(t, 50), mustIdentity(t, 51)
	kr, _ := e2e.NewKeyring(bob, opts)
	old := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
	if _, err := kr.RotateSignedPrekey(); err != nil {
		t.Fatal(err)
	}
	if kr.SignedPrekey() == old.SignedPrekey {
		t.Fatal("rotation kept the signed prekey")
	}
	a1, _ := e2e.Initiate(alice, old, opts)
	a2, _ := e2e.Initiate(alice, old, opts)
	clock.now = clock.now.Add(59 * time.Minute)
	if _, _, err := kr.Accept(nil, seal(t, a1, "in grace")); err != nil {
		t.Errorf("initial message to the previous signed prekey within grace: %v", err)
	}
	clock.now = clock.now.Add(time.Minute)
	if _, _, err := kr.Accept(nil, seal(t, a2, "late")); !errors.Is(err, e2e.ErrUnknownPrekey) {
		t.Errorf("initial message after grace: %v, want ErrUnknownPrekey", err)
	}
	cur, _ := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}, opts)
	if _, _, err := kr.Accept(nil, seal(t, cur, "now")); err != nil {
		t.Errorf("initial message to the current signed prekey: %v", err)
	}
}

// TestKeyringDropsExpiredPreviousPrekey checks that the previous signed
// prekey answers until its grace period has passed and that, from then on,
// the keyring no longer holds it: messages naming it are unknown, and
// neither its private key nor its replay record is in the saved state.
func TestKeyringDropsExpiredPreviousPrekey(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	kr, opts, old := retiredKeyring(t, clock.Now)
	alice := mustIdentity(t, 131)
	first, _ := e2e.Initiate(alice, old, opts)
	late, _ := e2e.Initiate(alice, old, opts)
	firstMsg, lateMsg := seal(t, first, "in grace"), seal(t, late, "late")
	base := firstMsg[1+2*e2e.KeySize : 1+3*e2e.KeySize] // the prefix's base key

	clock.now = t0.Add(time.Hour - time.Nanosecond)
	if _, _, err := kr.Accept(nil, firstMsg); err != nil {
		t.Fatalf("Accept under the previous signed prekey within grace: %v", err)
	}
	inGrace := keyringState(t, kr)
	_, oldPriv := signedPrekeyPrivates(inGrace)
	if oldPriv == nil || !bytes.Contains(inGrace, base) {
		t.Fatal("state within grace lacks the previous signed prekey or its replay record")
	}
	oldPriv = bytes.Clone(oldPriv)

	clock.now = t0.Add(time.Hour)
	if _, _, err := kr.Accept(nil, lateMsg); !errors.Is(err, e2e.ErrUnknownPrekey) {
		t.Errorf("Accept under the previous signed prekey after grace: %v, want ErrUnknownPrekey", err)
	}
	if _, _, err := kr.Accept(nil, firstMsg); !errors.Is(err, e2e.ErrUnknownPrekey) {
		t.Errorf("replay under the previous signed prekey after grace: %v, want ErrUnknownPrekey", err)
	}
	expired := keyringState(t, kr)
	if _, prev := signedPrekeyPrivates(expired); prev != nil {
		t.Error("state after grace still holds a previous signed prekey")
	}
	if bytes.Contains(expired, oldPriv) {
		t.Error("state after grace contains the previous signed prekey's private key")
	}
	if bytes.Contains(expired, base) {
		t.Error("state after grace contains the previous signed prekey's replay record")
	}
	cur, _ := e2e.Initiate(alice, e2e.Bundle{Identity: old.Identity, SignedPrekey: kr.SignedPrekey()}, opts)
	if _, _, err := kr.Accept(nil, seal(t, cur, "now")); err != nil {
		t.Errorf("Accept under the current signed prekey after grace: %v", err)
	}
	if n := kr.OneTimePrekeys(); n != 2 {
		t.Errorf("OneTimePrekeys() = %d after grace, want 2", n)
	}
}

// TestLoadKeyringExpiredPreviousPrekey loads a state saved by the code
// before keyrings dropped expired prekeys (commit d7491f4, the keyring of
// retiredKeyring saved two hours after its rotation, its previous signed
// prekey expired but still held). Within the grace period this code writes
// the same bytes for the same keyring, so the format is unchanged; loaded
// after the grace period, the state loses its previous signed prekey.
func TestLoadKeyringExpiredPreviousPrekey(t *testing.T) {
	blob, err := os.ReadFile("testdata/keyring-expired-previous.bin")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	kr, opts, old := retiredKeyring(t, clock.Now)
	if st := keyringState(t, kr); !bytes.Equal(st, blob) {
		t.Fatalf("state within grace differs from the saved one:\n%x\nwant\n%x", st, blob)
	}
	_, oldPriv := signedPrekeyPrivates(blob)
	if oldPriv == nil {
		t.Fatal("saved state holds no previous signed prekey")
	}

	clock.now = t0.Add(time.Hour - time.Nanosecond)
	back, err := e2e.LoadKeyring(blob, opts)
	if err != nil {
		t.Fatalf("LoadKeyring within grace = %v", err)
	}
	if st := keyringState(t, back); !bytes.Equal(st, blob) {
		t.Error("state loaded within grace does not re-encode to the same bytes")
	}

	clock.now = t0.Add(2 * time.Hour)
	back, err = e2e.LoadKeyring(blob, opts)
	if err != nil {
		t.Fatalf("LoadKeyring after grace = %v", err)
	}
	st := keyringState(t, back)
	if _, prev := signedPrekeyPrivates(st); prev != nil || bytes.Contains(st, oldPriv) {
		t.Error("state loaded after grace still holds the previous signed prekey")
	}
	if len(st) != len(blob)-(4+e2e.KeySize+64+8+4+e2e.KeySize) {
		t.Errorf("state loaded after grace is %d bytes, want %d without the previous prekey and its one base key",
			len(st), len(blob)-(4+e2e.KeySize+64+8+4+e2e.KeySize))
	}
	alice := mustIdentity(t, 131)
	a, _ := e2e.Initiate(alice, old, opts)
	if _, _, err := back.Accept(nil, seal(t, a, "late")); !errors.Is(err, e2e.ErrUnknownPrekey) {
		t.Errorf("Accept under the expired prekey after loading: %v, want ErrUnknownPrekey", err)
	}
	a, _ = e2e.Initiate(alice, e2e.Bundle{Identity: old.Identity, SignedPrekey: back.SignedPrekey()}, opts)
	if _, _, err := back.Accept(nil, seal(t, a, "now")); err != nil {
		t.Errorf("Accept under the current prekey after loading: %v", err)
	}
	if back.SignedPrekey() != kr.SignedPrekey() || back.OneTimePrekeys() != 2 {
		t.Error("loading after grace lost the current or the one-time prekeys")
	}
}

// TestKeyringAcceptRacesExpiry runs Accepts under the previous signed
// prekey while another goroutine moves the clock past its grace period and
// saves the state: every Accept either succeeds or gives ErrUnknownPrekey,
// those that start after the move all give ErrUnknownPrekey, and no state
// saved after the move holds the previous private key. Run it with -race.
func TestKeyringAcceptRacesExpiry(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &syncClock{now: t0}
	opts := e2e.Options{Now: clock.Now, PrekeyGrace: time.Hour}
	alice, bob := mustIdentity(t, 140), mustIdentity(t, 141)
	kr, _ := e2e.NewKeyring(bob, opts)
	old := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
	if _, err := kr.RotateSignedPrekey(); err != nil {
		t.Fatal(err)
	}
	_, oldPriv := signedPrekeyPrivates(keyringState(t, kr))
	if oldPriv == nil {
		t.Fatal("no previous signed prekey after rotation")
	}
	oldPriv = bytes.Clone(oldPriv)
	msgs := make([][]byte, 24)
	for i := range msgs {
		s, err := e2e.Initiate(alice, old, opts)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = seal(t, s, fmt.Sprint(i))
	}
	var expired atomic.Bool
	errs := make([]error, len(msgs))
	startedLate := make([]bool, len(msgs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() {
			<-start
			startedLate[i] = expired.Load()
			_, _, errs[i] = kr.Accept(nil, m)
		})
	}
	wg.Go(func() {
		<-start
		clock.set(t0.Add(time.Hour))
		expired.Store(true)
		st, err := kr.MarshalBinary()
		if _, prev := signedPrekeyPrivates(st); err != nil || prev != nil || bytes.Contains(st, oldPriv) {
			t.Errorf("state saved after the grace period holds the previous signed prekey (err %v)", err)
		}
	})
	close(start)
	wg.Wait()
	accepted := 0
	for i, err := range errs {
		switch {
		case err == nil && !startedLate[i]:
			accepted++
		case errors.Is(err, e2e.ErrUnknownPrekey):
		default:
			t.Errorf("Accept %d (started after expiry: %v) = %v, want success before expiry or ErrUnknownPrekey",
				i, startedLate[i], err)
		}
	}
	t.Logf("%d of %d accepted before expiry", accepted, len(msgs))
	if _, _, err := kr.Accept(nil, msgs[0]); !errors.Is(err, e2e.ErrUnknownPrekey) {
		t.Errorf("Accept after the race: %v, want ErrUnknownPrekey", err)
	}
	if bytes.Contains(keyringState(t, kr), oldPriv) {
		t.Error("state after the race contains the previous signed prekey's private key")
	}
}

// TestKeyringAcceptStraddlesExpiry has the grace period end while Accept
// computes: the clock shows it running when Accept looks the prekey up and
// over when Accept comes back to record the base key. The message is
// refused with ErrUnknownPrekey and nothing of it or of the prekey is kept.
func TestKeyringAcceptStraddlesExpiry(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	armed, readings := false, 0
	clock := func() time.Time {
		if !armed {
			return t0
		}
		if readings++; readings == 1 {
			return t0.Add(time.Hour - time.Nanosecond)
		}
		return t0.Add(time.Hour)
	}
	kr, opts, old := retiredKeyring(t, clock)
	a, _ := e2e.Initiate(mustIdentity(t, 131), old, opts)
	m := seal(t, a, "straddling")
	armed = true
	if _, _, err := kr.Accept(nil, m); !errors.Is(err, e2e.ErrUnknownPrekey) {
		t.Errorf("Accept straddling the end of the grace period: %v, want ErrUnknownPrekey", err)
	}
	if readings < 2 {
		t.Fatalf("Accept read the clock %d times, want one reading before the agreements and one after", readings)
	}
	st := keyringState(t, kr)
	if _, prev := signedPrekeyPrivates(st); prev != nil || bytes.Contains(st, m[1+2*e2e.KeySize:1+3*e2e.KeySize]) {
		t.Error("state after a straddling Accept holds the previous signed prekey or the message's base key")
	}
}

func TestKeyringConcurrentAcceptOnce(t *testing.T) {
	for _, withOPK := range []bool{false, true} {
		t.Run(fmt.Sprintf("opk=%v", withOPK), func(t *testing.T) { concurrentAcceptOnce(t, withOPK) })
	}
}

func concurrentAcceptOnce(t *testing.T, withOPK bool) {
	alice, bob := mustIdentity(t, 60), mustIdentity(t, 61)
	kr, _ := e2e.NewKeyring(bob, e2e.Options{})
	b := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
	if withOPK {
		otps, _ := kr.GenerateOneTimePrekeys(2)
		b.OneTimePrekey = &otps[0]
	}
	as, _ := e2e.Initiate(alice, b, e2e.Options{})
	m := seal(t, as, "race")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, replay := 0, 0
	for range 8 {
		wg.Go(func() {
			_, _, err := kr.Accept(nil, m)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, e2e.ErrReplay):
				replay++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || replay != 7 {
		t.Errorf("concurrent Accept: %d accepted, %d replays, want 1 and 7", ok, replay)
	}
}

func TestIdentityRawRoundTrip(t *testing.T) {
	id := mustIdentity(t, 70)
	back, err := e2e.IdentityFromBytes(id.Bytes())
	if err != nil || back.Public() != id.Public() {
		t.Fatalf("IdentityFromBytes(Bytes()) = %v, %v", back, err)
	}
	if _, err := e2e.IdentityFromBytes(id.Bytes()[1:]); !errors.Is(err, e2e.ErrBadKey) {
		t.Errorf("short identity: %v, want ErrBadKey", err)
	}
	if id.Public().Fingerprint() == mustIdentity(t, 71).Public().Fingerprint() {
		t.Error("fingerprints of different identities collide")
	}
}

func TestKeyringStateRoundTrip(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts := e2e.Options{Now: clock.Now, PrekeyGrace: time.Hour}
	alice, bob := mustIdentity(t, 110), mustIdentity(t, 111)
	kr, _ := e2e.NewKeyring(bob, opts)
	otps, _ := kr.GenerateOneTimePrekeys(3)
	old := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
	accepted, _ := e2e.Initiate(alice, old, opts)
	first := seal(t, accepted, "before the restart")
	if _, _, err := kr.Accept(nil, first); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.RotateSignedPrekey(); err != nil {
		t.Fatal(err)
	}
	b, err := kr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := e2e.LoadKeyring(b, opts)
	if err != nil {
		t.Fatalf("LoadKeyring = %v", err)
	}
	if again, _ := back.MarshalBinary(); !bytes.Equal(again, b) {
		t.Fatal("keyring encoding is not a fixed point")
	}
	if back.SignedPrekey() != kr.SignedPrekey() || back.OneTimePrekeys() != 3 {
		t.Fatal("restored keyring lost its prekeys")
	}
	// The replay record, the previous signed prekey and the one-time
	// prekeys all survive.
	if _, _, err := back.Accept(nil, first); !errors.Is(err, e2e.ErrReplay) {
		t.Errorf("replay after restore: %v, want ErrReplay", err)
	}
	old.OneTimePrekey = &otps[2]
	s, _ := e2e.Initiate(alice, old, opts)
	if _, _, err := back.Accept(nil, seal(t, s, "to the previous prekey")); err != nil {
		t.Errorf("previous signed prekey after restore: %v", err)
	}
	for _, cut := range []int{0, 5, len(b) / 2, len(b) - 1} {
		if _, err := e2e.LoadKeyring(b[:cut], opts); !errors.Is(err, e2e.ErrBadState) {
			t.Errorf("truncated to %d: %v, want ErrBadState", cut, err)
		}
	}
	forged := bytes.Clone(b)
	forged[5+64+4+4+32] ^= 1 // first byte of the current signature
	if _, err := e2e.LoadKeyring(forged, opts); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("forged signature: %v, want ErrBadState", err)
	}
}

// TestLaterInitialMessagesAuthenticated flips every bit of an initiator's
// later initial messages (the X3DH prefix, header and body), in both header
// modes, with and without a one-time prekey: the responder's session refuses
// each one without changing state, then opens the genuine message. Changing
// only the prekey ids (fields nobody checks against the session) is refused
// too.
func TestLaterInitialMessagesAuthenticated(t *testing.T) {
	for _, mode := range modes {
		for _, withOPK := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/opk=%v", mode.name, withOPK), func(t *testing.T) {
				alice, bob := mustIdentity(t, 32), mustIdentity(t, 33)
				kr, _ := e2e.NewKeyring(bob, mode.opts)
				b := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
				if withOPK {
					otps, _ := kr.GenerateOneTimePrekeys(3)
					b.OneTimePrekey = &otps[1]
				}
				as, err := e2e.Initiate(alice, b, mode.opts)
				if err != nil {
					t.Fatal(err)
				}
				first, later := seal(t, as, "first"), seal(t, as, "later")
				bs, _, err := kr.Accept(nil, first)
				if err != nil {
					t.Fatal(err)
				}
				before := state(t, bs)
				refused := func(what string, f []byte) {
					t.Helper()
					if pt, err := bs.Open(nil, f); err == nil {
						t.Fatalf("%s: Open = %q, want an error", what, pt)
					}
					if !bytes.Equal(before, state(t, bs)) {
						t.Fatalf("%s: refused message changed the state", what)
					}
				}
				for i := range len(later) * 8 {
					f := bytes.Clone(later)
					f[i/8] ^= 1 << (i % 8)
					refused(fmt.Sprintf("bit %d", i), f)
				}
				// The ids: signed prekey id at 97, flag at 101, one-time id at 102.
				for _, edit := range []func(f []byte){
					func(f []byte) { binary.BigEndian.PutUint32(f[97:], b.SignedPrekey.ID+7) },
					func(f []byte) { binary.BigEndian.PutUint32(f[102:], 99) },
					func(f []byte) { f[101] ^= 1; binary.BigEndian.PutUint32(f[102:], 0) },
				} {
					f := bytes.Clone(later)
					edit(f)
					if !bytes.Equal(f, later) {
						refused("edited prekey ids", f)
					}
				}
				open(t, bs, later, "later")
			})
		}
	}
}

// TestInitiatorRefusesPrefixedReply wraps the responder's reply in an X3DH
// prefix naming the responder and a zero base key: the initiator's session,
// which has no base key, refuses it without changing state, and opens the
// plain reply.
func TestInitiatorRefusesPrefixedReply(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			alice, bob := mustIdentity(t, 34), mustIdentity(t, 35)
			kr, _ := e2e.NewKeyring(bob, mode.opts)
			as, err := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}, mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			bs, _, err := kr.Accept(nil, seal(t, as, "hi"))
			if err != nil {
				t.Fatal(err)
			}
			reply := seal(t, bs, "reply")
			pub := bob.Public()
			wrapped := []byte{3}
			wrapped = append(wrapped, pub.DH[:]...)
			wrapped = append(wrapped, pub.Sign[:]...)
			wrapped = append(wrapped, make([]byte, 32)...)
			wrapped = binary.BigEndian.AppendUint32(wrapped, kr.SignedPrekey().ID)
			wrapped = append(wrapped, 0, 0, 0, 0, 0)
			wrapped = append(wrapped, reply...)
			before := state(t, as)
			if pt, err := as.Open(nil, wrapped); err == nil {
				t.Fatalf("initiator opened a prefixed reply: %q", pt)
			}
			if !bytes.Equal(before, state(t, as)) {
				t.Fatal("refused message changed the state")
			}
			open(t, as, reply, "reply")
		})
	}
}

// TestReplayRecordOnlyWithoutOneTimePrekey caps the replay record at one
// base key: initial messages with one-time prekeys (protected by deleting
// the prekey) do not fill it, one without fills it, the next without is
// refused with ErrReplayRecordFull (a replay still with ErrReplay), and
// rotating the signed prekey makes room.
func TestReplayRecordOnlyWithoutOneTimePrekey(t *testing.T) {
	bob := mustIdentity(t, 62)
	opts := e2e.Options{MaxReplayRecord: 1}
	kr, _ := e2e.NewKeyring(bob, opts)
	otps, _ := kr.GenerateOneTimePrekeys(3)
	initial := func(seed uint64, opk *e2e.OneTimePrekey) []byte {
		as, err := e2e.Initiate(mustIdentity(t, seed), e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey(), OneTimePrekey: opk}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return seal(t, as, "hi")
	}
	for i := range otps {
		m := initial(uint64(63+i), &otps[i])
		if _, _, err := kr.Accept(nil, m); err != nil {
			t.Fatalf("with one-time prekey %d: %v", i, err)
		}
		if _, _, err := kr.Accept(nil, m); !errors.Is(err, e2e.ErrReplay) {
			t.Fatalf("replay with a used one-time prekey: %v, want ErrReplay", err)
		}
	}
	first := initial(70, nil)
	if _, _, err := kr.Accept(nil, first); err != nil {
		t.Fatalf("without one-time prekey, record empty: %v", err)
	}
	if _, _, err := kr.Accept(nil, first); !errors.Is(err, e2e.ErrReplay) {
		t.Fatalf("replay: %v, want ErrReplay", err)
	}
	second := initial(71, nil)
	if _, _, err := kr.Accept(nil, second); !errors.Is(err, e2e.ErrReplayRecordFull) {
		t.Fatalf("record full: %v, want ErrReplayRecordFull", err)
	}
	if _, err := kr.RotateSignedPrekey(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Accept(nil, initial(72, nil)); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

// TestGenerateOneTimePrekeysBadCount asks for a negative or impossible
// number of one-time prekeys: an error, no panic, nothing generated.
func TestGenerateOneTimePrekeysBadCount(t *testing.T) {
	kr, _ := e2e.NewKeyring(mustIdentity(t, 90), e2e.Options{})
	counts := []int{-1, math.MinInt}
	if math.MaxInt > math.MaxUint32 {
		// Beyond the 32-bit ids; an int cannot say so on 32-bit platforms.
		counts = append(counts, math.MaxInt)
	}
	for _, n := range counts {
		if otps, err := kr.GenerateOneTimePrekeys(n); !errors.Is(err, e2e.ErrPrekeyCount) || otps != nil {
			t.Errorf("GenerateOneTimePrekeys(%d) = %d keys, %v, want ErrPrekeyCount", n, len(otps), err)
		}
	}
	if otps, err := kr.GenerateOneTimePrekeys(0); err != nil || len(otps) != 0 {
		t.Errorf("GenerateOneTimePrekeys(0) = %v, %v", otps, err)
	}
	if kr.OneTimePrekeys() != 0 {
		t.Errorf("%d one-time prekeys held after refused requests", kr.OneTimePrekeys())
	}
}

// TestLoadKeyringRefusesInconsistentState edits a saved keyring (within
// its grace period, so it holds a previous signed prekey whose replay
// record has one base key) in ways MarshalBinary never writes: a base key
// recorded twice, and a previous prekey under the current one's id (the
// signature covers only the public key, so it still verifies). Each is
// refused with ErrBadState, as the session and group decoders refuse
// their duplicate entries.
func TestLoadKeyringRefusesInconsistentState(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	kr, opts, _ := retiredKeyring(t, clock.Now)
	st := keyringState(t, kr)
	// Offsets along the layout of Keyring.MarshalBinary.
	const (
		cur      = 4 + 1 + e2e.IdentitySize + 4 // current signed prekey
		spkFixed = 4 + e2e.KeySize + 64 + 8     // id, private, signature, expires
		prev     = cur + spkFixed + 4 + 1       // previous (the current has no base keys)
		count    = prev + spkFixed              // the previous one's record count
	)
	if binary.BigEndian.Uint32(st[cur+spkFixed:]) != 0 || st[prev-1] != 1 || binary.BigEndian.Uint32(st[count:]) != 1 {
		t.Fatal("saved keyring does not have the expected layout")
	}
	if _, err := e2e.LoadKeyring(st, opts); err != nil {
		t.Fatalf("LoadKeyring of the unedited state = %v", err)
	}
	twice := slices.Concat(st[:count], []byte{0, 0, 0, 2}, st[count+4:count+4+e2e.KeySize], st[count+4:])
	sameID := slices.Clone(st)
	copy(sameID[prev:prev+4], st[cur:cur+4])
	for name, b := range map[string][]byte{"base key recorded twice": twice, "previous prekey under the current id": sameID} {
		if _, err := e2e.LoadKeyring(b, opts); !errors.Is(err, e2e.ErrBadState) {
			t.Errorf("%s: LoadKeyring = %v, want ErrBadState", name, err)
		}
	}
}

// TestKeyringDefaultPrekeyGrace checks the documented default grace
// period: the previous signed prekey answers 7 days less a nanosecond after
// the rotation, and not at 7 days.
func TestKeyringDefaultPrekeyGrace(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	opts := e2e.Options{Now: clock.Now}
	alice, bob := mustIdentity(t, 55), mustIdentity(t, 56)
	kr, _ := e2e.NewKeyring(bob, opts)
	old := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
	if _, err := kr.RotateSignedPrekey(); err != nil {
		t.Fatal(err)
	}
	a1, _ := e2e.Initiate(alice, old, opts)
	a2, _ := e2e.Initiate(alice, old, opts)
	clock.now = t0.Add(7*24*time.Hour - time.Nanosecond)
	if _, _, err := kr.Accept(nil, seal(t, a1, "in grace")); err != nil {
		t.Errorf("7 days less 1 ns after rotation: %v", err)
	}
	clock.now = t0.Add(7 * 24 * time.Hour)
	if _, _, err := kr.Accept(nil, seal(t, a2, "late")); !errors.Is(err, e2e.ErrUnknownPrekey) {
		t.Errorf("7 days after rotation: %v, want ErrUnknownPrekey", err)
	}
}

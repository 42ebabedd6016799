package e2e_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/blueprint-go/blueprint/e2e"
)

// lowOrderX25519 lists u-coordinates of small order on Curve25519 and its
// twist, including non-canonical encodings (u ≥ p, top bit set), as in
// Wycheproof's x25519 edge cases.
var lowOrderX25519 = []string{
	"0000000000000000000000000000000000000000000000000000000000000000", // 0
	"0100000000000000000000000000000000000000000000000000000000000000", // 1
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1
	"0000000000000000000000000000000000000000000000000000000000000080", // 0, top bit set
	"0100000000000000000000000000000000000000000000000000000000000080", // 1, top bit set
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880", // order 8, top bit set
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7", // order 8, top bit set
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // p - 1, top bit set
}

func TestLowOrderPublicKeysRefused(t *testing.T) {
	alice, bob := mustIdentity(t, 80), mustIdentity(t, 81)
	kr, _ := e2e.NewKeyring(bob, e2e.Options{})
	var priv [32]byte
	priv[0] = 0x42
	for _, h := range lowOrderX25519 {
		low := [32]byte(unhex(t, h))
		if _, err := e2e.DH(priv, low); !errors.Is(err, e2e.ErrLowOrderKey) {
			t.Errorf("DH(·, %s) = %v, want ErrLowOrderKey", h, err)
		}
		// A bundle whose owner signed a low-order prekey.
		spk := bob.SignPrekey(99, low)
		_, err := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: spk}, e2e.Options{})
		if !errors.Is(err, e2e.ErrLowOrderKey) && !errors.Is(err, e2e.ErrBadKey) {
			t.Errorf("signed prekey %s: Initiate = %v, want ErrLowOrderKey or ErrBadKey", h, err)
		}
		b := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey(), OneTimePrekey: &e2e.OneTimePrekey{ID: 1, Public: low}}
		if _, err := e2e.Initiate(alice, b, e2e.Options{}); !errors.Is(err, e2e.ErrLowOrderKey) && !errors.Is(err, e2e.ErrBadKey) {
			t.Errorf("one-time prekey %s: Initiate = %v", h, err)
		}
	}
	// Small-order Ed25519 identity keys could make forged signatures
	// verify; they are refused before any signature check.
	for _, h := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	} {
		id := bob.Public()
		id.Sign = [32]byte(unhex(t, h))
		spk := kr.SignedPrekey()
		spk.Signature = [64]byte{1} // R = identity, S = 0
		if _, err := e2e.Initiate(alice, e2e.Bundle{Identity: id, SignedPrekey: spk}, e2e.Options{}); !errors.Is(err, e2e.ErrLowOrderKey) {
			t.Errorf("Ed25519 identity %s: %v, want ErrLowOrderKey", h, err)
		}
	}
}

// TestLowOrderKeysInMessagesRefused puts small-order keys where a peer
// controls them: the ratchet header (in the clear, or encrypted under the
// right header key, which the test derives from the shared secret as the
// spec's header-encryption variant does) and the X3DH prefix, in both
// header modes.
func TestLowOrderKeysInMessagesRefused(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			alice, bob := rawPair(t, mode.opts, nil)
			m := seal(t, alice, "x")
			before := state(t, bob)
			for i, h := range lowOrderX25519 {
				var f []byte
				if mode.opts.HeaderEncryption {
					f = heMessage(t, unhex(t, h))
				} else {
					f = bytes.Clone(m)
					copy(f[1:33], unhex(t, h))
				}
				_, err := bob.Open(nil, f)
				if !errors.Is(err, e2e.ErrLowOrderKey) && !errors.Is(err, e2e.ErrBadHeader) {
					t.Errorf("ratchet key %s: %v, want ErrLowOrderKey or ErrBadHeader", h, err)
				}
				// The first five are canonical encodings: they reach the DH.
				if i < 5 && !errors.Is(err, e2e.ErrLowOrderKey) {
					t.Errorf("canonical small-order ratchet key %s: %v, want ErrLowOrderKey", h, err)
				}
			}
			if !bytes.Equal(before, state(t, bob)) {
				t.Fatal("refused ratchet keys changed the state")
			}
			open(t, bob, m, "x")

			a, b := mustIdentity(t, 82), mustIdentity(t, 83)
			kr, _ := e2e.NewKeyring(b, mode.opts)
			as, _ := e2e.Initiate(a, e2e.Bundle{Identity: b.Public(), SignedPrekey: kr.SignedPrekey()}, mode.opts)
			init := seal(t, as, "hello")
			for _, h := range lowOrderX25519 {
				for _, off := range []int{1, 65} { // identity key, base key
					f := bytes.Clone(init)
					copy(f[off:off+32], unhex(t, h))
					if _, _, err := kr.Accept(nil, f); !errors.Is(err, e2e.ErrLowOrderKey) && !errors.Is(err, e2e.ErrBadKey) {
						t.Errorf("X3DH prefix offset %d = %s: %v", off, h, err)
					}
				}
			}
			if _, _, err := kr.Accept(nil, init); err != nil {
				t.Fatalf("genuine initial message after refused ones: %v", err)
			}
		})
	}
}

// heMessage builds the first message of rawPair's initiator with header
// encryption by hand, naming ratchet key dh: the header (dh, PN 0, N 0) is
// sealed with XChaCha20-Poly1305 under the initiator's first header key,
// the first 32 bytes of HKDF-SHA256(ikm = sk, info = DefaultInfo +
// "/header"); the body is junk, as the ratchet key is refused first.
func heMessage(t *testing.T, dh []byte) []byte {
	t.Helper()
	var sk [32]byte
	sk[0] = 7
	keys, err := hkdf.Key(sha256.New, sk[:], nil, e2e.DefaultInfo+"/header", 64)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := chacha20poly1305.NewX(keys[:32])
	if err != nil {
		t.Fatal(err)
	}
	hdr := append(bytes.Clone(dh), 0, 0, 0, 0, 0, 0, 0, 0)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	nonce[0] = 1
	m := append([]byte{2}, nonce...)
	m = aead.Seal(m, nonce, hdr, nil)
	return append(m, make([]byte, 32)...)
}

// TestWycheproofX25519EdgeCases checks the RFC 7748 properties Wycheproof's
// x25519 vectors exercise and the standard library's tests leave implicit:
// the top bit of u is ignored, non-canonical u ≥ p is reduced mod p, and the
// private scalar is clamped.
func TestWycheproofX25519EdgeCases(t *testing.T) {
	// RFC 7748 section 5.2, first vector.
	k := [32]byte(unhex(t, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"))
	u := [32]byte(unhex(t, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))
	want := unhex(t, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
	if got, err := e2e.DH(k, u); err != nil || !bytes.Equal(got[:], want) {
		t.Fatalf("RFC 7748 vector: %x, %v", got, err)
	}
	r := newDRBG(testSeed(t))
	for range 32 {
		var priv, pub [32]byte
		r.Read(priv[:])
		r.Read(pub[:])
		pub[31] &= 0x7f
		base, err := e2e.DH(priv, pub)
		if err != nil {
			continue // a random u of small order: vanishingly rare
		}
		high := pub
		high[31] |= 0x80
		if got, err := e2e.DH(priv, high); err != nil || got != base {
			t.Fatalf("top bit of u not ignored: %x vs %x (%v)", got, base, err)
		}
		clamped := priv
		clamped[0] ^= 0x07
		clamped[31] ^= 0x80
		clamped[31] |= 0x40
		if got, err := e2e.DH(clamped, pub); err != nil || got != base {
			t.Fatalf("private key not clamped: %x vs %x (%v)", got, base, err)
		}
	}
	// u = p + x for x in [2, 18] encodes below 2^255 and must act as x.
	var priv [32]byte
	priv[0] = 0x58
	for x := byte(2); x <= 18; x++ {
		nonCanon := [32]byte(unhex(t, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
		nonCanon[0] += x
		canon := [32]byte{x}
		a, errA := e2e.DH(priv, nonCanon)
		b, errB := e2e.DH(priv, canon)
		if a != b || (errA == nil) != (errB == nil) {
			t.Errorf("u = p+%d: %x (%v), u = %d: %x (%v)", x, a, errA, x, b, errB)
		}
	}
}

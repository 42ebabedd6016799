package e2e

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
)

// KeySize is the size of every symmetric key, chain key, root key and raw
// X25519 or Ed25519 public key this package handles.
const KeySize = 32

// x3dhPad is X3DH's F: 32 bytes of 0xFF prepended to the DH outputs so that
// the KDF input never collides with an XEdDSA signing-key input.
const x3dhPad = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

// maxDerivedLength is the most bytes HKDF-SHA256 derives: 255 blocks of
// 32 (RFC 5869 section 2.3).
const maxDerivedLength = 255 * sha256.Size

// X3DHSecret derives n bytes from the raw X3DH DH outputs (DH1, DH2, DH3 and
// optionally DH4, 32 bytes each): HKDF-SHA256 with salt = 32 zero bytes,
// ikm = F ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4] where F is 32 bytes of 0xFF, and the
// given info. This package uses n = 32 (the X3DH spec's SK); libsignal's
// "WhisperText" derivation uses n = 64 (root key ‖ chain key). It returns
// ErrDerivedLength for n < 0 or n > 8160, and ErrBadKey for a DH output
// that is not 32 bytes.
func X3DHSecret(info string, n int, dh ...[]byte) ([]byte, error) {
	// crypto/hkdf panics on a negative length; check both bounds here so
	// that a caller's n gives a sentinel either way.
	if n < 0 || n > maxDerivedLength {
		return nil, ErrDerivedLength
	}
	ikm := make([]byte, 0, 32*(1+len(dh)))
	ikm = append(ikm, x3dhPad...)
	for _, d := range dh {
		if len(d) != KeySize {
			return nil, ErrBadKey
		}
		ikm = append(ikm, d...)
	}
	var salt [sha256.Size]byte
	out, err := hkdf.Key(sha256.New, ikm, salt[:], info, n)
	clear(ikm)
	return out, err
}

// KDFRK is the Double Ratchet's root KDF: HKDF-SHA256 with salt = the root
// key rk, ikm = the DH output dh and the given info, 64 bytes split into the
// next root key and a chain key.
func KDFRK(rk, dh [KeySize]byte, info string) (root, chain [KeySize]byte) {
	out, _ := hkdf.Key(sha256.New, dh[:], rk[:], info, 2*KeySize)
	copy(root[:], out)
	copy(chain[:], out[KeySize:])
	clear(out)
	return root, chain
}

// KDFCK is the Double Ratchet's chain KDF (also libsignal's ChainKey and
// the Sender Keys chain): message key = HMAC-SHA256(ck, 0x01), next chain
// key = HMAC-SHA256(ck, 0x02).
func KDFCK(ck [KeySize]byte) (next, mk [KeySize]byte) {
	mk = hmacSHA256(&ck, []byte{0x01})
	next = hmacSHA256(&ck, []byte{0x02})
	return next, mk
}

// MessageKeyMaterial expands a message key (or a group message seed) into n
// bytes: HKDF-SHA256 with no salt (32 zero bytes), ikm = mk and the given
// info. With info "WhisperMessageKeys" and n = 80 it is libsignal's split
// into a 32-byte cipher key, 32-byte MAC key and 16-byte IV; this package
// uses n = 44 (an AES-256 key and a 96-bit GCM nonce) with info
// Options.Info + "/message". It returns ErrDerivedLength for n < 0 or
// n > 8160.
func MessageKeyMaterial(mk [KeySize]byte, info string, n int) ([]byte, error) {
	if n < 0 || n > maxDerivedLength {
		return nil, ErrDerivedLength
	}
	return hkdf.Key(sha256.New, mk[:], nil, info, n)
}

// DH computes X25519(priv, pub) on raw 32-byte keys. It returns
// ErrLowOrderKey when pub is of small order (the shared secret would be all
// zeros), as RFC 7748 section 6.1 asks. Cost: two scalar multiplications,
// since importing the raw private key derives its public key.
func DH(priv, pub [KeySize]byte) ([KeySize]byte, error) {
	k, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return [KeySize]byte{}, ErrBadKey
	}
	return dhKey(k, pub)
}

// dhKey is DH for a parsed private key.
func dhKey(k *ecdh.PrivateKey, pub [KeySize]byte) ([KeySize]byte, error) {
	var out [KeySize]byte
	p, err := ecdh.X25519().NewPublicKey(pub[:])
	if err != nil {
		return out, ErrBadKey
	}
	s, err := k.ECDH(p)
	if err != nil {
		// crypto/ecdh refuses exactly the all-zero output of a small-order
		// point.
		return out, ErrLowOrderKey
	}
	copy(out[:], s)
	clear(s)
	return out, nil
}

// hmacSHA256 computes HMAC-SHA256(key, msg) for a 32-byte key and a message
// of at most 192 bytes without touching the heap: the pads and the message
// are laid out in stack buffers and hashed with sha256.Sum256.
func hmacSHA256(key *[KeySize]byte, msg []byte) [KeySize]byte {
	if len(msg) > 192 {
		panic("e2e: internal HMAC message longer than 192 bytes")
	}
	var inner [64 + 192]byte
	var outer [64 + 32]byte
	for i := range 64 {
		var k byte
		if i < KeySize {
			k = key[i]
		}
		inner[i] = k ^ 0x36
		outer[i] = k ^ 0x5c
	}
	n := copy(inner[64:], msg)
	ih := sha256.Sum256(inner[:64+n])
	copy(outer[64:], ih[:])
	return sha256.Sum256(outer[:])
}

// equal32 compares two keys in constant time.
func equal32(a, b *[KeySize]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// canonicalX25519 reports whether pub is the canonical encoding of its
// u-coordinate: top bit clear and u < 2²⁵⁵−19. X25519 ignores the top bit
// and reduces u mod p, so a non-canonical key computes the same secrets as
// its canonical twin; refusing it keeps keys usable as identifiers (the
// keyring's replay record is keyed by the initiator's base key).
func canonicalX25519(pub *[KeySize]byte) bool {
	if pub[31]&0x80 != 0 {
		return false
	}
	if pub[31] != 0x7f || pub[0] < 0xed {
		return true
	}
	for _, b := range pub[1:31] {
		if b != 0xff {
			return true
		}
	}
	return false
}

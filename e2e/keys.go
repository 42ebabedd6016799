package e2e

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"io"
)

// keyTypeX25519 is the one-byte curve tag of Encode(PK), as in libsignal.
const keyTypeX25519 = 0x05

// Encode is X3DH's Encode(PK) for an X25519 public key: the curve tag 0x05
// followed by the 32-byte little-endian u-coordinate.
func Encode(pub [KeySize]byte) []byte {
	return append([]byte{keyTypeX25519}, pub[:]...)
}

// PublicIdentity is the public half of an [Identity]: the X25519 key used in
// X3DH's DH1 and DH2 and the Ed25519 key that signs signed prekeys. Users
// authenticate each other by comparing [PublicIdentity.Fingerprint] out of
// band.
type PublicIdentity struct {
	DH   [KeySize]byte // X25519 public key, raw u-coordinate
	Sign [KeySize]byte // Ed25519 public key, RFC 8032 encoding
}

// Fingerprint returns SHA-256 over both public keys, the value users compare
// to authenticate an identity.
func (p PublicIdentity) Fingerprint() [32]byte {
	var b [2 * KeySize]byte
	copy(b[:], p.DH[:])
	copy(b[KeySize:], p.Sign[:])
	return sha256.Sum256(b[:])
}

// Identity is a long-term identity key pair: one X25519 key for
// Diffie-Hellman and one Ed25519 key for signatures (see the package
// documentation for why two keys instead of XEdDSA). An Identity is
// immutable and safe for concurrent use.
type Identity struct {
	dh   *ecdh.PrivateKey
	sign ed25519.PrivateKey
	pub  PublicIdentity
}

// IdentitySize is the length of [Identity.Bytes]: the X25519 private scalar
// followed by the Ed25519 seed.
const IdentitySize = 2 * KeySize

// NewIdentity generates an identity from rand (crypto/rand.Reader if nil).
func NewIdentity(rand io.Reader) (*Identity, error) {
	rand = Options{Rand: rand}.withDefaults().Rand
	var b [IdentitySize]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, err
	}
	defer clear(b[:])
	return IdentityFromBytes(b[:])
}

// IdentityFromBytes imports an identity from its raw form: 32 bytes of
// X25519 private key followed by a 32-byte Ed25519 seed. It returns
// ErrBadKey if b is not IdentitySize bytes long.
func IdentityFromBytes(b []byte) (*Identity, error) {
	if len(b) != IdentitySize {
		return nil, ErrBadKey
	}
	dh, err := ecdh.X25519().NewPrivateKey(b[:KeySize])
	if err != nil {
		return nil, ErrBadKey
	}
	sign := ed25519.NewKeyFromSeed(b[KeySize:])
	id := &Identity{dh: dh, sign: sign}
	copy(id.pub.DH[:], dh.PublicKey().Bytes())
	copy(id.pub.Sign[:], sign.Public().(ed25519.PublicKey))
	return id, nil
}

// Bytes exports the identity's private keys in the form IdentityFromBytes
// reads. Keep the result secret.
func (id *Identity) Bytes() []byte {
	out := make([]byte, 0, IdentitySize)
	out = append(out, id.dh.Bytes()...)
	return append(out, id.sign.Seed()...)
}

// Public returns the public half of the identity.
func (id *Identity) Public() PublicIdentity { return id.pub }

// SignPrekey signs Encode(pub) with the identity's Ed25519 key, producing
// the signature X3DH's initiator verifies.
func (id *Identity) SignPrekey(keyID uint32, pub [KeySize]byte) SignedPrekey {
	sp := SignedPrekey{ID: keyID, Public: pub}
	copy(sp.Signature[:], ed25519.Sign(id.sign, Encode(pub)))
	return sp
}

// SignedPrekey is a medium-term X25519 prekey signed by its owner's
// identity.
type SignedPrekey struct {
	ID        uint32
	Public    [KeySize]byte
	Signature [ed25519.SignatureSize]byte
}

// Verify reports whether sp carries a valid signature by identity. It
// returns ErrLowOrderKey for a small-order Ed25519 identity key and
// ErrInvalidSignature for a signature that does not verify.
func (sp SignedPrekey) Verify(identity PublicIdentity) error {
	if smallOrderEd25519(identity.Sign) {
		return ErrLowOrderKey
	}
	if !ed25519.Verify(identity.Sign[:], Encode(sp.Public), sp.Signature[:]) {
		return ErrInvalidSignature
	}
	return nil
}

// OneTimePrekey is a single-use X25519 prekey.
type OneTimePrekey struct {
	ID     uint32
	Public [KeySize]byte
}

// Bundle is what an initiator fetches from the prekey directory to start a
// session: the responder's identity, signed prekey and, while the supply
// lasts, one one-time prekey.
type Bundle struct {
	Identity      PublicIdentity
	SignedPrekey  SignedPrekey
	OneTimePrekey *OneTimePrekey // nil when the directory ran out
}

// smallOrderEd25519 reports whether an encoded Ed25519 point is one of the
// eight points of small order, in canonical or non-canonical encoding (the
// sign bit is ignored, as libsodium's blocklist does). crypto/ed25519
// accepts such keys, and for them signatures can be forged.
func smallOrderEd25519(p [KeySize]byte) bool {
	q := p
	q[31] &= 0x7f
	bad := 0
	for i := range smallOrderPoints {
		bad |= subtle.ConstantTimeCompare(q[:], smallOrderPoints[i][:])
	}
	return bad == 1
}

// smallOrderPoints lists the y-coordinates (sign bit cleared) of the
// Edwards25519 points of order 1, 2, 4 and 8, with the non-canonical
// encodings y = p and y = p + 1 of 0 and 1.
var smallOrderPoints = [...][KeySize]byte{
	{},  // y = 0, order 4
	{1}, // y = 1, the identity
	{ // order 8
		0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
	},
	{ // order 8
		0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
	},
	{ // y = p - 1, order 2
		0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
	},
	{ // y = p, non-canonical 0
		0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
	},
	{ // y = p + 1, non-canonical 1
		0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
	},
}

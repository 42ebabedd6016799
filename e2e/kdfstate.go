package e2e

import (
	"crypto/sha256"
	"encoding"
	"hash"
)

// kdf computes the HMAC-SHA256 and HKDF-SHA256 derivations of the ratchet
// with the outputs of KDFCK, KDFRK and MessageKeyMaterial, but cheaper: it
// hashes a key's inner and outer pad blocks once (RFC 2104's precomputation)
// and restores those states for every HMAC under that key, and it owns its
// buffers, so that no derivation allocates. One chain step (two HMACs
// under the chain key) costs 6 SHA-256 block compressions instead of 8; the
// AES key and nonce of a message (HKDF without salt, 44 bytes) 8 instead of
// 12 with the default Info, since the all-zero salt's pad states are kept
// (2 for the extract, 2 for the pad blocks of its output, 2 for each of
// the two expand blocks). A kdf is not safe for concurrent use; each
// Session and group sender or receiver has its own.
type kdf struct {
	h          hash.Hash
	restore    encoding.BinaryUnmarshaler
	save       encoding.BinaryAppender
	ist, ost   []byte // pad states of the current key
	zist, zost []byte // pad states of the all-zero key (HKDF with no salt)
	pad        []byte // 64 bytes
	msg        []byte // the message of the next HMAC
	sum        []byte // the inner hash, then the HMAC
}

func newKDF() *kdf {
	h := sha256.New()
	k := &kdf{
		h:       h,
		restore: h.(encoding.BinaryUnmarshaler),
		save:    h.(encoding.BinaryAppender),
		pad:     make([]byte, sha256.BlockSize),
		msg:     make([]byte, 0, KeySize+maxDerivedInfoLen+1),
		sum:     make([]byte, 0, sha256.Size),
	}
	var zero [KeySize]byte
	k.setKey(&zero)
	k.zist, k.zost = append([]byte(nil), k.ist...), append([]byte(nil), k.ost...)
	return k
}

// setKey hashes the inner and outer pad blocks of key and keeps the states.
func (k *kdf) setKey(key *[KeySize]byte) {
	for i := range k.pad {
		var b byte
		if i < KeySize {
			b = key[i]
		}
		k.pad[i] = b ^ 0x36
	}
	k.h.Reset()
	k.h.Write(k.pad)
	k.ist, _ = k.save.AppendBinary(k.ist[:0])
	for i := range k.pad {
		k.pad[i] ^= 0x36 ^ 0x5c
	}
	k.h.Reset()
	k.h.Write(k.pad)
	k.ost, _ = k.save.AppendBinary(k.ost[:0])
	clear(k.pad)
}

// mac returns HMAC-SHA256 of k.msg under the key whose pad states are ist
// and ost.
func (k *kdf) mac(ist, ost []byte) (out [KeySize]byte) {
	_ = k.restore.UnmarshalBinary(ist)
	k.h.Write(k.msg)
	k.sum = k.h.Sum(k.sum[:0])
	_ = k.restore.UnmarshalBinary(ost)
	k.h.Write(k.sum)
	k.sum = k.h.Sum(k.sum[:0])
	copy(out[:], k.sum)
	clear(k.sum)
	return out
}

// chain is KDFCK.
func (k *kdf) chain(ck *[KeySize]byte) (next, mk [KeySize]byte) {
	k.setKey(ck)
	k.msg = append(k.msg[:0], 0x01)
	mk = k.mac(k.ist, k.ost)
	k.msg = append(k.msg[:0], 0x02)
	next = k.mac(k.ist, k.ost)
	return next, mk
}

// hkdf fills out (at most 96 bytes) with HKDF-SHA256(salt, ikm, info); a
// nil salt means 32 zero bytes. info is at most maxDerivedInfoLen bytes.
func (k *kdf) hkdf(salt *[KeySize]byte, ikm *[KeySize]byte, info string, out []byte) {
	ist, ost := k.zist, k.zost
	if salt != nil {
		k.setKey(salt)
		ist, ost = k.ist, k.ost
	}
	k.msg = append(k.msg[:0], ikm[:]...)
	prk := k.mac(ist, ost)
	k.setKey(&prk)
	clear(prk[:])
	var t [KeySize]byte
	for i, n := byte(1), 0; n < len(out); i++ {
		k.msg = k.msg[:0]
		if i > 1 {
			k.msg = append(k.msg, t[:]...)
		}
		k.msg = append(k.msg, info...)
		k.msg = append(k.msg, i)
		t = k.mac(k.ist, k.ost)
		n += copy(out[n:], t[:])
	}
	clear(t[:])
	clear(k.msg[:cap(k.msg)])
}

// messageKeys derives the AES-256-GCM key and nonce of one message from its
// message key: MessageKeyMaterial(mk, info, 44).
func (k *kdf) messageKeys(mk *[KeySize]byte, info string) (key [32]byte, nonce [12]byte) {
	var out [44]byte
	k.hkdf(nil, mk, info, out[:])
	copy(key[:], out[:32])
	copy(nonce[:], out[32:])
	clear(out[:])
	return key, nonce
}

// rootKeys is KDFRK (n = 2) or its header-encryption variant (n = 3):
// root key, chain key and, for n = 3, next header key.
func (k *kdf) rootKeys(rk, dh *[KeySize]byte, info string, n int) (root, chain, nhk [KeySize]byte) {
	var out [3 * KeySize]byte
	k.hkdf(rk, dh, info, out[:n*KeySize])
	copy(root[:], out[:])
	copy(chain[:], out[KeySize:])
	copy(nhk[:], out[2*KeySize:])
	clear(out[:])
	return root, chain, nhk
}

package e2e

import (
	"crypto/ecdh"
	"encoding/binary"
	"slices"
	"time"
)

const keyringMagic = "e2eK"

// MarshalBinary encodes the keyring's private state: the identity, the
// current signed prekey and, while its grace period lasts, the previous
// one, each with its replay record, and the unused one-time prekeys (ids
// ascending). It deletes an expired previous signed prekey first (see
// [Keyring]), so the result never holds one. Options are not encoded;
// pass them again to LoadKeyring. Keep the result as secret as the
// identity.
//
//	"e2eK" version(1) identity(64) nextID(4) signedPrekey
//	hasPrevious(1) [signedPrekey] count(4) count×(id(4) private(32))
//
// where signedPrekey is id(4) private(32) signature(64) expires(8, Unix
// nanoseconds; 0 for the current one) count(4) count×(base key(32)).
func (k *Keyring) MarshalBinary() ([]byte, error) {
	k.lock()
	defer k.mu.Unlock()
	b := append([]byte(nil), keyringMagic...)
	b = append(b, stateVersion)
	b = append(b, k.id.Bytes()...)
	b = binary.BigEndian.AppendUint32(b, k.nextID)
	b = appendSignedPrekey(b, k.current)
	if k.previous != nil {
		b = append(b, 1)
		b = appendSignedPrekey(b, k.previous)
	} else {
		b = append(b, 0)
	}
	ids := make([]uint32, 0, len(k.oneTime))
	for id := range k.oneTime {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint32(b, id)
		b = append(b, k.oneTime[id].Bytes()...)
	}
	return b, nil
}

func appendSignedPrekey(b []byte, s *signedPrekeyPriv) []byte {
	b = binary.BigEndian.AppendUint32(b, s.pub.ID)
	b = append(b, s.priv.Bytes()...)
	b = append(b, s.pub.Signature[:]...)
	var exp int64
	if !s.expires.IsZero() {
		exp = s.expires.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	seen := make([][KeySize]byte, 0, len(s.seen))
	for base := range s.seen {
		seen = append(seen, base)
	}
	slices.SortFunc(seen, func(a, b [KeySize]byte) int { return slices.Compare(a[:], b[:]) })
	b = binary.BigEndian.AppendUint32(b, uint32(len(seen)))
	for _, base := range seen {
		b = append(b, base[:]...)
	}
	return b
}

// LoadKeyring restores a keyring encoded by [Keyring.MarshalBinary] with
// the given options. A previous signed prekey whose grace period has
// passed by opts' clock (as in states saved by versions that kept it until
// the next rotation) is checked like the rest, then deleted with its
// replay record. It returns ErrBadState for malformed input, including a
// signed prekey whose signature does not verify under the identity.
func LoadKeyring(data []byte, opts Options) (*Keyring, error) {
	opts.mustValidate()
	d := decoder{b: data}
	magic := d.bytes(4)
	if d.err || string(magic) != keyringMagic || d.byte() != stateVersion {
		return nil, ErrBadState
	}
	id, err := IdentityFromBytes(d.bytes(IdentitySize))
	if d.err || err != nil {
		return nil, ErrBadState
	}
	k := &Keyring{id: id, opts: opts.withDefaults()}
	k.nextID = d.uint32()
	if k.current, err = readSignedPrekey(&d, id); err != nil {
		return nil, err
	}
	switch d.byte() {
	case 0:
	case 1:
		if k.previous, err = readSignedPrekey(&d, id); err != nil {
			return nil, err
		}
		if k.previous.pub.ID >= k.nextID || k.previous.pub.ID == k.current.pub.ID {
			return nil, ErrBadState
		}
	default:
		return nil, ErrBadState
	}
	// Ids are handed out from nextID on; an id at or above it would be
	// issued twice.
	if k.current.pub.ID >= k.nextID {
		return nil, ErrBadState
	}
	count := d.uint32()
	if d.err || uint64(count)*36 != uint64(len(d.b)) {
		return nil, ErrBadState
	}
	k.oneTime = make(map[uint32]*ecdh.PrivateKey, count) // count checked against the input
	for range count {
		otpID := d.uint32()
		priv, err := ecdh.X25519().NewPrivateKey(d.bytes(KeySize))
		if err != nil || k.oneTime[otpID] != nil || otpID >= k.nextID {
			return nil, ErrBadState
		}
		k.oneTime[otpID] = priv
	}
	if d.err {
		return nil, ErrBadState
	}
	k.dropExpired(k.opts.Now())
	return k, nil
}

func readSignedPrekey(d *decoder, id *Identity) (*signedPrekeyPriv, error) {
	s := &signedPrekeyPriv{}
	s.pub.ID = d.uint32()
	priv, err := ecdh.X25519().NewPrivateKey(d.bytes(KeySize))
	if d.err || err != nil {
		return nil, ErrBadState
	}
	s.priv = priv
	copy(s.pub.Public[:], priv.PublicKey().Bytes())
	copy(s.pub.Signature[:], d.bytes(64))
	if exp := int64(d.uint64()); exp != 0 {
		s.expires = time.Unix(0, exp)
	}
	count := d.uint32()
	if d.err || uint64(count)*KeySize > uint64(len(d.b)) || s.pub.Verify(id.Public()) != nil {
		return nil, ErrBadState
	}
	s.seen = make(map[[KeySize]byte]struct{}, count) // count checked against the input
	for range count {
		var base [KeySize]byte
		d.key(&base)
		if _, dup := s.seen[base]; dup {
			return nil, ErrBadState
		}
		s.seen[base] = struct{}{}
	}
	return s, nil
}

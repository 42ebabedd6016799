package e2e

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"slices"
)

// stateVersion is the version byte of the keyring, group sender and group
// receiver encodings, sessionStateVersion that of sessions (2 added
// maxSkippedChains); groups have groupStateVersion. A decoder refuses any
// other version with ErrBadState.
const (
	stateVersion        = 1
	sessionStateVersion = 2
)

const stateMagic = "e2eS"

// Flag bits of the encoded state.
const (
	flagHE = 1 << iota
	flagDHr
	flagPrevDHr
	flagCKs
	flagCKr
	flagHKs
	flagHKr
	flagPrevHKr
)

// Bits of the second flag byte.
const flag2PendingSend = 1

// MarshalBinary encodes the session state (keys included: store it as
// secret as the identity) in a versioned binary form:
//
//	"e2eS" version(1) flags(2) len(info)(1) info maxSkip(4) maxSkippedKeys(4)
//	maxSkippedChains(4)
//	len(ad)(4) ad peer(64) DHs(32) DHr(32) prevDHr(32) RK CKs CKr(3×32)
//	Ns Nr PN(3×4) HKs HKr NHKs NHKr prevHKr(5×32) baseKey(32)
//	len(prefix)(2) prefix count(4) count×(chain(32) n(4) mk(32))
//
// Integers are big-endian; skipped keys are in eviction order. DHs is 32
// zero bytes while the sending half of a DH ratchet step is pending.
func (s *Session) MarshalBinary() ([]byte, error) {
	if s.dhs == nil && !s.pendingSend {
		return nil, ErrBadState // a zero Session
	}
	b := make([]byte, 0, 512+len(s.ad)+len(s.skipped)*68)
	b = append(b, stateMagic...)
	b = append(b, sessionStateVersion)
	var flags byte
	for _, f := range []struct {
		on  bool
		bit byte
	}{
		{s.headerEncrypt, flagHE}, {s.hasDHr, flagDHr}, {s.hasPrevDHr, flagPrevDHr},
		{s.hasCKs, flagCKs}, {s.hasCKr, flagCKr}, {s.hasHKs, flagHKs},
		{s.hasHKr, flagHKr}, {s.hasPrevHKr, flagPrevHKr},
	} {
		if f.on {
			flags |= f.bit
		}
	}
	var flags2 byte
	if s.pendingSend {
		flags2 |= flag2PendingSend
	}
	b = append(b, flags, flags2, byte(len(s.info)))
	b = append(b, s.info...)
	b = binary.BigEndian.AppendUint32(b, uint32(s.maxSkip))
	b = binary.BigEndian.AppendUint32(b, uint32(s.maxSkipped))
	b = binary.BigEndian.AppendUint32(b, uint32(s.maxChains))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.ad)))
	b = append(b, s.ad...)
	b = append(b, s.peer.DH[:]...)
	b = append(b, s.peer.Sign[:]...)
	if s.pendingSend {
		b = append(b, make([]byte, KeySize)...)
	} else {
		b = append(b, s.dhs.Bytes()...)
	}
	for _, k := range []*[KeySize]byte{&s.dhr, &s.prevDHr, &s.rk, &s.cks, &s.ckr} {
		b = append(b, k[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, s.ns)
	b = binary.BigEndian.AppendUint32(b, s.nr)
	b = binary.BigEndian.AppendUint32(b, s.pn)
	for _, k := range []*[KeySize]byte{&s.hks, &s.hkr, &s.nhks, &s.nhkr, &s.prevHKr, &s.baseKey} {
		b = append(b, k[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.prekey)))
	b = append(b, s.prekey...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.skipped)))
	for _, e := range s.order {
		if !s.live(e) {
			continue
		}
		b = append(b, e.id.chain[:]...)
		b = binary.BigEndian.AppendUint32(b, e.id.n)
		k := s.skipped[e.id]
		b = append(b, k.mk[:]...)
	}
	return b, nil
}

// UnmarshalBinary restores a session encoded by MarshalBinary. It returns
// ErrBadState for truncated, trailing, unknown-version or inconsistent
// input and then leaves s unchanged. The session keeps its randomness
// source if it had one and uses crypto/rand.Reader otherwise.
func (s *Session) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	magic := d.bytes(4)
	if d.err || string(magic) != stateMagic || d.byte() != sessionStateVersion {
		return ErrBadState
	}
	flags, flags2 := d.byte(), d.byte()
	info := string(d.bytes(int(d.byte())))
	t := &Session{
		info:          info,
		msgInfo:       info + suffixMessage,
		ratchetInfo:   info + suffixRatchet,
		headerEncrypt: flags&flagHE != 0,
		hasDHr:        flags&flagDHr != 0,
		hasPrevDHr:    flags&flagPrevDHr != 0,
		hasCKs:        flags&flagCKs != 0,
		hasCKr:        flags&flagCKr != 0,
		hasHKs:        flags&flagHKs != 0,
		hasHKr:        flags&flagHKr != 0,
		hasPrevHKr:    flags&flagPrevHKr != 0,
		pendingSend:   flags2&flag2PendingSend != 0,
		maxSkip:       int(d.uint32()),
		maxSkipped:    int(d.uint32()),
		maxChains:     int(d.uint32()),
		rand:          s.rand,
		skippedChains: make(map[[KeySize]byte]int),
	}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	if adLen := d.uint32(); adLen <= uint32(len(data)) {
		t.ad = slices.Clone(d.bytes(int(adLen)))
	} else {
		return ErrBadState
	}
	d.key(&t.peer.DH)
	d.key(&t.peer.Sign)
	var dhs [KeySize]byte
	d.key(&dhs)
	for _, k := range []*[KeySize]byte{&t.dhr, &t.prevDHr, &t.rk, &t.cks, &t.ckr} {
		d.key(k)
	}
	t.ns, t.nr, t.pn = d.uint32(), d.uint32(), d.uint32()
	for _, k := range []*[KeySize]byte{&t.hks, &t.hkr, &t.nhks, &t.nhkr, &t.prevHKr, &t.baseKey} {
		d.key(k)
	}
	if n := int(d.uint16()); n != 0 {
		t.prekey = slices.Clone(d.bytes(n))
	}
	count := d.uint32()
	if d.err || len(info) == 0 || len(info) > maxInfoLen || t.maxSkip <= 0 || t.maxSkipped <= 0 ||
		t.maxSkip > maxLimit || t.maxSkipped > maxLimit || t.maxChains <= 0 || t.maxChains > maxChainsLimit ||
		uint64(count) > uint64(t.maxSkipped) || uint64(count)*68 != uint64(len(d.b)) {
		return ErrBadState
	}
	if t.prekey != nil {
		if _, _, err := parsePrekeyPrefix(t.prekey); err != nil || len(t.prekey) != PrekeyOverhead {
			return ErrBadState
		}
	}
	// Without header encryption every header key must be zero, and a
	// sending chain exists exactly when a ratchet key was received or the
	// session is an initiator's.
	if !t.headerEncrypt && (t.hasHKs || t.hasHKr || t.hasPrevHKr) {
		return ErrBadState
	}
	if (t.hasCKr && !t.hasDHr) || (t.hasPrevDHr && !t.hasDHr) || (t.hasPrevHKr && !t.hasHKr) ||
		flags2&^flag2PendingSend != 0 || (t.pendingSend && (t.hasCKs || !t.hasDHr || dhs != [KeySize]byte{})) {
		return ErrBadState
	}
	// count is checked against the input above (68 bytes a key), so
	// sizing the map and the order by it allocates what the input holds.
	t.skipped = make(map[skipID]skippedKey, count)
	t.order = make([]skipRef, 0, count)
	for range count {
		var id skipID
		var mk [KeySize]byte
		d.key(&id.chain)
		id.n = d.uint32()
		d.key(&mk)
		if _, dup := t.skipped[id]; dup {
			return ErrBadState
		}
		t.seq++
		t.skipped[id] = skippedKey{mk, t.seq}
		t.skippedChains[id.chain]++
		t.order = append(t.order, skipRef{id, t.seq})
	}
	if d.err || len(d.b) != 0 || len(t.skippedChains) > t.maxChains {
		return ErrBadState
	}
	if !t.pendingSend {
		k, err := ecdh.X25519().NewPrivateKey(dhs[:])
		if err != nil {
			return ErrBadState
		}
		t.setDHs(k)
	}
	*s = *t
	return nil
}

// decoder reads big-endian fields and remembers whether input ran out.
type decoder struct {
	b   []byte
	err bool
}

// bytes returns the next n bytes. Past the end it sets err and returns
// zeros, never more than 64 (n comes from untrusted input; callers discard
// the value once err is set and only need fixed-size fields to index).
func (d *decoder) bytes(n int) []byte {
	if d.err || n < 0 || n > len(d.b) {
		d.err = true
		return make([]byte, min(max(n, 0), 64))
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte           { return d.bytes(1)[0] }
func (d *decoder) uint16() uint16       { return binary.BigEndian.Uint16(d.bytes(2)) }
func (d *decoder) uint32() uint32       { return binary.BigEndian.Uint32(d.bytes(4)) }
func (d *decoder) key(k *[KeySize]byte) { copy(k[:], d.bytes(KeySize)) }

func (d *decoder) uint64() uint64 { return binary.BigEndian.Uint64(d.bytes(8)) }

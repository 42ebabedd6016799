package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"strings"
)

const groupMagic = "e2eG"

// Kinds of encoded group state.
const (
	kindSender   = 's'
	kindReceiver = 'r'
	kindGroup    = 'g'
)

// maxMemberName is the longest member name a group's state encodes (its
// length is 2 bytes); SetMember refuses longer ones.
const maxMemberName = 0xffff

// Shortest encodings of a receiver and of a group member, to check a
// decoded member count against the input before sizing anything by it.
const (
	// minReceiverSize is a receiver with the shortest info (one byte before
	// "/group") and no skipped keys: magic, version, kind, len(info), info,
	// maxSkip, maxSkippedKeys, keyID, iteration, chain, verify key, count.
	minReceiverSize = len(groupMagic) + 1 + 1 + 1 + (1 + len(suffixGroup)) + 4*4 + KeySize + ed25519.PublicKeySize + 4
	// minGroupMemberSize is a member with an empty name: len(name),
	// len(receiver) and the receiver.
	minGroupMemberSize = 2 + 4 + minReceiverSize
)

func appendGroupHeader(b []byte, kind byte, info string) []byte {
	b = append(b, groupMagic...)
	b = append(b, stateVersion, kind, byte(len(info)))
	return append(b, info...)
}

func readGroupHeader(d *decoder, kind byte) string {
	magic := d.bytes(4)
	if d.err || string(magic) != groupMagic || d.byte() != stateVersion || d.byte() != kind {
		d.err = true
		return ""
	}
	// The encoded info is Options.Info + "/group", with the same bounds as
	// Options.Info (1 to maxInfoLen bytes) before the suffix.
	info := string(d.bytes(int(d.byte())))
	base, ok := strings.CutSuffix(info, suffixGroup)
	if !ok || len(base) == 0 || len(base) > maxInfoLen {
		d.err = true
	}
	return info
}

// MarshalBinary encodes the sender's state, private signing key included:
//
//	"e2eG" version(1) 's' len(info)(1) info keyID(4) iteration(4)
//	chain(32) signing seed(32)
func (g *GroupSender) MarshalBinary() ([]byte, error) {
	if g.signing == nil {
		return nil, ErrBadState
	}
	return g.appendBinary(nil), nil
}

func (g *GroupSender) appendBinary(b []byte) []byte {
	b = appendGroupHeader(b, kindSender, g.info)
	b = binary.BigEndian.AppendUint32(b, g.keyID)
	b = binary.BigEndian.AppendUint32(b, g.iteration)
	b = append(b, g.chain[:]...)
	return append(b, g.signing.Seed()...)
}

// UnmarshalBinary restores a sender encoded by MarshalBinary (ErrBadState
// otherwise, leaving g unchanged). It keeps g's randomness source, or uses
// crypto/rand.Reader.
func (g *GroupSender) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	t, err := readSender(&d, g)
	if err != nil || len(d.b) != 0 {
		return ErrBadState
	}
	*g = *t
	return nil
}

func readSender(d *decoder, old *GroupSender) (*GroupSender, error) {
	t := &GroupSender{info: readGroupHeader(d, kindSender), rand: old.rand}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	t.keyID, t.iteration = d.uint32(), d.uint32()
	d.key(&t.chain)
	seed := d.bytes(ed25519.SeedSize)
	if d.err {
		return nil, ErrBadState
	}
	t.signing = ed25519.NewKeyFromSeed(seed)
	return t, nil
}

// MarshalBinary encodes the receiver's state:
//
//	"e2eG" version(1) 'r' len(info)(1) info maxSkip(4) maxSkippedKeys(4)
//	keyID(4) iteration(4) chain(32) verify key(32)
//	count(4) count×(iteration(4) key(32))
func (r *GroupReceiver) MarshalBinary() ([]byte, error) {
	if r.verify == nil {
		return nil, ErrBadState
	}
	return r.appendBinary(nil), nil
}

func (r *GroupReceiver) appendBinary(b []byte) []byte {
	b = appendGroupHeader(b, kindReceiver, r.info)
	b = binary.BigEndian.AppendUint32(b, uint32(r.maxSkip))
	b = binary.BigEndian.AppendUint32(b, uint32(r.maxSkipped))
	b = binary.BigEndian.AppendUint32(b, r.keyID)
	b = binary.BigEndian.AppendUint32(b, r.iteration)
	b = append(b, r.chain[:]...)
	b = append(b, r.verify...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.skipped)))
	for _, it := range r.order {
		if k, ok := r.skipped[it]; ok {
			b = binary.BigEndian.AppendUint32(b, it)
			b = append(b, k[:]...)
		}
	}
	return b
}

// UnmarshalBinary restores a receiver encoded by MarshalBinary (ErrBadState
// otherwise, leaving r unchanged).
func (r *GroupReceiver) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	t, err := readReceiver(&d)
	if err != nil || len(d.b) != 0 {
		return ErrBadState
	}
	*r = *t
	return nil
}

func readReceiver(d *decoder) (*GroupReceiver, error) {
	t := &GroupReceiver{info: readGroupHeader(d, kindReceiver)}
	t.maxSkip, t.maxSkipped = int(d.uint32()), int(d.uint32())
	t.keyID, t.iteration = d.uint32(), d.uint32()
	d.key(&t.chain)
	var pub [KeySize]byte
	d.key(&pub)
	count := d.uint32()
	if d.err || t.maxSkip <= 0 || t.maxSkip > maxLimit || t.maxSkipped <= 0 || t.maxSkipped > maxLimit ||
		uint64(count) > uint64(t.maxSkipped) || uint64(count)*36 > uint64(len(d.b)) || smallOrderEd25519(pub) {
		return nil, ErrBadState
	}
	t.verify = ed25519.PublicKey(slices.Clone(pub[:]))
	// count is checked against the input above (36 bytes a key).
	t.skipped = make(map[uint32][KeySize]byte, count)
	t.order = make([]uint32, 0, count)
	for range count {
		it := d.uint32()
		var k [KeySize]byte
		d.key(&k)
		if _, dup := t.skipped[it]; dup || it >= t.iteration {
			return nil, ErrBadState
		}
		t.skipped[it] = k
		t.order = append(t.order, it)
	}
	if d.err {
		return nil, ErrBadState
	}
	return t, nil
}

// MarshalBinary encodes the group: this member's sender and every member's
// receiver, in name order:
//
//	"e2eG" version(1) 'g' len(info)(1) info maxSkip(4) maxSkippedKeys(4)
//	sender count(4) count×(len(name)(2) name len(receiver)(4) receiver)
func (g *Group) MarshalBinary() ([]byte, error) {
	if g.sender == nil {
		return nil, ErrBadState
	}
	o := g.opts.withDefaults()
	b := appendGroupHeader(nil, kindGroup, g.sender.info)
	b = binary.BigEndian.AppendUint32(b, uint32(o.MaxSkip))
	b = binary.BigEndian.AppendUint32(b, uint32(o.MaxSkippedKeys))
	b = g.sender.appendBinary(b)
	names := make([]string, 0, len(g.members))
	for n := range g.members {
		names = append(names, n)
	}
	slices.Sort(names)
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, n := range names {
		if len(n) > maxMemberName {
			return nil, ErrBadState
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
		r := g.members[n].appendBinary(nil)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r)))
		b = append(b, r...)
	}
	return b, nil
}

// UnmarshalBinary restores a group encoded by MarshalBinary (ErrBadState
// otherwise, leaving g unchanged). Options other than the randomness source
// come from the encoding; the source is g's or crypto/rand.Reader.
func (g *Group) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	info := readGroupHeader(&d, kindGroup)
	maxSkip, maxSkipped := int(d.uint32()), int(d.uint32())
	if d.err || maxSkip <= 0 || maxSkip > maxLimit || maxSkipped <= 0 || maxSkipped > maxLimit {
		return ErrBadState
	}
	old := g.sender
	if old == nil {
		old = &GroupSender{}
	}
	sender, err := readSender(&d, old)
	if err != nil || sender.info != info {
		return ErrBadState
	}
	// Each member takes at least minGroupMemberSize bytes: a count beyond
	// what the input can hold is refused before the map is sized by it.
	count := d.uint32()
	if d.err || uint64(count) > uint64(len(d.b)/minGroupMemberSize) {
		return ErrBadState
	}
	t := &Group{sender: sender, members: make(map[string]*GroupReceiver, count)}
	t.opts = Options{Info: strings.TrimSuffix(info, suffixGroup), Rand: sender.rand, MaxSkip: maxSkip, MaxSkippedKeys: maxSkipped}
	for range count {
		name := string(d.bytes(int(d.uint16())))
		rd := decoder{b: d.bytes(int(d.uint32()))}
		if d.err {
			return ErrBadState
		}
		r, err := readReceiver(&rd)
		if err != nil || len(rd.b) != 0 || r.info != info {
			return ErrBadState
		}
		if _, dup := t.members[name]; dup {
			return ErrBadState
		}
		t.members[name] = r
	}
	if len(d.b) != 0 {
		return ErrBadState
	}
	*g = *t
	return nil
}

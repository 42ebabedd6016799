package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"strings"
)

const groupMagic = "e2eG"

// groupStateVersion is the version byte of a group's encoding: 3 adds to
// each member the keys it remembers as forgotten; 2 held a list of sender
// keys for each member, newest first, where 1 held one receiver. Versions
// 2 and 1 still load, with no forgotten keys (and in version 1 each member
// with one key). A sender or receiver, alone or inside a group, is encoded
// at stateVersion.
const (
	groupStateVersion  = 3
	groupStateVersion2 = 2
)

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
	// minGroupMemberSize is a member with an empty name, one sender key
	// and no forgotten keys: len(name), the number of keys, len(receiver),
	// the receiver and the number of forgotten keys.
	minGroupMemberSize = 2 + 1 + 4 + minReceiverSize + 1
	// minGroupMemberSizeV2 is the same in a version 2 group, which has no
	// forgotten keys, and minGroupMemberSizeV1 in a version 1 group, which
	// has no number of keys either.
	minGroupMemberSizeV2 = 2 + 1 + 4 + minReceiverSize
	minGroupMemberSizeV1 = 2 + 4 + minReceiverSize
	// forgottenKeySize is the encoding of a forgotten key: key id and
	// fingerprint.
	forgottenKeySize = 4 + 8
)

func appendGroupHeader(b []byte, version, kind byte, info string) []byte {
	b = append(b, groupMagic...)
	b = append(b, version, kind, byte(len(info)))
	return append(b, info...)
}

// readGroupHeader reads the header of an encoding of the given kind and
// returns its info and version: stateVersion, or for a group also
// groupStateVersion or groupStateVersion2.
func readGroupHeader(d *decoder, kind byte) (string, byte) {
	magic := d.bytes(4)
	version := d.byte()
	ok := version == stateVersion ||
		kind == kindGroup && (version == groupStateVersion || version == groupStateVersion2)
	if d.err || string(magic) != groupMagic || !ok || d.byte() != kind {
		d.err = true
		return "", 0
	}
	// The encoded info is Options.Info + "/group", with the same bounds as
	// Options.Info (1 to maxInfoLen bytes) before the suffix.
	info := string(d.bytes(int(d.byte())))
	base, ok := strings.CutSuffix(info, suffixGroup)
	if !ok || len(base) == 0 || len(base) > maxInfoLen {
		d.err = true
	}
	return info, version
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
	b = appendGroupHeader(b, stateVersion, kindSender, g.info)
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
	info, _ := readGroupHeader(d, kindSender)
	t := &GroupSender{info: info, rand: old.rand}
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
	b = appendGroupHeader(b, stateVersion, kindReceiver, r.info)
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
	info, _ := readGroupHeader(d, kindReceiver)
	t := &GroupReceiver{info: info}
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
	if count > 0 {
		t.skipped = make(map[uint32][KeySize]byte, count)
		t.order = make([]uint32, 0, count)
		t.grown = int(count)
	}
	// MarshalBinary writes the skipped keys in the order they were
	// stored, which is ascending: each Open stores iterations above all
	// stored before. Anything else is refused (duplicates included).
	for i := range count {
		it := d.uint32()
		var k [KeySize]byte
		d.key(&k)
		if i > 0 && it <= t.order[i-1] || it >= t.iteration {
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

// MarshalBinary encodes the group: this member's sender and, in name
// order, every member's sender keys, newest first, each as its receiver's
// encoding:
//
//	"e2eG" version(1) 'g' len(info)(1) info maxSkip(4) maxSkippedKeys(4)
//	sender count(4) count×(len(name)(2) name
//	keys(1) keys×(len(receiver)(4) receiver)
//	forgotten(1) forgotten×(keyID(4) fingerprint(8)))
//
// where forgotten lists the last keys the group forgot for the member,
// oldest first, each by its key id and the first 8 bytes of its signing
// key's SHA-256 hash (see SetMember). The version is 3; versions 2 (no
// forgotten keys) and 1 (also one receiver per member and no keys byte),
// which UnmarshalBinary still reads, lack what follows the receivers.
func (g *Group) MarshalBinary() ([]byte, error) {
	if g.sender == nil {
		return nil, ErrBadState
	}
	o := g.opts.withDefaults()
	b := appendGroupHeader(nil, groupStateVersion, kindGroup, g.sender.info)
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
		m := g.members[n]
		keys := m.keys
		if len(n) > maxMemberName || len(keys) == 0 || len(keys) > MaxSenderKeyStates || len(m.forgotten) > maxForgottenKeys {
			return nil, ErrBadState
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
		b = append(b, byte(len(keys)))
		for _, r := range keys {
			at := len(b)
			b = binary.BigEndian.AppendUint32(b, 0)
			b = r.appendBinary(b)
			binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
		}
		b = append(b, byte(len(m.forgotten)))
		for _, f := range m.forgotten {
			b = binary.BigEndian.AppendUint32(b, f.id)
			b = binary.BigEndian.AppendUint64(b, f.fp)
		}
	}
	return b, nil
}

// UnmarshalBinary restores a group encoded by MarshalBinary, of version 3,
// 2 or 1 (ErrBadState otherwise, leaving g unchanged). Besides truncation,
// trailing bytes and inconsistent fields it refuses a member without
// sender keys or with more than MaxSenderKeyStates, two of a member's keys
// with one key id or with limits (MaxSkip, MaxSkippedKeys) other than the
// group's, a member whose keys store more skipped message keys between
// them than the group's MaxSkippedKeys, and one with more than 16
// forgotten keys, two alike or one of them also kept. Options other than the
// randomness source come from the encoding; the source is g's or
// crypto/rand.Reader.
func (g *Group) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	info, version := readGroupHeader(&d, kindGroup)
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
	// Each member takes at least minGroupMemberSize bytes (V2, V1 in
	// versions 2, 1): a count beyond what the input can hold is refused
	// before the map is sized by it.
	minMember := minGroupMemberSize
	switch version {
	case groupStateVersion2:
		minMember = minGroupMemberSizeV2
	case stateVersion:
		minMember = minGroupMemberSizeV1
	}
	count := d.uint32()
	if d.err || uint64(count) > uint64(len(d.b)/minMember) {
		return ErrBadState
	}
	t := &Group{sender: sender, members: make(map[string]*member, count)}
	t.opts = Options{Info: strings.TrimSuffix(info, suffixGroup), Rand: sender.rand, MaxSkip: maxSkip, MaxSkippedKeys: maxSkipped}
	for range count {
		name := string(d.bytes(int(d.uint16())))
		n := 1
		if version != stateVersion {
			n = int(d.byte())
		}
		if d.err || n == 0 || n > MaxSenderKeyStates {
			return ErrBadState
		}
		if _, dup := t.members[name]; dup {
			return ErrBadState
		}
		keys := make([]*GroupReceiver, 0, n)
		stored := 0
		for range n {
			rd := decoder{b: d.bytes(int(d.uint32()))}
			if d.err {
				return ErrBadState
			}
			r, err := readReceiver(&rd)
			if err != nil || len(rd.b) != 0 || r.info != info || keyIndex(keys, r.keyID) >= 0 ||
				r.maxSkip != maxSkip || r.maxSkipped != maxSkipped {
				return ErrBadState
			}
			stored += len(r.skipped)
			keys = append(keys, r)
		}
		if stored > maxSkipped {
			return ErrBadState
		}
		m := &member{keys: keys}
		if version == groupStateVersion {
			if m.forgotten = readForgotten(&d, keys); d.err {
				return ErrBadState
			}
		}
		t.members[name] = m
	}
	if len(d.b) != 0 {
		return ErrBadState
	}
	*g = *t
	return nil
}

// readForgotten reads a member's forgotten keys (nil if none) and checks
// them against its kept keys: at most maxForgottenKeys, no two alike and
// none kept. It sets d.err if they are inconsistent.
func readForgotten(d *decoder, keys []*GroupReceiver) []keyRef {
	n := int(d.byte())
	if d.err || n > maxForgottenKeys || n*forgottenKeySize > len(d.b) {
		d.err = true
		return nil
	}
	if n == 0 {
		return nil
	}
	kept := make([]keyRef, len(keys))
	for i, r := range keys {
		kept[i] = refOf(r)
	}
	forgotten := make([]keyRef, 0, n)
	for range n {
		f := keyRef{d.uint32(), d.uint64()}
		if slices.Contains(forgotten, f) || slices.Contains(kept, f) {
			d.err = true
			return nil
		}
		forgotten = append(forgotten, f)
	}
	return forgotten
}

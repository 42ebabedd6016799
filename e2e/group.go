package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math"
	"slices"
)

// Group wire types.
const (
	typeGroupMessage      = 0x11
	typeGroupDistribution = 0x12
	groupHeaderSize       = 1 + 4 + 4 // type, key id, iteration
	// DistributionSize is the length of a sender key distribution message.
	DistributionSize = 1 + 4 + 4 + KeySize + KeySize
	// GroupOverhead is the bytes a group message adds to its plaintext.
	GroupOverhead = groupHeaderSize + tagSize + ed25519.SignatureSize
)

// GroupSender is one member's sending half of Sender Keys: a chain key that
// advances with KDFCK on every message and an Ed25519 key that signs every
// message. Its distribution message goes to each other member over their
// pairwise Double Ratchet sessions; after that one Seal reaches the whole
// group for one AES-GCM encryption and one Ed25519 signature, however large
// the group. A GroupSender is not safe for concurrent use.
type GroupSender struct {
	info      string
	rand      io.Reader
	keyID     uint32
	iteration uint32
	chain     [KeySize]byte
	signing   ed25519.PrivateKey
	kdf       *kdf // made on first use
}

// NewGroupSender returns a sender with a fresh random key id, chain key and
// signing key.
func NewGroupSender(opts Options) (*GroupSender, error) {
	opts.mustValidate()
	o := opts.withDefaults()
	g := &GroupSender{info: o.Info + suffixGroup, rand: o.Rand}
	if err := g.Rotate(); err != nil {
		return nil, err
	}
	return g, nil
}

// Rotate replaces the key id, chain key and signing key with fresh ones and
// restarts the iteration at zero. Receivers need the new Distribution; the
// old one no longer opens anything this sender seals.
func (g *GroupSender) Rotate() error {
	if g.rand == nil {
		g.rand = rand.Reader
	}
	if g.info == "" {
		g.info = DefaultInfo + suffixGroup
	}
	var b [4 + KeySize + ed25519.SeedSize]byte
	if _, err := io.ReadFull(g.rand, b[:]); err != nil {
		return err
	}
	g.keyID = binary.BigEndian.Uint32(b[:4])
	copy(g.chain[:], b[4:])
	g.signing = ed25519.NewKeyFromSeed(b[4+KeySize:])
	g.iteration = 0
	clear(b[:])
	return nil
}

// KeyID returns the current sender key id.
//
// The zero GroupSender has no key: Seal returns ErrBadState and
// Distribution nil until Rotate or UnmarshalBinary gives it one.
func (g *GroupSender) KeyID() uint32 { return g.keyID }

// Distribution returns the sender key distribution message: key id, current
// iteration, current chain key and the signing public key. Whoever holds it
// can read this sender's messages from the current iteration on, never the
// ones before. Send it only over pairwise sessions.
func (g *GroupSender) Distribution() []byte {
	if g.signing == nil {
		return nil // the zero GroupSender
	}
	b := make([]byte, 0, DistributionSize)
	b = append(b, typeGroupDistribution)
	b = binary.BigEndian.AppendUint32(b, g.keyID)
	b = binary.BigEndian.AppendUint32(b, g.iteration)
	b = append(b, g.chain[:]...)
	return append(b, g.signing.Public().(ed25519.PublicKey)...)
}

// Seal encrypts plaintext for the group and appends the signed message
// (type, key id, iteration, AES-256-GCM ciphertext, Ed25519 signature over
// all of it) to dst. It returns ErrCannotSend when the iteration counter is
// exhausted (after 2³²−1 messages; Rotate first). As with Session.Seal,
// dst may share plaintext's storage.
func (g *GroupSender) Seal(dst, plaintext []byte) ([]byte, error) {
	plaintext = unaliased(dst, plaintext)
	if g.signing == nil {
		return dst, ErrBadState // the zero GroupSender
	}
	if g.iteration == math.MaxUint32 {
		// Receivers refuse this iteration (their next expected one would
		// wrap to 0).
		return dst, ErrCannotSend
	}
	return g.seal(dst, plaintext)
}

// seal is Seal without its checks (tests use it to craft the message at
// iteration 2³²−1 that only a malicious sender would send).
func (g *GroupSender) seal(dst, plaintext []byte) ([]byte, error) {
	if g.kdf == nil {
		g.kdf = newKDF()
	}
	next, seed := g.kdf.chain(&g.chain)
	key, nonce := g.kdf.messageKeys(&seed, g.info)
	clear(seed[:])
	aead, err := newGCM(&key)
	clear(key[:])
	if err != nil {
		return dst, err
	}
	start := len(dst)
	out := append(dst, typeGroupMessage)
	out = binary.BigEndian.AppendUint32(out, g.keyID)
	out = binary.BigEndian.AppendUint32(out, g.iteration)
	out = aead.Seal(out, nonce[:], plaintext, out[start:])
	out = append(out, ed25519.Sign(g.signing, out[start:])...)
	g.chain = next
	g.iteration++
	return out, nil
}

// GroupReceiver is one member's receiving state for one other member's
// sender key. It verifies every message's signature before it touches the
// chain, refuses iterations it already opened (ErrReplay) and jumps of more
// than Options.MaxSkip (ErrTooManySkipped), and stores at most
// Options.MaxSkippedKeys keys of skipped iterations, evicting the oldest.
// On error its state is unchanged. Not safe for concurrent use.
type GroupReceiver struct {
	info       string
	maxSkip    int
	maxSkipped int
	keyID      uint32
	iteration  uint32 // next expected
	chain      [KeySize]byte
	verify     ed25519.PublicKey
	skipped    map[uint32][KeySize]byte // nil while empty after a shrink
	order      []uint32
	// grown is the most keys skipped has held since it was made: a Go map
	// keeps the memory it grew to, which shrink gives back.
	grown int
	kdf   *kdf // made on first use
}

// kdfs returns the receiver's derivation state, making it on first use.
func (r *GroupReceiver) kdfs() *kdf {
	if r.kdf == nil {
		r.kdf = newKDF()
	}
	return r.kdf
}

// NewGroupReceiver reads a distribution message. It returns ErrBadHeader
// for a malformed one (including one at iteration 2³²−1, from which no
// message can follow) and ErrLowOrderKey for a small-order signing key.
func NewGroupReceiver(distribution []byte, opts Options) (*GroupReceiver, error) {
	opts.mustValidate()
	o := opts.withDefaults()
	if len(distribution) != DistributionSize || distribution[0] != typeGroupDistribution ||
		binary.BigEndian.Uint32(distribution[5:]) == math.MaxUint32 {
		return nil, ErrBadHeader
	}
	r := &GroupReceiver{
		info:       o.Info + suffixGroup,
		maxSkip:    o.MaxSkip,
		maxSkipped: o.MaxSkippedKeys,
		keyID:      binary.BigEndian.Uint32(distribution[1:]),
		iteration:  binary.BigEndian.Uint32(distribution[5:]),
	}
	copy(r.chain[:], distribution[9:])
	var pub [KeySize]byte
	copy(pub[:], distribution[9+KeySize:])
	if smallOrderEd25519(pub) {
		return nil, ErrLowOrderKey
	}
	r.verify = ed25519.PublicKey(pub[:])
	return r, nil
}

// KeyID returns the sender key id this receiver accepts.
func (r *GroupReceiver) KeyID() uint32 { return r.keyID }

// Open verifies and decrypts a group message and appends the plaintext to
// dst. Errors: ErrBadHeader (also for iteration 2³²−1, which Seal never
// uses), ErrUnknownSenderKey (another key id), ErrInvalidSignature,
// ErrReplay, ErrTooManySkipped, ErrDecrypt. As with Session.Open, dst may
// share msg's storage.
func (r *GroupReceiver) Open(dst, msg []byte) ([]byte, error) {
	msg = unaliased(dst, msg)
	if r.verify == nil {
		return dst, ErrBadState // the zero GroupReceiver
	}
	// Iteration 2³²−1 is refused as malformed: the next expected iteration
	// after it would wrap to 0, below the skipped keys just stored, and
	// such state no longer decodes. Only a sender that bypasses Seal's
	// limit sends it.
	if len(msg) < GroupOverhead || msg[0] != typeGroupMessage || binary.BigEndian.Uint32(msg[5:]) == math.MaxUint32 {
		return dst, ErrBadHeader
	}
	if binary.BigEndian.Uint32(msg[1:]) != r.keyID {
		return dst, ErrUnknownSenderKey
	}
	signed, sig := msg[:len(msg)-ed25519.SignatureSize], msg[len(msg)-ed25519.SignatureSize:]
	if !ed25519.Verify(r.verify, signed, sig) {
		return dst, ErrInvalidSignature
	}
	it := binary.BigEndian.Uint32(msg[5:])
	header, body := signed[:groupHeaderSize], signed[groupHeaderSize:]
	if it < r.iteration {
		seed, ok := r.skipped[it]
		if !ok {
			return dst, ErrReplay
		}
		out, err := r.openBody(dst, &seed, header, body)
		if err != nil {
			return dst, err
		}
		delete(r.skipped, it)
		r.shrink()
		return out, nil
	}
	if uint64(it-r.iteration) > uint64(r.maxSkip) {
		return dst, ErrTooManySkipped
	}
	// Stage: derive up to it on a copy, commit after authentication.
	chain := r.chain
	var skipped []skipEntry
	for i := r.iteration; i < it; i++ {
		next, seed := r.kdfs().chain(&chain)
		skipped = append(skipped, skipEntry{skipID{n: i}, seed})
		chain = next
	}
	next, seed := r.kdfs().chain(&chain)
	out, err := r.openBody(dst, &seed, header, body)
	clear(seed[:])
	if err != nil {
		return dst, err
	}
	r.chain, r.iteration = next, it+1
	if r.skipped == nil && len(skipped) > 0 {
		r.skipped = make(map[uint32][KeySize]byte, len(skipped))
	}
	for _, e := range skipped {
		r.skipped[e.id.n] = e.mk
		r.order = append(r.order, e.id.n)
	}
	r.grown = max(r.grown, len(r.skipped))
	if over := len(r.skipped) - r.maxSkipped; over > 0 {
		r.evict(over)
	}
	if len(r.order) > 2*len(r.skipped)+64 {
		live := r.order[:0:0]
		for _, i := range r.order {
			if _, ok := r.skipped[i]; ok {
				live = append(live, i)
			}
		}
		r.order = live
	}
	return out, nil
}

// evict deletes up to n stored skipped keys, oldest first, and returns how
// many it deleted. r.order holds every stored iteration, in the order they
// were stored, and may still hold iterations whose keys were used.
func (r *GroupReceiver) evict(n int) int {
	deleted := 0
	for deleted < n && len(r.skipped) > 0 && len(r.order) > 0 {
		it := r.order[0]
		r.order = r.order[1:]
		if _, ok := r.skipped[it]; ok {
			delete(r.skipped, it)
			deleted++
		}
	}
	if deleted > 0 {
		r.shrink()
	}
	return deleted
}

// shrink rebuilds skipped and order at their live size once deletions
// (evictions or used keys) have left fewer than half the keys skipped held
// at most since it was made, and drops both when none is left. A Go map
// never gives back the memory it grew to, and evict only reslices order
// from the front, so an older sender key whose skipped keys a newer one
// evicted would otherwise keep a full map until it is forgotten: five
// keys of a member held five times one key's memory for the same
// MaxSkippedKeys live keys. A rebuild copies fewer keys than were deleted
// since the last one, so it costs amortised O(1) per deletion.
func (r *GroupReceiver) shrink() {
	n := len(r.skipped)
	if n > 0 && 2*n >= r.grown {
		return
	}
	r.grown = n
	if n == 0 {
		r.skipped, r.order = nil, nil
		return
	}
	skipped := make(map[uint32][KeySize]byte, n)
	order := make([]uint32, 0, n)
	for _, it := range r.order {
		if k, ok := r.skipped[it]; ok {
			skipped[it] = k
			order = append(order, it)
		}
	}
	clear(r.skipped) // the old map's copies of the live keys
	r.skipped, r.order = skipped, order
}

func (r *GroupReceiver) openBody(dst []byte, seed *[KeySize]byte, header, body []byte) ([]byte, error) {
	key, nonce := r.kdfs().messageKeys(seed, r.info)
	aead, err := newGCM(&key)
	clear(key[:])
	if err != nil {
		return dst, err
	}
	out, err := aead.Open(dst, nonce[:], body, header)
	if err != nil {
		return dst, ErrDecrypt
	}
	return out, nil
}

// MaxSenderKeyStates is how many sender keys a Group keeps per member, the
// newest and the ones it replaced, as libsignal keeps (its
// MAX_SENDER_KEY_STATES, 5). A member's group messages sent just before it
// rotated may arrive after its new key's distribution: they still open
// under the old key while it is kept. A new key that would make one more
// forgets the member's oldest, and messages under that fail with
// ErrUnknownSenderKey. The stored skipped message keys of all of a
// member's sender keys together stay within Options.MaxSkippedKeys.
const MaxSenderKeyStates = 5

// Group is one member's view of a Sender Keys group: its own GroupSender
// and, per other member (keyed by member name), a GroupReceiver for each of
// the member's last MaxSenderKeyStates sender keys, so that messages still
// in flight under a replaced key open. Removing a member rotates the own
// sender key, and every remaining member does the same when it learns of
// the removal, so the removed member's receivers open nothing sent
// afterwards; a member added later receives the current distributions and
// so cannot open anything sent before. A Group is not safe for concurrent
// use. The zero Group refuses everything with ErrBadState until
// UnmarshalBinary fills it; use NewGroup.
type Group struct {
	opts Options
	// sender is this member's own sender key.
	sender *GroupSender
	// members holds what the group knows of each other member.
	members map[string]*member
}

// member is what a Group holds of another member.
type member struct {
	// keys are the member's sender keys, newest first: at least one, at
	// most MaxSenderKeyStates, with distinct key ids, whose stored
	// skipped keys number at most MaxSkippedKeys in all.
	keys []*GroupReceiver
	// forgotten names the member's last maxForgottenKeys forgotten keys,
	// oldest first, none of them kept and no two alike: SetMember refuses
	// their distributions (ErrStaleDistribution).
	forgotten []keyRef
}

// maxForgottenKeys is how many of a member's forgotten sender keys a Group
// remembers, to refuse late copies of their distributions: 16 entries,
// 12 bytes each in the saved state, which with the MaxSenderKeyStates
// kept cover the member's last 21 keys.
const maxForgottenKeys = 16

// keyRef identifies a sender key: its key id and a fingerprint of its
// signing key (the first 8 bytes of its SHA-256 hash). Two keys of honest
// senders share both with probability 2⁻⁹⁶; only a member's own keys are
// compared, and a member that forges a match only keeps its own new key
// out.
type keyRef struct {
	id uint32
	fp uint64
}

func refOf(r *GroupReceiver) keyRef {
	h := sha256.Sum256(r.verify)
	return keyRef{r.keyID, binary.BigEndian.Uint64(h[:])}
}

// forget records that the member's key r is forgotten, dropping the oldest
// record beyond maxForgottenKeys.
func (m *member) forget(r *GroupReceiver) {
	if len(m.forgotten) == maxForgottenKeys {
		m.forgotten = slices.Delete(m.forgotten, 0, 1)
	}
	m.forgotten = append(m.forgotten, refOf(r))
}

// keyIndex returns the index of the receiver of key id in keys, or -1.
func keyIndex(keys []*GroupReceiver, id uint32) int {
	for i, r := range keys {
		if r.keyID == id {
			return i
		}
	}
	return -1
}

// NewGroup returns a group with no other members and a fresh sender key.
func NewGroup(opts Options) (*Group, error) {
	s, err := NewGroupSender(opts)
	if err != nil {
		return nil, err
	}
	return &Group{opts: opts, sender: s, members: make(map[string]*member)}, nil
}

// Distribution returns this member's current sender key distribution, to
// send to each other member over its pairwise session (nil for the zero
// Group).
func (g *Group) Distribution() []byte {
	if g.sender == nil {
		return nil
	}
	return g.sender.Distribution()
}

// SetMember adds a member, or a new sender key of a member after it
// rotated, from the distribution message it sent. The member's previous
// keys are kept, up to MaxSenderKeyStates in all, so that its messages
// still in flight under them open; a new key beyond that forgets the
// member's oldest.
//
// Call it only with a distribution received over the named member's own
// authenticated pairwise session (the Session whose peer identity is that
// member's), never with one from the group fan-out or relayed by anyone
// else: a distribution names no sender, and whoever can get one into
// SetMember(name, ...) decides which keys name's messages open under. A
// key of theirs is taken as name's newest and forgets name's oldest kept
// key (MaxSenderKeyStates of them forget all of name's genuine keys), or,
// with the key id of one of name's kept keys, replaces that key.
//
// A distribution of a key the member already has (the same key id and
// signing key) changes nothing, as in libsignal: that key's receiver keeps
// its place and its skipped keys, so a repeated or reordered distribution
// cannot make messages already read open again. The exception is one more
// than Options.MaxSkip iterations ahead of the receiver, which could never
// catch up with the sender by itself (its messages would all be
// ErrTooManySkipped): it replaces the receiver, which then refuses
// everything before the distribution's iteration except the messages
// whose keys the old receiver stored, so nothing opens twice either.
// Either way the key keeps its place among the member's keys, which stay
// in the order they first arrived; libsignal moves it to the front
// instead, but a sender never returns to an old key (Rotate draws a fresh
// one), so a late copy of an old distribution must not make newer keys
// the first to be forgotten.
//
// A new key with the key id of one of the member's kept keys but another
// signing key replaces that key, as in libsignal: a message's key id picks
// the key it opens under, so two keys cannot share one.
//
// A distribution of one of the last 16 keys the group forgot for the
// member (after MaxSenderKeyStates newer ones, or replaced by a newer key
// with its key id) is refused with ErrStaleDistribution and changes
// nothing: a sender never returns to a key, so it is a late or replayed
// copy, and taken as a new key it would make the messages already read
// under it open again and forget one of the member's newer keys (which
// libsignal does). A copy of a key forgotten longer ago, or forgotten
// with the member by RemoveMember, cannot be told from a new key and is
// taken as one: never pass SetMember a distribution cached or stored
// earlier, only one just received from the member.
//
// A name longer than 65535 bytes, which the group's saved state cannot
// encode, is refused with ErrMemberName, a malformed distribution with the
// errors of NewGroupReceiver. The cost is one distribution parse, a
// look-up among at most MaxSenderKeyStates keys and, for a key the member
// does not have, a SHA-256 hash of its signing key and a look-up among at
// most 16 forgotten ones.
func (g *Group) SetMember(name string, distribution []byte) error {
	if g.sender == nil {
		return ErrBadState // the zero Group
	}
	if len(name) > maxMemberName {
		return ErrMemberName
	}
	r, err := NewGroupReceiver(distribution, g.opts)
	if err != nil {
		return err
	}
	m := g.members[name]
	if m == nil {
		m = &member{}
	}
	keys := m.keys
	i := keyIndex(keys, r.keyID)
	if i >= 0 && keys[i].verify.Equal(r.verify) {
		old := keys[i]
		if uint64(r.iteration) <= uint64(old.iteration)+uint64(old.maxSkip) {
			return nil
		}
		// The resynced receiver keeps the keys the old one stored for
		// messages still to come: all below the old iteration, so below
		// the new one's, and as many as the old one was allowed (the
		// member's total is unchanged).
		r.skipped, r.order, r.grown = old.skipped, old.order, old.grown
		keys[i] = r
		return nil
	}
	if slices.Contains(m.forgotten, refOf(r)) {
		return ErrStaleDistribution
	}
	if i >= 0 {
		m.forget(keys[i])
		keys = slices.Delete(keys, i, i+1)
	}
	if len(keys) >= MaxSenderKeyStates {
		m.forget(keys[MaxSenderKeyStates-1])
		clear(keys[MaxSenderKeyStates-1:])
		keys = keys[:MaxSenderKeyStates-1]
	}
	// The older keys open only late messages from now on: their
	// derivation scratch (about 1 KB each, made by the previous newest or
	// by a late message since the last new key) is made again if one
	// comes.
	for _, k := range keys {
		k.kdf = nil
	}
	m.keys = slices.Insert(keys, 0, r)
	g.members[name] = m
	return nil
}

// RemoveMember forgets all the member's sender keys and rotates this
// member's own; send the returned distribution to every remaining member.
//
// It also drops the member's record of forgotten keys (see SetMember), so
// the group holds nothing of a removed member: a record per name ever
// removed would grow without bound, and a removed member need not rotate,
// so when it is added again the distribution it sends may well be that of
// the key it had, which must then be taken. When re-adding a member, pass
// SetMember only a distribution just received from it, never one kept
// from before its removal: that would make the messages read under it
// before the removal open again.
func (g *Group) RemoveMember(name string) ([]byte, error) {
	if g.sender == nil {
		return nil, ErrBadState // the zero Group
	}
	delete(g.members, name)
	if err := g.sender.Rotate(); err != nil {
		return nil, err
	}
	return g.sender.Distribution(), nil
}

// Members returns the number of other members whose sender keys are held.
func (g *Group) Members() int { return len(g.members) }

// Seal encrypts one message for every member (see GroupSender.Seal).
func (g *Group) Seal(dst, plaintext []byte) ([]byte, error) {
	if g.sender == nil {
		return dst, ErrBadState // the zero Group
	}
	return g.sender.Seal(dst, plaintext)
}

// Open decrypts a message from the named member under the one of its kept
// sender keys whose key id the message names, looking at the newest first
// (at most MaxSenderKeyStates comparisons), and appends the plaintext to
// dst. Errors: ErrUnknownSenderKey if the member is unknown or none of its
// kept keys has the message's key id (never distributed, or forgotten
// after MaxSenderKeyStates newer ones), ErrBadState on the zero Group,
// otherwise the errors of GroupReceiver.Open. When the message makes the
// member's keys store more than Options.MaxSkippedKeys skipped keys in
// all, the oldest are evicted: those of the member's oldest keys first,
// since a sender never returns to an older key. On error the group is
// unchanged.
func (g *Group) Open(dst []byte, from string, msg []byte) ([]byte, error) {
	if g.sender == nil {
		return dst, ErrBadState // the zero Group
	}
	m := g.members[from]
	if m == nil || len(m.keys) == 0 {
		return dst, ErrUnknownSenderKey
	}
	keys := m.keys
	// A message too short for a key id, or naming none of the member's
	// keys, goes to the newest, whose Open refuses it (ErrBadHeader or
	// ErrUnknownSenderKey).
	r := keys[0]
	if len(msg) >= 1+4 {
		if i := keyIndex(keys, binary.BigEndian.Uint32(msg[1:])); i > 0 {
			r = keys[i]
		}
	}
	stored := len(r.skipped)
	out, err := r.Open(dst, msg)
	// With one key the receiver's own Open has already kept to the
	// group's MaxSkippedKeys (UnmarshalBinary refuses receivers with other
	// limits); the member's total needs a look only across several keys.
	if err == nil && len(keys) > 1 && len(r.skipped) > stored {
		g.evictOldest(keys)
	}
	return out, err
}

// evictOldest deletes skipped keys of a member's keys (newest first) until
// they hold at most MaxSkippedKeys between them: those of its oldest key
// first and, within a key, in the order it stored them.
func (g *Group) evictOldest(keys []*GroupReceiver) {
	over := -g.opts.withDefaults().MaxSkippedKeys
	for _, r := range keys {
		over += len(r.skipped)
	}
	for i := len(keys) - 1; i >= 0 && over > 0; i-- {
		over -= keys[i].evict(over)
	}
}

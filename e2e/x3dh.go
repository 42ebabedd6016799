package e2e

import (
	"crypto/ecdh"
	"encoding/binary"
	"math"
	"sync"
	"time"
)

// AssociatedData returns X3DH's AD for initiator a and responder b:
// Encode(IK_A) ‖ Encode(IK_B) ‖ a.Sign ‖ b.Sign (130 bytes). The spec's AD
// is the first 66 bytes; the Ed25519 keys are appended, as the spec allows
// for further identity information, because this package's identities have
// two public keys and both must be bound to the session.
func AssociatedData(a, b PublicIdentity) []byte {
	ad := make([]byte, 0, 2*(1+KeySize)+2*KeySize)
	ad = append(ad, keyTypeX25519)
	ad = append(ad, a.DH[:]...)
	ad = append(ad, keyTypeX25519)
	ad = append(ad, b.DH[:]...)
	ad = append(ad, a.Sign[:]...)
	return append(ad, b.Sign[:]...)
}

// Initiate runs X3DH as the initiator ("Alice") against bundle and returns a
// Double Ratchet session ready to Seal. It verifies the signed prekey's
// signature first and refuses the bundle with ErrInvalidSignature (or
// ErrLowOrderKey for a small-order identity or prekey). Every message the
// session seals carries the X3DH prefix (PrekeyOverhead bytes: Alice's
// identity, her ephemeral key and the prekey ids) until it opens a reply.
//
// Cost: one Ed25519 verification, four (three without a one-time prekey)
// X25519 operations plus one for the first ratchet step, and two key
// generations.
func Initiate(alice *Identity, bundle Bundle, opts Options) (*Session, error) {
	if err := bundle.SignedPrekey.Verify(bundle.Identity); err != nil {
		return nil, err
	}
	if !canonicalX25519(&bundle.Identity.DH) || !canonicalX25519(&bundle.SignedPrekey.Public) ||
		(bundle.OneTimePrekey != nil && !canonicalX25519(&bundle.OneTimePrekey.Public)) {
		return nil, ErrBadKey
	}
	o := opts.withDefaults()
	ek, err := genX25519(o.Rand)
	if err != nil {
		return nil, err
	}
	spk := bundle.SignedPrekey.Public
	dh1, err := dhKey(alice.dh, spk)
	if err != nil {
		return nil, err
	}
	dh2, err := dhKey(ek, bundle.Identity.DH)
	if err != nil {
		return nil, err
	}
	dh3, err := dhKey(ek, spk)
	if err != nil {
		return nil, err
	}
	dhs := [][]byte{dh1[:], dh2[:], dh3[:]}
	if bundle.OneTimePrekey != nil {
		dh4, err := dhKey(ek, bundle.OneTimePrekey.Public)
		if err != nil {
			return nil, err
		}
		dhs = append(dhs, dh4[:])
	}
	sk, err := x3dhSK(o.Info, dhs...)
	if err != nil {
		return nil, err
	}
	s, err := NewInitiatorSession(sk, AssociatedData(alice.pub, bundle.Identity), spk, opts)
	clear(sk[:])
	if err != nil {
		return nil, err
	}
	s.peer = bundle.Identity
	var ekPub [KeySize]byte
	copy(ekPub[:], ek.PublicKey().Bytes())
	s.prekey = appendPrekeyPrefix(nil, alice.pub, ekPub, bundle.SignedPrekey.ID, bundle.OneTimePrekey)
	return s, nil
}

func x3dhSK(info string, dhs ...[]byte) ([KeySize]byte, error) {
	var sk [KeySize]byte
	out, err := X3DHSecret(info, KeySize, dhs...)
	for _, d := range dhs {
		clear(d)
	}
	if err != nil {
		return sk, err
	}
	copy(sk[:], out)
	clear(out)
	return sk, nil
}

// prekeyPrefix is the parsed X3DH prefix of an initial message.
type prekeyPrefix struct {
	identity PublicIdentity
	base     [KeySize]byte
	spkID    uint32
	hasOPK   bool
	opkID    uint32
}

func appendPrekeyPrefix(b []byte, id PublicIdentity, base [KeySize]byte, spkID uint32, opk *OneTimePrekey) []byte {
	b = append(b, typePrekey)
	b = append(b, id.DH[:]...)
	b = append(b, id.Sign[:]...)
	b = append(b, base[:]...)
	b = binary.BigEndian.AppendUint32(b, spkID)
	if opk == nil {
		b = append(b, 0)
		return binary.BigEndian.AppendUint32(b, 0)
	}
	b = append(b, 1)
	return binary.BigEndian.AppendUint32(b, opk.ID)
}

// parsePrekeyPrefix splits an initial message into its prefix and the inner
// ratchet message.
func parsePrekeyPrefix(msg []byte) (prekeyPrefix, []byte, error) {
	var p prekeyPrefix
	if len(msg) < PrekeyOverhead || msg[0] != typePrekey {
		return p, nil, ErrBadHeader
	}
	b := msg[1:]
	copy(p.identity.DH[:], b)
	copy(p.identity.Sign[:], b[KeySize:])
	copy(p.base[:], b[2*KeySize:])
	b = b[3*KeySize:]
	p.spkID = binary.BigEndian.Uint32(b)
	switch b[4] {
	case 0:
	case 1:
		p.hasOPK = true
	default:
		return p, nil, ErrBadHeader
	}
	p.opkID = binary.BigEndian.Uint32(b[5:])
	if !p.hasOPK && p.opkID != 0 {
		return p, nil, ErrBadHeader
	}
	if !canonicalX25519(&p.identity.DH) || !canonicalX25519(&p.base) {
		return p, nil, ErrBadKey
	}
	return p, msg[PrekeyOverhead:], nil
}

// checkPrekeyPrefix lets a responder session open the initiator's further
// initial messages: their prefix must name this session's peer and base key.
// The prefix's other fields (the prekey ids) are authenticated by the body's
// associated data, which covers the whole prefix. Only a session made by
// Keyring.Accept has a base key; any other refuses prefixed messages.
func (s *Session) checkPrekeyPrefix(msg []byte) ([]byte, error) {
	var zero [KeySize]byte
	if s.baseKey == zero {
		return nil, ErrBadHeader
	}
	p, inner, err := parsePrekeyPrefix(msg)
	if err != nil {
		return nil, err
	}
	if p.identity != s.peer || !equal32(&p.base, &s.baseKey) {
		return nil, ErrBadHeader
	}
	return inner, nil
}

// PeekIdentity returns the initiator identity named by an initial message
// (one for which IsInitial is true) so that the receiver can decide whether
// to trust it before calling [Keyring.Accept]. The identity is not yet
// authenticated: Accept authenticates it.
func PeekIdentity(msg []byte) (PublicIdentity, error) {
	p, _, err := parsePrekeyPrefix(msg)
	return p.identity, err
}

// IsInitial reports whether msg is an initial (X3DH) message, which opens a
// new session through [Keyring.Accept].
func IsInitial(msg []byte) bool { return len(msg) > 0 && msg[0] == typePrekey }

// Keyring holds the private halves of one user's prekeys and answers
// initial messages. It keeps the current signed prekey, the previous one
// until Options.PrekeyGrace has passed since its rotation, and every unused
// one-time prekey. A one-time prekey's private key is deleted the moment an
// initial message that uses it authenticates. The previous signed prekey,
// with its replay record, is deleted as soon as the keyring notices on its
// clock (Options.Now) that the grace period has passed: Accept,
// MarshalBinary, SignedPrekey, OneTimePrekeys, GenerateOneTimePrekeys and
// RotateSignedPrekey check first, and so does LoadKeyring; a keyring that
// nobody calls keeps it until its next call. Sessions started without a
// one-time prekey depend on their signed prekey's private key, so X3DH
// keeps a retired one only for messages delayed in transit and then
// deletes it for forward secrecy (the spec's "Publishing keys"): neither a
// keyring nor its saved state taken after the grace period holds it.
// Messages naming a deleted prekey are refused with ErrUnknownPrekey.
// Deleting drops the keyring's reference; Go cannot overwrite a
// crypto/ecdh private key, so its bytes stay in memory until the garbage
// collector reuses them.
//
// To refuse a replayed initial message even without a one-time prekey,
// the keyring remembers the ephemeral (base) key of every accepted initial
// message per signed prekey; that record is deleted with its signed
// prekey. Memory is therefore bounded by the sessions started without a
// one-time prekey under the current signed prekey and, during its grace
// period, the previous one: at most Options.MaxReplayRecord base keys of
// 32 bytes per prekey.
//
// The zero Keyring is not usable: make one with NewKeyring or LoadKeyring.
// A Keyring is safe for concurrent use. Accept holds its lock only to look
// up the prekeys a message names and, once the message authenticated, to
// consume them, checking again that they are still there; that second
// check, not the lock's span, makes a one-time prekey single-use under
// concurrency. Its X25519 agreements and decryption run unlocked. Reads of
// Options.Rand and key generations (RotateSignedPrekey,
// GenerateOneTimePrekeys) run under a lock of their own, which Accept never
// takes, so a slow source holds up only other draws.
type Keyring struct {
	mu sync.Mutex
	// randMu serialises the keyring's draws from Options.Rand, which
	// need not be safe for concurrent use, without holding up Accept,
	// which takes mu and never randMu.
	randMu   sync.Mutex
	id       *Identity
	opts     Options
	current  *signedPrekeyPriv
	previous *signedPrekeyPriv // nil, or retired and answering until expires (dropExpired deletes it then)
	oneTime  map[uint32]*ecdh.PrivateKey
	nextID   uint32
}

type signedPrekeyPriv struct {
	pub     SignedPrekey
	priv    *ecdh.PrivateKey
	seen    map[[KeySize]byte]struct{}
	expires time.Time
}

// NewKeyring returns a keyring for id with a fresh signed prekey.
func NewKeyring(id *Identity, opts Options) (*Keyring, error) {
	if id == nil {
		panic("e2e: NewKeyring with nil Identity")
	}
	opts.mustValidate()
	k := &Keyring{id: id, opts: opts.withDefaults(), oneTime: make(map[uint32]*ecdh.PrivateKey), nextID: 1}
	priv, err := genX25519(k.opts.Rand)
	if err != nil {
		return nil, err
	}
	k.current = k.signedPrekey(priv)
	return k, nil
}

// signedPrekey signs priv's public half as the signed prekey with the next
// id. The caller holds k.mu (or owns k) and drew priv before taking it
// (see draw): the randomness source is the caller's code, which runs under
// no lock that Accept takes.
func (k *Keyring) signedPrekey(priv *ecdh.PrivateKey) *signedPrekeyPriv {
	var pub [KeySize]byte
	copy(pub[:], priv.PublicKey().Bytes())
	id := k.nextID
	k.nextID++
	return &signedPrekeyPriv{pub: k.id.SignPrekey(id, pub), priv: priv, seen: make(map[[KeySize]byte]struct{})}
}

// Identity returns the keyring's identity.
func (k *Keyring) Identity() *Identity { return k.id }

// lock takes k.mu, deletes the previous signed prekey if its grace
// period has passed, and returns the clock's reading it judged by. It
// reads the clock before taking the lock, so that no caller's clock runs
// under it; a reading that another goroutine's later one overtook cannot
// bring a deleted prekey back.
func (k *Keyring) lock() time.Time {
	now := k.opts.Now()
	k.mu.Lock()
	k.dropExpired(now)
	return now
}

// dropExpired deletes the previous signed prekey and its replay record if
// its grace period has passed at now, so that a previous prekey the
// keyring holds always answers. The caller holds k.mu (or owns k).
func (k *Keyring) dropExpired(now time.Time) {
	if k.previous != nil && !now.Before(k.previous.expires) {
		k.previous = nil
	}
}

// SignedPrekey returns the current signed prekey, to publish. It deletes
// the previous signed prekey if its grace period has passed, as every
// method that reads the keyring's prekeys does.
func (k *Keyring) SignedPrekey() SignedPrekey {
	k.lock()
	defer k.mu.Unlock()
	return k.current.pub
}

// RotateSignedPrekey replaces the signed prekey with a fresh one and returns
// it, to publish. The old one keeps answering initial messages until
// Options.PrekeyGrace from now, and is deleted once that has passed (see
// [Keyring]); the one before it is deleted now if it was not already.
func (k *Keyring) RotateSignedPrekey() (SignedPrekey, error) {
	privs, err := k.draw(1)
	if err != nil {
		return SignedPrekey{}, err
	}
	now := k.lock()
	defer k.mu.Unlock()
	spk := k.signedPrekey(privs[0])
	k.current.expires = now.Add(k.opts.PrekeyGrace)
	k.previous, k.current = k.current, spk
	return spk.pub, nil
}

// draw generates n X25519 keys from Options.Rand under k.randMu, which
// serialises the keyring's reads of a source that need not be safe for
// concurrent use; it is released however the source returns, a panic
// included.
func (k *Keyring) draw(n int) ([]*ecdh.PrivateKey, error) {
	k.randMu.Lock()
	defer k.randMu.Unlock()
	privs := make([]*ecdh.PrivateKey, n)
	for i := range privs {
		priv, err := genX25519(k.opts.Rand)
		if err != nil {
			return nil, err
		}
		privs[i] = priv
	}
	return privs, nil
}

// MaxOneTimePrekeys is the most one-time prekeys one
// GenerateOneTimePrekeys call makes (servers take them in batches of about
// a hundred).
const MaxOneTimePrekeys = 1 << 16

// GenerateOneTimePrekeys makes n one-time prekeys, keeps their private
// halves and returns the public halves, to publish. It returns
// ErrPrekeyCount for a negative n, one above MaxOneTimePrekeys or one that
// would exhaust the 32-bit prekey ids, and the randomness source's error
// if drawing a key fails; on error it adds no prekey and uses no id. The
// keys are drawn before the keyring's lock is taken, so Accept does not
// wait for them (about 45 µs a key).
func (k *Keyring) GenerateOneTimePrekeys(n int) ([]OneTimePrekey, error) {
	if n < 0 || n > MaxOneTimePrekeys {
		return nil, ErrPrekeyCount
	}
	privs, err := k.draw(n)
	if err != nil {
		return nil, err
	}
	k.lock()
	defer k.mu.Unlock()
	if uint64(n) >= math.MaxUint32-uint64(k.nextID) {
		return nil, ErrPrekeyCount
	}
	out := make([]OneTimePrekey, n)
	for i, priv := range privs {
		out[i].ID = k.nextID + uint32(i)
		copy(out[i].Public[:], priv.PublicKey().Bytes())
		k.oneTime[out[i].ID] = priv
	}
	k.nextID += uint32(n)
	return out, nil
}

// OneTimePrekeys returns the number of unused one-time prekeys held.
func (k *Keyring) OneTimePrekeys() int {
	k.lock()
	defer k.mu.Unlock()
	return len(k.oneTime)
}

// Accept runs X3DH as the responder ("Bob") on an initial message and
// decrypts it. It returns the new session and the plaintext appended to
// dst. Only when the message authenticates does it delete the one-time
// prekey used, or, for a message without one, record the initiator's base
// key; so a forged message consumes nothing, and a replayed one is refused
// with ErrReplay. When the record of the signed prekey the message names
// holds Options.MaxReplayRecord base keys, messages without a one-time
// prekey that name it are refused with ErrReplayRecordFull for as long as
// it answers (after a rotation, until its grace period ends): rotate the
// signed prekey regularly and publish one-time prekeys. Other errors:
// ErrBadHeader (malformed prefix or message), ErrBadKey (a non-canonical
// identity or base key in the prefix), ErrUnknownPrekey (also for the
// previous signed prekey once its grace period has passed, which Accept
// then deletes), ErrLowOrderKey, ErrTooManySkipped (a message more than
// Options.MaxSkip into the initiator's first chain), ErrDecrypt. A
// one-time prekey id below the keyring's next id that it does not hold is
// refused as ErrReplay (see ErrUnknownPrekey).
//
// Accept changes the keyring (a one-time prekey deleted, a base key
// recorded or an expired previous signed prekey deleted): persist it
// (MarshalBinary) before acting on the plaintext or replying, or a crash
// could let the same initial message be accepted again after a restart.
//
// The initiator repeats the X3DH prefix on every message until it hears
// back; open those later ones with the returned session's Open (which
// checks the prefix names the same peer and base key): Accept refuses them
// as replays.
//
// The X25519 agreements and the decryption run outside the keyring's lock,
// which is held only to look up the prekeys and, after authentication, to
// consume them (re-checking that nobody consumed them in between).
func (k *Keyring) Accept(dst, msg []byte) (*Session, []byte, error) {
	p, _, err := parsePrekeyPrefix(msg)
	if err != nil {
		return nil, dst, err
	}
	k.lock()
	spk, opk, err := k.lookup(&p)
	k.mu.Unlock()
	if err != nil {
		return nil, dst, err
	}
	dh1, err := dhKey(spk.priv, p.identity.DH)
	if err != nil {
		return nil, dst, err
	}
	dh2, err := dhKey(k.id.dh, p.base)
	if err != nil {
		return nil, dst, err
	}
	dh3, err := dhKey(spk.priv, p.base)
	if err != nil {
		return nil, dst, err
	}
	dhs := [][]byte{dh1[:], dh2[:], dh3[:]}
	if opk != nil {
		dh4, err := dhKey(opk, p.base)
		if err != nil {
			return nil, dst, err
		}
		dhs = append(dhs, dh4[:])
	}
	sk, err := x3dhSK(k.opts.Info, dhs...)
	if err != nil {
		return nil, dst, err
	}
	s := newResponderSession(sk, AssociatedData(p.identity, k.id.pub), spk.priv, k.opts)
	clear(sk[:])
	s.peer = p.identity
	s.baseKey = p.base
	out, err := s.Open(dst, msg)
	if err != nil {
		return nil, dst, err
	}
	k.lock()
	defer k.mu.Unlock()
	// Another Accept may have consumed the prekey, or a rotation or the
	// end of its grace period deleted it, while this one computed.
	spk2, opk2, err := k.lookup(&p)
	if err != nil || spk2 != spk || opk2 != opk {
		if err == nil {
			err = ErrReplay
		}
		return nil, dst, err
	}
	if opk != nil {
		delete(k.oneTime, p.opkID)
	} else {
		spk.seen[p.base] = struct{}{}
	}
	return s, out, nil
}

// lookup finds the prekeys an initial message names and checks that it
// can still be accepted. The caller holds k.mu and has deleted an expired
// previous signed prekey (lock).
func (k *Keyring) lookup(p *prekeyPrefix) (*signedPrekeyPriv, *ecdh.PrivateKey, error) {
	spk := k.current
	if spk.pub.ID != p.spkID {
		spk = k.previous
		if spk == nil || spk.pub.ID != p.spkID {
			return nil, nil, ErrUnknownPrekey
		}
	}
	if !p.hasOPK {
		if _, ok := spk.seen[p.base]; ok {
			return nil, nil, ErrReplay
		}
		if len(spk.seen) >= k.opts.MaxReplayRecord {
			return nil, nil, ErrReplayRecordFull
		}
		return spk, nil, nil
	}
	opk := k.oneTime[p.opkID]
	if opk == nil {
		if p.opkID < k.nextID {
			// Issued by this keyring (ids count up) and gone: deleted when
			// a message that used it was accepted. Or never a one-time
			// prekey's (0, or a signed prekey's id): one counter numbers
			// both kinds and the keyring does not remember which went to
			// which, so it cannot tell these apart (see ErrUnknownPrekey).
			return nil, nil, ErrReplay
		}
		return nil, nil, ErrUnknownPrekey
	}
	return spk, opk, nil
}

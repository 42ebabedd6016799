package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// Wire message types, the first byte of every message.
const (
	typeMessage   = 0x01 // plaintext header
	typeMessageHE = 0x02 // encrypted header
	typePrekey    = 0x03 // X3DH prefix followed by a typeMessage or typeMessageHE
)

// Sizes of the wire format.
const (
	headerSize      = KeySize + 4 + 4 // DH public, PN, N
	plainPrefixSize = 1 + headerSize
	encHeaderSize   = chacha20poly1305.NonceSizeX + headerSize + chacha20poly1305.Overhead
	hePrefixSize    = 1 + encHeaderSize
	tagSize         = 16
	// Overhead is the number of bytes a ratchet message adds to its
	// plaintext without header encryption (with it, add 40 more); an
	// initiator's messages carry PrekeyOverhead more until its first reply.
	Overhead = plainPrefixSize + tagSize
	// PrekeyOverhead is the size of the X3DH prefix of an initial message.
	PrekeyOverhead = 1 + 2*KeySize + KeySize + 4 + 1 + 4
)

// skipID names a stored skipped message key: the chain's ratchet public key
// (or, with header encryption, its header key) and the message number.
type skipID struct {
	chain [KeySize]byte
	n     uint32
}

// skippedKey is a stored skipped message key and the sequence number it
// was stored under. An id can be stored, used and stored again (a peer
// that reuses a ratchet key), so Session.order may hold several entries of
// one id; only the one with the key's current seq is live.
type skippedKey struct {
	mk  [KeySize]byte
	seq uint64
}

// skipRef is an entry of Session.order: the id of a key as stored under
// sequence number seq.
type skipRef struct {
	id  skipID
	seq uint64
}

// Session is one party's Double Ratchet state with one peer. Seal encrypts,
// Open decrypts; both advance the state. A Session is not safe for
// concurrent use: callers serialize access per session (typically one
// goroutine or one lock per conversation). On any error from Open the
// session is exactly as it was before the call. The zero Session is not
// usable (Seal and Open return ErrBadState) until UnmarshalBinary fills it;
// sessions come from Initiate, Keyring.Accept or the New*Session functions.
type Session struct {
	info           string
	msgInfo        string // info + "/message", precomputed so Seal does not allocate
	ratchetInfo    string // info + "/ratchet"
	maxSkip        int
	maxSkipped     int
	maxChains      int // Options.MaxSkippedChains
	headerEncrypt  bool
	rand           io.Reader
	ad             []byte
	peer           PublicIdentity
	dhs            *ecdh.PrivateKey
	dhsPub         [KeySize]byte
	dhr, prevDHr   [KeySize]byte
	hasDHr         bool
	hasPrevDHr     bool
	rk, cks, ckr   [KeySize]byte
	hasCKs, hasCKr bool
	pendingSend    bool // the sending half of a DH ratchet step is due (dhs is nil)
	ns, nr, pn     uint32
	hks, hkr       [KeySize]byte
	nhks, nhkr     [KeySize]byte
	prevHKr        [KeySize]byte
	hasHKs, hasHKr bool
	hasPrevHKr     bool
	skipped        map[skipID]skippedKey
	skippedChains  map[[KeySize]byte]int // stored keys per chain (ratchet key, or header key with header encryption)
	// headerAEADs caches the XChaCha20-Poly1305 instance of each header key
	// in use (sending, receiving, next, previous, and chains with skipped
	// keys), so trial decryptions do not rebuild it; pruned on each step.
	headerAEADs map[[KeySize]byte]cipher.AEAD
	kdf         *kdf          // derivation state and buffers, made on first use
	order       []skipRef     // insertion order of skipped; may hold dead entries (see live)
	seq         uint64        // sequence number of the last stored skipped key
	prekey      []byte        // X3DH prefix sent until the first reply
	baseKey     [KeySize]byte // responder: the initiator's ephemeral key
	scratch     []byte        // associated-data buffer reused by Seal/Open
	// Buffers handed to cipher.AEAD methods; as fields they do not make
	// each call allocate (arguments of interface calls escape).
	hdrBuf   [headerSize]byte
	nonceBuf [chacha20poly1305.NonceSizeX]byte
}

// NewInitiatorSession starts the Double Ratchet as the party that sends
// first ("Alice"), from a shared secret sk, the associated data ad both
// sides agreed on, and the responder's ratchet public key (in X3DH, its
// signed prekey). With header encryption, the shared header keys are derived
// from sk: HKDF-SHA256(ikm = sk, no salt, info = Info + "/header", 64 bytes)
// split into the initiator's sending and the responder's sending header key.
// Most callers use [Initiate] instead.
func NewInitiatorSession(sk [KeySize]byte, ad []byte, remoteRatchet [KeySize]byte, opts Options) (*Session, error) {
	s := newSession(ad, opts)
	dhs, err := genX25519(s.rand)
	if err != nil {
		return nil, err
	}
	dh, err := dhKey(dhs, remoteRatchet)
	if err != nil {
		return nil, err
	}
	s.setDHs(dhs)
	s.dhr, s.hasDHr = remoteRatchet, true
	if s.headerEncrypt {
		hka, nhkb := sharedHeaderKeys(sk, s.info)
		s.rk, s.cks, s.nhks = s.kdfs().rootKeys(&sk, &dh, s.ratchetInfo, 3)
		s.hks, s.hasHKs = hka, true
		s.nhkr = nhkb
	} else {
		s.rk, s.cks, _ = s.kdfs().rootKeys(&sk, &dh, s.ratchetInfo, 2)
	}
	s.hasCKs = true
	clear(dh[:])
	return s, nil
}

// NewResponderSession starts the Double Ratchet as the party that receives
// first ("Bob"), whose ratchet private key (in X3DH, the signed prekey's) is
// ratchetPriv. It cannot Seal until it has opened a message.
func NewResponderSession(sk [KeySize]byte, ad []byte, ratchetPriv [KeySize]byte, opts Options) (*Session, error) {
	k, err := ecdh.X25519().NewPrivateKey(ratchetPriv[:])
	if err != nil {
		return nil, ErrBadKey
	}
	return newResponderSession(sk, ad, k, opts), nil
}

// newResponderSession is NewResponderSession for a parsed key (parsing a
// raw X25519 key costs a scalar multiplication).
func newResponderSession(sk [KeySize]byte, ad []byte, k *ecdh.PrivateKey, opts Options) *Session {
	s := newSession(ad, opts)
	s.setDHs(k)
	s.rk = sk
	if s.headerEncrypt {
		hka, nhkb := sharedHeaderKeys(sk, s.info)
		s.nhks = nhkb
		s.nhkr = hka
	}
	return s
}

func newSession(ad []byte, opts Options) *Session {
	opts.mustValidate()
	o := opts.withDefaults()
	return &Session{
		info:          o.Info,
		msgInfo:       o.Info + suffixMessage,
		ratchetInfo:   o.Info + suffixRatchet,
		maxSkip:       o.MaxSkip,
		maxSkipped:    o.MaxSkippedKeys,
		maxChains:     o.MaxSkippedChains,
		headerEncrypt: o.HeaderEncryption,
		rand:          o.Rand,
		ad:            slices.Clone(ad),
		skipped:       make(map[skipID]skippedKey),
		skippedChains: make(map[[KeySize]byte]int),
	}
}

// kdfs returns the session's derivation state, making it on first use.
func (s *Session) kdfs() *kdf {
	if s.kdf == nil {
		s.kdf = newKDF()
	}
	return s.kdf
}

func (s *Session) setDHs(k *ecdh.PrivateKey) {
	s.dhs = k
	copy(s.dhsPub[:], k.PublicKey().Bytes())
}

// sharedHeaderKeys derives the two initial header keys of the
// header-encryption variant from the shared secret.
func sharedHeaderKeys(sk [KeySize]byte, info string) (hka, nhkb [KeySize]byte) {
	out, _ := hkdf.Key(sha256.New, sk[:], nil, info+suffixHeader, 2*KeySize)
	copy(hka[:], out)
	copy(nhkb[:], out[KeySize:])
	clear(out)
	return hka, nhkb
}

// genX25519 generates an X25519 key from 32 bytes of rand. (crypto/ecdh's
// own GenerateKey may ignore its reader; reading it here keeps Options.Rand
// in charge, which deterministic tests rely on.)
func genX25519(rand io.Reader) (*ecdh.PrivateKey, error) {
	var b [KeySize]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, err
	}
	k, err := ecdh.X25519().NewPrivateKey(b[:])
	clear(b[:])
	return k, err
}

// AssociatedData returns the associated data the session binds every message
// to (for X3DH sessions, Encode(IK_A) ‖ Encode(IK_B) ‖ both Ed25519 keys).
func (s *Session) AssociatedData() []byte { return slices.Clone(s.ad) }

// Peer returns the remote identity of a session made by [Initiate] or
// [Keyring.Accept] (the zero value for sessions made from a raw secret).
func (s *Session) Peer() PublicIdentity { return s.peer }

// HeaderEncryption reports whether the session encrypts headers.
func (s *Session) HeaderEncryption() bool { return s.headerEncrypt }

// Skipped returns the number of skipped message keys the session stores.
func (s *Session) Skipped() int { return len(s.skipped) }

// Seal encrypts plaintext as the next message of the sending chain and
// appends the wire message to dst. It derives one message key (two
// HMAC-SHA256) and its AES-256-GCM key and nonce (HKDF, three HMAC-SHA256);
// with header encryption it also seals the 40-byte header with
// XChaCha20-Poly1305 under a random nonce. The first Seal after an Open
// that stepped the DH ratchet also completes that step (one key generation,
// one X25519 agreement, one HKDF). Seal returns ErrCannotSend on a
// responder that has not received a message yet, and the randomness
// source's error if drawing a key or nonce fails. On any error the session
// is exactly as before the call: all randomness (the header nonce, then
// the new ratchet key) is drawn before anything in it changes. dst may
// share plaintext's storage (Seal(pt[:0], pt)); that costs a copy of the
// plaintext.
func (s *Session) Seal(dst, plaintext []byte) ([]byte, error) {
	plaintext = unaliased(dst, plaintext)
	if s.skipped == nil {
		return dst, ErrBadState // the zero Session
	}
	if s.ns == math.MaxUint32 {
		return dst, ErrCannotSend // N would wrap; the peer must reply first
	}
	if !s.hasCKs && !s.pendingSend {
		return dst, ErrCannotSend
	}
	// Draw all randomness before changing anything, so that a failing
	// source leaves the session as it was: the header nonce here, the new
	// ratchet key in stepSend (which commits only after its draw).
	if s.headerEncrypt {
		if _, err := io.ReadFull(s.rand, s.nonceBuf[:]); err != nil {
			return dst, err
		}
	}
	if s.pendingSend {
		if err := s.stepSend(); err != nil {
			return dst, err
		}
	}
	next, mk := s.kdfs().chain(&s.cks)
	prefix := plainPrefixSize
	if s.headerEncrypt {
		prefix = hePrefixSize
	}
	total := len(s.prekey) + prefix + len(plaintext) + tagSize
	out := slices.Grow(dst, total)
	// The X3DH prefix, when sent, is part of the header the body's
	// associated data covers, so that none of its fields can be changed.
	start := len(out)
	out = append(out, s.prekey...)
	hdr := &s.hdrBuf
	putHeader(hdr, &s.dhsPub, s.pn, s.ns)
	if s.headerEncrypt {
		nonce := s.nonceBuf[:]
		out = append(out, typeMessageHE)
		out = append(out, nonce...)
		out = s.headerAEAD(&s.hks).Seal(out, nonce, hdr[:], nil)
	} else {
		out = append(out, typeMessage)
		out = append(out, hdr[:]...)
	}
	out, err := s.sealBody(out, &mk, out[start:], plaintext)
	clear(mk[:])
	if err != nil {
		return dst, err
	}
	s.cks = next
	s.ns++
	return out, nil
}

// sealBody appends AES-256-GCM(mk, plaintext, AD ‖ header) to out.
func (s *Session) sealBody(out []byte, mk *[KeySize]byte, header, plaintext []byte) ([]byte, error) {
	key, nonce := s.kdfs().messageKeys(mk, s.msgInfo)
	aead, err := newGCM(&key)
	clear(key[:])
	if err != nil {
		return out, err
	}
	s.scratch = appendAD(s.scratch[:0], s.ad, header)
	n := copy(s.nonceBuf[:], nonce[:])
	return aead.Seal(out, s.nonceBuf[:n], plaintext, s.scratch), nil
}

// openBody decrypts a message body under mk.
func (s *Session) openBody(dst []byte, mk *[KeySize]byte, header, ciphertext []byte) ([]byte, error) {
	key, nonce := s.kdfs().messageKeys(mk, s.msgInfo)
	aead, err := newGCM(&key)
	clear(key[:])
	if err != nil {
		return dst, err
	}
	s.scratch = appendAD(s.scratch[:0], s.ad, header)
	n := copy(s.nonceBuf[:], nonce[:])
	out, err := aead.Open(dst, s.nonceBuf[:n], ciphertext, s.scratch)
	if err != nil {
		return dst, ErrDecrypt
	}
	return out, nil
}

func newGCM(key *[32]byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// appendAD appends the body's associated data: the session AD and the wire
// header, each preceded by its length as a big-endian uint32, so no two
// (AD, header) pairs share an encoding.
func appendAD(b, ad, header []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(ad)))
	b = append(b, ad...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(header)))
	return append(b, header...)
}

func putHeader(h *[headerSize]byte, dh *[KeySize]byte, pn, n uint32) {
	copy(h[:], dh[:])
	binary.BigEndian.PutUint32(h[KeySize:], pn)
	binary.BigEndian.PutUint32(h[KeySize+4:], n)
}

func parseHeader(h []byte) (dh [KeySize]byte, pn, n uint32) {
	copy(dh[:], h)
	return dh, binary.BigEndian.Uint32(h[KeySize:]), binary.BigEndian.Uint32(h[KeySize+4:])
}

// staged collects the state changes of one Open; they are applied only
// after the message authenticated, so a failed Open changes nothing.
type staged struct {
	skipped []skipEntry
	ckr     [KeySize]byte
	nr      uint32
	ratchet bool // a DH ratchet step happened
	newDHr  [KeySize]byte
	rk      [KeySize]byte
	newHKr  [KeySize]byte // header encryption: the new receiving header key
	nhkr    [KeySize]byte
}

type skipEntry struct {
	id skipID
	mk [KeySize]byte
}

// Open authenticates and decrypts one wire message and appends the plaintext
// to dst. Messages may arrive out of order: keys of skipped messages are
// stored (at most Options.MaxSkip per chain, Options.MaxSkippedKeys in
// total) and deleted when used. Errors: ErrBadHeader for a message that
// cannot be parsed (or whose encrypted header opens under no current key),
// ErrReplay for a message already received (from a recent chain; from an
// older one ErrDecrypt, or ErrBadHeader with header encryption, as the
// package doc details), ErrTooManySkipped, ErrDecrypt for any
// authentication failure, ErrLowOrderKey for a small-order ratchet key. On
// error the session is unchanged. dst may share msg's storage (Open(msg[:0],
// msg) decrypts in place); that costs a copy of the message.
func (s *Session) Open(dst, msg []byte) ([]byte, error) {
	msg = unaliased(dst, msg)
	if s.skipped == nil {
		return dst, ErrBadState // the zero Session
	}
	// pl is the length of an X3DH prefix; the body's associated data
	// covers it with the header.
	full, pl := msg, 0
	if len(msg) > 0 && msg[0] == typePrekey {
		inner, err := s.checkPrekeyPrefix(msg)
		if err != nil {
			return dst, err
		}
		msg, pl = inner, PrekeyOverhead
	}
	if s.headerEncrypt {
		return s.openHE(dst, full, pl)
	}
	if len(msg) < plainPrefixSize+tagSize || msg[0] != typeMessage {
		return dst, ErrBadHeader
	}
	header, body := full[:pl+plainPrefixSize], msg[plainPrefixSize:]
	dh, pn, n := parseHeader(msg[1:plainPrefixSize])
	if !canonicalX25519(&dh) {
		return dst, ErrBadHeader
	}
	if k, ok := s.skipped[skipID{dh, n}]; ok {
		out, err := s.openBody(dst, &k.mk, header, body)
		if err != nil {
			return dst, err
		}
		s.deleteSkipped(skipID{dh, n})
		return out, nil
	}
	var st staged
	// Only a chain that exists may be continued: an initiator knows the
	// responder's first ratchet key (its signed prekey) before it has a
	// receiving chain, and the zero chain key is public.
	if s.hasCKr && equal32(&dh, &s.dhr) {
		if n < s.nr {
			return dst, ErrReplay
		}
		st.ckr, st.nr = s.ckr, s.nr
	} else {
		if s.hasPrevDHr && equal32(&dh, &s.prevDHr) {
			return dst, ErrReplay
		}
		if err := s.stageRatchet(&st, dh, pn); err != nil {
			return dst, err
		}
	}
	mk, err := s.stageSkip(&st, n, dh)
	if err != nil {
		return dst, err
	}
	out, err := s.openBody(dst, &mk, header, body)
	clear(mk[:])
	if err != nil {
		return dst, err
	}
	s.commit(&st)
	return out, nil
}

// stageRatchet stages the keys skipped in the current receiving chain (up
// to pn) and the receiving half of a DH ratchet step to the peer's new
// ratchet key dh.
func (s *Session) stageRatchet(st *staged, dh [KeySize]byte, pn uint32) error {
	if s.hasCKr {
		oldChain := s.dhr
		if s.headerEncrypt {
			oldChain = s.hkr
		}
		st.ckr, st.nr = s.ckr, s.nr
		if err := s.stageSkipUntil(st, pn, oldChain); err != nil {
			return err
		}
	}
	if s.pendingSend {
		// The peer starts a new chain only after it has seen our new
		// ratchet key, which is drawn by our next Seal: this message is
		// not genuine.
		return ErrDecrypt
	}
	shared, err := dhKey(s.dhs, dh)
	if err != nil {
		return err
	}
	st.ratchet = true
	st.newDHr = dh
	if s.headerEncrypt {
		st.newHKr = s.nhkr
		st.rk, st.ckr, st.nhkr = s.kdfs().rootKeys(&s.rk, &shared, s.ratchetInfo, 3)
	} else {
		st.rk, st.ckr, _ = s.kdfs().rootKeys(&s.rk, &shared, s.ratchetInfo, 2)
	}
	st.nr = 0
	clear(shared[:])
	return nil
}

// stageSkipUntil stages the message keys of the chain in st from st.nr up
// to (not including) until, refusing more than maxSkip of them.
func (s *Session) stageSkipUntil(st *staged, until uint32, chain [KeySize]byte) error {
	if until < st.nr {
		return nil
	}
	if uint64(until-st.nr) > uint64(s.maxSkip) {
		return ErrTooManySkipped
	}
	st.skipped = slices.Grow(st.skipped, int(until-st.nr))
	for st.nr < until {
		next, mk := s.kdfs().chain(&st.ckr)
		st.skipped = append(st.skipped, skipEntry{skipID{chain, st.nr}, mk})
		st.ckr = next
		st.nr++
	}
	return nil
}

// stageSkip stages the skipped keys up to message n and returns n's key.
func (s *Session) stageSkip(st *staged, n uint32, chain [KeySize]byte) ([KeySize]byte, error) {
	if err := s.stageSkipUntil(st, n, chain); err != nil {
		return [KeySize]byte{}, err
	}
	next, mk := s.kdfs().chain(&st.ckr)
	st.ckr = next
	st.nr = n + 1
	return mk, nil
}

// commit applies a staged Open to the session. A DH ratchet step is
// applied in its receiving half only: the new receiving chain and header
// key, PN, and the previous ratchet key is dropped; the sending half (a new
// ratchet key and the KDF_RK that derives the sending chain from it) waits
// for the next Seal, see stepSend.
func (s *Session) commit(st *staged) {
	if st.ratchet {
		s.pn = s.ns
		s.ns = 0
		if s.hasDHr {
			s.prevDHr, s.hasPrevDHr = s.dhr, true
		}
		s.dhr, s.hasDHr = st.newDHr, true
		s.dhs, s.dhsPub = nil, [KeySize]byte{}
		s.rk = st.rk
		s.cks, s.hasCKs = [KeySize]byte{}, false
		s.pendingSend = true
		if s.headerEncrypt {
			if s.hasHKr {
				s.prevHKr, s.hasPrevHKr = s.hkr, true
			}
			s.hks, s.hasHKs = s.nhks, true
			s.hkr, s.hasHKr = st.newHKr, true
			s.nhkr = st.nhkr
		}
	}
	s.ckr, s.nr, s.hasCKr = st.ckr, st.nr, true
	for _, e := range st.skipped {
		s.addSkipped(e.id, e.mk)
	}
	// A chain may get its first stored key with or without a step.
	s.dropOldChains()
	if st.ratchet {
		s.pruneHeaderAEADs()
	}
	// The first authenticated reply proves the peer has the session: stop
	// sending the X3DH prefix.
	s.prekey = nil
}

// stepSend is the sending half of a DH ratchet step, run by the first Seal
// after a step: DHs = GENERATE_DH(); RK, CKs (, NHKs) = KDF_RK(RK, DH(DHs,
// DHr)). The spec runs it right after the receiving half; running it here
// yields the same keys (nothing else touches RK in between: the peer cannot
// start another chain before it sees the new key) while an Open that steps
// costs one X25519 agreement instead of three operations. On error the
// session is unchanged.
func (s *Session) stepSend() error {
	dhs, err := genX25519(s.rand)
	if err != nil {
		return err
	}
	shared, err := dhKey(dhs, s.dhr)
	if err != nil {
		return err
	}
	s.setDHs(dhs)
	if s.headerEncrypt {
		s.rk, s.cks, s.nhks = s.kdfs().rootKeys(&s.rk, &shared, s.ratchetInfo, 3)
	} else {
		s.rk, s.cks, _ = s.kdfs().rootKeys(&s.rk, &shared, s.ratchetInfo, 2)
	}
	s.hasCKs, s.pendingSend = true, false
	clear(shared[:])
	return nil
}

func (s *Session) addSkipped(id skipID, mk [KeySize]byte) {
	if _, dup := s.skipped[id]; !dup {
		s.skippedChains[id.chain]++
	}
	// A peer that reuses a ratchet key for a new chain stores an id again:
	// the newer key replaces the older, counted once, and takes the newest
	// place in the eviction order (the older entry is dead by its seq).
	s.seq++
	s.skipped[id] = skippedKey{mk, s.seq}
	s.order = append(s.order, skipRef{id, s.seq})
	for len(s.skipped) > s.maxSkipped {
		old := s.order[0]
		s.order = s.order[1:]
		if s.live(old) {
			s.deleteSkipped(old.id)
		}
	}
	if len(s.order) > 2*len(s.skipped)+64 {
		live := s.order[:0:0]
		for _, e := range s.order {
			if s.live(e) {
				live = append(live, e)
			}
		}
		s.order = live
	}
}

// live reports whether an entry of s.order is the stored key of its id,
// and not one used, evicted or replaced since it was appended.
func (s *Session) live(e skipRef) bool {
	k, ok := s.skipped[e.id]
	return ok && k.seq == e.seq
}

// dropOldChains deletes the skipped keys of the oldest chains until at
// most maxChains chains have stored keys. Keys are stored in chain order
// (a chain's keys are all stored before the next chain's, unless a peer
// reuses a ratchet key, when this is approximate), so the oldest chain is
// that of the first live entry of s.order; dead entries before it are
// trimmed, so repeated drops do not scan them again.
func (s *Session) dropOldChains() {
	for len(s.skippedChains) > s.maxChains {
		for len(s.order) > 0 && !s.live(s.order[0]) {
			s.order = s.order[1:]
		}
		if len(s.order) == 0 {
			return
		}
		oldest := s.order[0].id.chain
		for id := range s.skipped {
			if id.chain == oldest {
				s.deleteSkipped(id)
			}
		}
		delete(s.skippedChains, oldest)
	}
}

// headerAEAD returns the cached header cipher of key hk.
func (s *Session) headerAEAD(hk *[KeySize]byte) cipher.AEAD {
	if a, ok := s.headerAEADs[*hk]; ok {
		return a
	}
	if s.headerAEADs == nil {
		s.headerAEADs = make(map[[KeySize]byte]cipher.AEAD)
	}
	a, _ := chacha20poly1305.NewX(hk[:])
	s.headerAEADs[*hk] = a
	return a
}

// pruneHeaderAEADs drops the cached header ciphers of keys no longer in use.
func (s *Session) pruneHeaderAEADs() {
	for hk := range s.headerAEADs {
		if _, ok := s.skippedChains[hk]; ok || hk == s.hks || hk == s.nhks || hk == s.hkr || hk == s.nhkr || hk == s.prevHKr {
			continue
		}
		delete(s.headerAEADs, hk)
	}
}

func (s *Session) deleteSkipped(id skipID) {
	if _, ok := s.skipped[id]; !ok {
		return
	}
	delete(s.skipped, id)
	if c := s.skippedChains[id.chain] - 1; c > 0 {
		s.skippedChains[id.chain] = c
	} else {
		delete(s.skippedChains, id.chain)
	}
}

// openHE is Open for the header-encryption variant; the ratchet message
// starts at full[pl:] after an X3DH prefix of pl bytes.
func (s *Session) openHE(dst, full []byte, pl int) ([]byte, error) {
	msg := full[pl:]
	if len(msg) < hePrefixSize+tagSize || msg[0] != typeMessageHE {
		return dst, ErrBadHeader
	}
	// header is the encrypted header; adHdr the header the body's
	// associated data covers (with the X3DH prefix, if any).
	header, adHdr, body := msg[:hePrefixSize], full[:pl+hePrefixSize], msg[hePrefixSize:]
	// Skipped keys first: try each header key that has stored keys (at
	// most maxChains). The current receiving key is among them if its chain
	// has stored keys; remember its result so it is not tried twice.
	var cur [headerSize]byte
	curOK, curTried := false, false
	for hk := range s.skippedChains {
		isCur := s.hasHKr && equal32(&hk, &s.hkr)
		curTried = curTried || isCur
		h, ok := s.openHeader(&hk, header)
		if !ok {
			continue
		}
		_, _, n := parseHeader(h[:])
		id := skipID{hk, n}
		if k, ok := s.skipped[id]; ok {
			out, err := s.openBody(dst, &k.mk, adHdr, body)
			if err != nil {
				return dst, err
			}
			s.deleteSkipped(id)
			return out, nil
		}
		if !isCur {
			// An older chain whose key for n is gone: used or evicted.
			return dst, ErrReplay
		}
		cur, curOK = h, true
		break
	}
	if !curTried {
		cur, curOK = s.tryHeaderKey(s.hasHKr, &s.hkr, header)
	}
	var st staged
	if curOK {
		_, _, n := parseHeader(cur[:])
		if n < s.nr {
			return dst, ErrReplay
		}
		st.ckr, st.nr = s.ckr, s.nr
		mk, err := s.stageSkip(&st, n, s.hkr)
		if err != nil {
			return dst, err
		}
		return s.finishHE(dst, &st, &mk, adHdr, body)
	}
	if h, ok := s.openHeader(&s.nhkr, header); ok {
		dh, pn, n := parseHeader(h[:])
		if !canonicalX25519(&dh) {
			return dst, ErrBadHeader
		}
		if err := s.stageRatchet(&st, dh, pn); err != nil {
			return dst, err
		}
		mk, err := s.stageSkip(&st, n, st.newHKr)
		if err != nil {
			return dst, err
		}
		return s.finishHE(dst, &st, &mk, adHdr, body)
	}
	if _, ok := s.tryHeaderKey(s.hasPrevHKr, &s.prevHKr, header); ok {
		return dst, ErrReplay
	}
	return dst, ErrBadHeader
}

func (s *Session) finishHE(dst []byte, st *staged, mk *[KeySize]byte, header, body []byte) ([]byte, error) {
	out, err := s.openBody(dst, mk, header, body)
	clear(mk[:])
	if err != nil {
		return dst, err
	}
	s.commit(st)
	return out, nil
}

func (s *Session) tryHeaderKey(has bool, hk *[KeySize]byte, header []byte) ([headerSize]byte, bool) {
	if !has {
		return [headerSize]byte{}, false
	}
	return s.openHeader(hk, header)
}

// openHeader decrypts an encrypted header (type byte, nonce, sealed header).
func (s *Session) openHeader(hk *[KeySize]byte, header []byte) ([headerSize]byte, bool) {
	aead := s.headerAEAD(hk)
	nonce := header[1 : 1+chacha20poly1305.NonceSizeX]
	if _, err := aead.Open(s.hdrBuf[:0], nonce, header[1+chacha20poly1305.NonceSizeX:], nil); err != nil {
		return [headerSize]byte{}, false
	}
	return s.hdrBuf, true
}

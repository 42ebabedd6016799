// Package e2e is end-to-end encryption for a messenger: X3DH key agreement,
// Double Ratchet sessions (optionally with encrypted headers), Sender Keys
// for groups, and a prekey directory, with versioned wire and state formats.
//
// It follows Signal's specifications, whose facts (constants, derivations,
// message flow) it carries over:
//
//   - Marlinspike and Perrin, "The X3DH Key Agreement Protocol", revision 1,
//     2016-11-04 (https://signal.org/docs/specifications/x3dh/).
//   - Perrin and Marlinspike, "The Double Ratchet Algorithm", revision 1,
//     2016-11-20 (https://signal.org/docs/specifications/doubleratchet/),
//     including section 4 (header encryption).
//   - libsignal's Sender Keys (rust/protocol/src/sender_keys.rs and
//     group_cipher.rs): per-member chain and signing key, distributed over
//     the pairwise sessions, and SenderKeyRecord's last
//     MAX_SENDER_KEY_STATES (5) keys per member, chosen by key id.
//
// # First use
//
// A user's device makes an [Identity] and a [Keyring], and publishes the
// keyring's signed prekey and a batch of one-time prekeys to a [Directory]
// (the server). A peer fetches a [Bundle], calls [Initiate] and seals its
// first message; the owner's [Keyring.Accept] answers it with a [Session].
// From then on both sides call [Session.Seal] and [Session.Open]. Groups
// use [Group] (or [GroupSender] and [GroupReceiver] directly).
//
// # X3DH
//
// DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B) and,
// when the bundle carried one, DH4 = DH(EK_A, OPK_B). The shared secret is
// SK = HKDF-SHA256(salt = 32 zero bytes, ikm = F ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4],
// info = Options.Info), 32 bytes, where F is 32 bytes of 0xFF ([X3DHSecret]).
// The initiator verifies the signed prekey's Ed25519 signature over
// Encode(SPK_B) = 0x05 ‖ SPK_B before anything else and refuses the bundle
// with [ErrInvalidSignature]. The associated data is Encode(IK_A) ‖
// Encode(IK_B) followed by both Ed25519 keys ([AssociatedData]).
//
// Identities are two keys: an X25519 key for the DHs and an Ed25519 key for
// signatures. The spec's alternative, one X25519 key that also signs with
// XEdDSA, needs Edwards-curve field arithmetic that neither the standard
// library nor golang.org/x/crypto exposes, and would put a hand-written
// signature scheme in the trusted code; two keys cost 32 more bytes per
// identity and one more key in the fingerprint ([PublicIdentity.Fingerprint])
// users compare. Both keys are bound into the session by the associated
// data. Small-order Ed25519 keys (for which crypto/ed25519 would accept
// forged signatures) are refused with [ErrLowOrderKey].
//
// Replay of initial messages: a one-time prekey's private half is deleted the
// moment a message using it authenticates. Without one, the keyring
// remembers each accepted initiator base key per signed prekey (32 bytes a
// session, at most Options.MaxReplayRecord, default 100 000, then
// [ErrReplayRecordFull] until rotation) and refuses a repeat with
// [ErrReplay]. After a rotation the previous signed prekey answers for its
// grace period (Options.PrekeyGrace, default 7 days). Once the keyring's
// clock shows that period over, its next call that uses, reports or saves
// prekeys (and loading a saved state) deletes the private key and its
// record, for forward secrecy, so no saved state taken later holds them;
// messages naming it are unknown ([ErrUnknownPrekey]). A forged initial
// message consumes nothing. Received X25519 keys must be canonical (top
// bit clear, u < p): X25519 ignores the top bit, so a flipped copy of a
// base key would otherwise compute the same secret under a fresh
// replay-record entry.
//
// # Double Ratchet
//
// KDF_RK is HKDF-SHA256(salt = root key, ikm = DH output, info = Info +
// "/ratchet") to 64 bytes, root key ‖ chain key ([KDFRK]); with header
// encryption 96 bytes, adding the next header key. KDF_CK gives message key
// HMAC-SHA256(ck, 0x01) and next chain key HMAC-SHA256(ck, 0x02) ([KDFCK]).
// The header is the sender's ratchet public key, PN and N (40 bytes).
//
// Messages are encrypted with AES-256-GCM. The spec suggests HKDF of the
// message key to 80 bytes for AES-CBC plus HMAC, as libsignal does; with an
// AEAD only a key and a nonce are needed, so this package derives 44 bytes,
// HKDF-SHA256(no salt, ikm = mk, info = Info + "/message") = AES key (32) ‖
// nonce (12) ([MessageKeyMaterial] with n = 44). Every message key is used
// once, so the deterministic nonce never repeats under a key. The AEAD's
// associated data is len(AD) ‖ AD ‖ len(header) ‖ header, lengths as 4-byte
// big-endian integers, so no two (AD, header) pairs encode alike; the header
// here is the whole wire header including the type byte and, on an initial
// message, the X3DH prefix before it, so that none of the prefix's fields
// (identity, base key, prekey ids) can be changed on any of the initiator's
// initial messages. Only a session made by [Keyring.Accept] opens prefixed
// messages, and only with its own peer and base key.
//
// Open never changes the session unless the message authenticates: it
// derives the skipped keys, the DH ratchet's receiving chain and the message
// key into a staging area, decrypts, and only then writes them back. Bad
// tags, bad headers, replays and over-long skips all leave the session
// byte-for-byte as before.
//
// The DH ratchet step is split at the point where the spec's DHRatchet
// draws a new key: Open applies the receiving half (KDF_RK over DH(DHs,
// DHr), after which the old private ratchet key is dropped), and the next
// Seal the sending half (new DHs, KDF_RK over DH(DHs, DHr)). Both sides
// derive exactly the spec's keys, since the peer cannot start another chain
// before it has seen the new key; an Open that steps therefore costs one
// X25519 agreement plus the KDFs, and a forged message naming a new
// ratchet key costs the receiver at most one agreement.
//
// Out-of-order messages: one message may skip at most Options.MaxSkip keys
// of a chain (default 1000; N = MaxSkip accepted, MaxSkip+1 refused with
// [ErrTooManySkipped]), and at most Options.MaxSkippedKeys skipped keys
// (default 2000, 68 bytes each) are stored in total; beyond that the oldest
// stored key is evicted first. A skipped key is deleted when used. Skipped
// keys are kept for at most Options.MaxSkippedChains receiving chains
// (default 5, as libsignal keeps), the current one included; a DH ratchet
// step beyond that drops the oldest chain's keys.
//
// A message whose key is gone (already received, evicted or dropped) is
// refused with [ErrReplay] when it belongs to the current or the previous
// receiving chain or, with header encryption, to a chain that still has
// stored keys. From an older chain it cannot be told from a forgery naming
// a new chain and fails like one: [ErrDecrypt] with plain headers (or
// [ErrTooManySkipped], if its PN is more than MaxSkip beyond the current
// chain's count), [ErrBadHeader] with encrypted ones. Either way the
// session is unchanged and the next genuine message still opens.
//
// Forged messages cost work before they fail, as the spec implies: the tag
// can only be checked with the message key, and deriving it for a header
// that names a new ratchet key with PN and N far ahead takes one X25519
// agreement and up to 2×MaxSkip+1 KDF_CK steps (PN−Nr in the old chain, N+1
// in the new one, the last for the message's own key). With the default
// MaxSkip of 1000 that is about 1.6 ms and 220 KB of short-lived staging per
// forged message (BenchmarkOpenForged, the run given under Costs); lower
// MaxSkip where forgeries are a concern. With header encryption a forger
// without the header keys gets no further than the header trial decryptions:
// one per chain with stored skipped keys (at most MaxSkippedChains) plus the
// current, next and previous receiving header keys, each with a cached
// cipher (XChaCha20-Poly1305 over the 56-byte sealed header).
//
// Header encryption (Options.HeaderEncryption, both sides) follows section
// 4 of the spec: headers are sealed with XChaCha20-Poly1305 under the
// chain's header key and a random 192-bit nonce (the header key encrypts
// many headers, so nonces must be random, and 192 bits make collisions
// negligible); the initial header keys come from SK via HKDF (info Info +
// "/header"). It adds 40 bytes per message and, on receipt, one to three
// header trial decryptions, plus one per older chain that still has
// skipped keys.
//
// X25519 public keys of small order give an all-zero shared secret, which
// crypto/ecdh refuses; this package reports it as [ErrLowOrderKey], for
// bundle keys, ratchet keys and X3DH prefixes alike.
//
// # Sender Keys
//
// Each group member has a [GroupSender]: a random key id, a chain key that
// advances with KDF_CK per message, and an Ed25519 signing key. Its
// distribution message (key id, iteration, chain key, signing public key) is
// sent to every other member over the pairwise sessions, and
// [Group.SetMember] must take a member's distribution only from that
// member's own pairwise session: a distribution does not say whose it is,
// and a key set for a member decides what opens as that member's and
// which of its keys are forgotten. A group message is
// key id ‖ iteration ‖ AES-256-GCM ciphertext ‖ Ed25519 signature; the
// receiver verifies the signature before it touches the chain, refuses
// repeated iterations, jumps beyond MaxSkip and iteration 2³²−1 (where a
// sender stops: the receiver's next iteration would wrap), and stores
// skipped keys like a session. [Group.RemoveMember] rotates the own sender
// key; every remaining member does the same and redistributes to the
// remaining members only, so the removed member opens nothing sent
// afterwards. A new member receives the current chain key, from which
// earlier keys cannot be derived. One group message costs one encryption and
// one signature whatever the group size, against one pairwise encryption per
// member without Sender Keys (255 for a full 256-member group).
//
// A member's group messages sent just before it rotates can arrive after
// its new distribution: they travel on another path (the group fan-out,
// not the pairwise session), and the removal that caused the rotation is
// often noticed while they are in flight. So, like libsignal's
// SenderKeyRecord, a [Group] keeps each member's last [MaxSenderKeyStates]
// (5) sender keys, newest first, and opens a message under the one whose
// key id it names: at most 5 comparisons of a 4-byte id before the usual
// Open. A sixth key forgets the member's oldest, and its late messages fail
// with [ErrUnknownSenderKey]; [Group.RemoveMember] forgets them all. A
// copy of a distribution the group holds (same key id and signing key)
// changes nothing unless it is more than MaxSkip ahead (see
// [Group.SetMember]), and, unlike in libsignal, does not move its key to
// the front: a sender never returns to an old key, so the keys stay in
// the order they arrived and the oldest is forgotten first.
//
// For the same reason a late copy of a forgotten key's distribution is
// refused with [ErrStaleDistribution] and changes nothing: a group
// remembers the key id and a fingerprint of the signing key of each
// member's last 16 forgotten keys. Taken as a new key, as libsignal takes
// it, it would make the messages already read under it open again and
// forget one of the member's newer keys. A key forgotten longer ago, or
// by [Group.RemoveMember] (which keeps nothing of the member, so that a
// removed member may come back with the key it had), is taken as new. So
// an application must never re-inject distributions it cached or stored:
// pass [Group.SetMember] only one just received from the member's own
// pairwise session.
//
// The cost is memory, and the bound on skipped keys is unchanged. A member
// has up to 4 older receivers: about 110 bytes each in the saved state
// with the default Info and 220 in memory (plus 1 KB of derivation scratch
// from a late message under it until the member's next rotation), plus 36
// bytes per stored skipped key. The skipped keys of all of a member's
// sender keys count together against Options.MaxSkippedKeys, as one key's
// did (2000 keys, 72 KB saved, per member by default): when a message would
// exceed it, the oldest keys of the member's oldest sender key go first,
// since everything sent under an older key was sent before anything under
// a newer one. A receiver's table of skipped keys is rebuilt at its live
// size once fewer than half the keys it grew to are left (none left: no
// table), so memory follows the live keys, not the most each of the
// member's keys once stored. The record of forgotten keys takes up to 16
// entries of 12 bytes saved and 16 in memory per member. An old key's
// chain stays in the state until it is forgotten, so whoever steals the
// state can read what the member sent under it from the receiver's
// position on, as with the current key; libsignal makes the same trade.
//
// # Costs
//
// Per message in one chain, each side: KDF_CK (two HMAC-SHA256 under the
// chain key; its pad blocks are hashed once, RFC 2104's precomputation, so
// 6 SHA-256 blocks instead of 8), the AES key and nonce (HKDF, 8 blocks
// instead of 12), AES-256-GCM set-up and the data. Figures measured with
// go test -bench on a 2-core AMD EPYC shared with other builds (best of two
// runs; expect noise): KDF_CK 0.56 µs (1.6 µs without the precomputation),
// message key and nonce 1.2 µs, KDF_RK 1.9 µs (4.0 µs and 22 allocations
// through crypto/hkdf), Seal of 1 KiB 2.4 µs in either header mode, Seal
// plus Open of 1 KiB 5.0 µs plain and 5.2 µs with header encryption (both
// within noise of each other). Seal makes 0 allocations of our own with a
// caller buffer; crypto/cipher allocates the per-message AES-GCM instance, 2
// allocations, ~1.2 KiB, because the standard library has no API to re-key
// an AES-GCM instance. Header ciphers are cached per header key.
//
// A DH ratchet step adds one X25519 agreement and one KDF_RK to the Open
// that meets it (BenchmarkOpenDHStep 49-53 µs against 43.7-44.1 µs for
// one BenchmarkX25519/agreement in the same run on 2026-11-26; 88 µs was
// raw-DH, a key generation plus an agreement) and a key generation, an
// agreement and a KDF_RK to the next Seal. X3DH initiate plus respond
// (BenchmarkX3DH) is one Ed25519 verification and about ten X25519 scalar
// multiplications, 0.6 ms with a one-time prekey. A forged message costs at
// most one agreement and 2×MaxSkip+1 KDF_CK steps, 1.6 ms at the default
// (BenchmarkOpenForged). Encoded state: about 630 bytes per X3DH session
// plus 68 per skipped key.
//
// # Formats
//
// Wire messages start with a type byte: 0x01 ratchet message (header in the
// clear, [Overhead] bytes), 0x02 ratchet message with encrypted header, 0x03
// initial message (an X3DH prefix of [PrekeyOverhead] bytes, then a ratchet
// message), 0x11 group message, 0x12 group distribution. State encodes
// with MarshalBinary under a magic and a version byte: sessions "e2eS"
// ([Session.MarshalBinary]), keyrings "e2eK" ([Keyring.MarshalBinary],
// [LoadKeyring]), groups and their senders and receivers "e2eG". A group
// is version 3, with each member's kept sender keys and record of
// forgotten ones ([Group.MarshalBinary]); version 2 groups, without the
// record, and version 1 groups, also one key per member, still load.
// Decoders refuse unknown versions, truncation, trailing bytes and
// inconsistent fields (for a group also a member with no keys, more than
// [MaxSenderKeyStates], two with one key id, more skipped keys than
// MaxSkippedKeys between them, more than 16 forgotten keys, two alike or
// one also kept) with [ErrBadState], never allocate more than the input
// justifies, and are fuzzed.
//
// # Concurrency
//
// [Session], [GroupSender], [GroupReceiver] and [Group] are not safe for
// concurrent use: serialize calls per conversation. [Identity] is immutable.
// [Keyring] and [MemDirectory] are safe for concurrent use; the directory
// hands out each one-time prekey at most once under concurrent fetches.
package e2e

package e2e

import "errors"

// Sentinel errors returned by this package. Test for them with [errors.Is].
var (
	// ErrInvalidSignature reports a signed prekey or a group message whose
	// Ed25519 signature does not verify.
	ErrInvalidSignature = errors.New("e2e: invalid signature")
	// ErrDecrypt is the one opaque error for a message that fails
	// authentication: wrong key, flipped bit, truncated tag or foreign
	// associated data all look the same to the caller.
	ErrDecrypt = errors.New("e2e: message authentication failed")
	// ErrReplay reports a message (or an initial X3DH message) that was
	// already received, or whose message key was already used or evicted
	// (for a ratchet message, from a recent chain: see the package doc,
	// Double Ratchet), and an initial message naming a one-time prekey id
	// below the keyring's next id that it does not hold (see
	// ErrUnknownPrekey).
	ErrReplay = errors.New("e2e: message already received")
	// ErrTooManySkipped reports a message that would require skipping more
	// than Options.MaxSkip message keys in one chain.
	ErrTooManySkipped = errors.New("e2e: too many skipped messages")
	// ErrBadHeader reports a message too short or of an unknown type or
	// version to be parsed, or whose encrypted header opens under no key,
	// and a group message or distribution at iteration 2³²−1 (the
	// iteration counter's end, which no GroupSender sends).
	ErrBadHeader = errors.New("e2e: malformed message header")
	// ErrBadState reports serialized state that is truncated, of an unknown
	// version or internally inconsistent.
	ErrBadState = errors.New("e2e: malformed session state")
	// ErrBadKey reports a key of the wrong length or encoding.
	ErrBadKey = errors.New("e2e: malformed key")
	// ErrLowOrderKey reports a public key of small order: an X25519 key
	// whose shared secret is all zeros, or an Ed25519 key in the small
	// subgroup. Such keys let an attacker fix or predict the result.
	ErrLowOrderKey = errors.New("e2e: low-order public key")
	// ErrUnknownPrekey reports an initial message that names a signed
	// prekey this keyring does not hold (never issued, or deleted by a
	// later rotation or at the end of its grace period), or a one-time
	// prekey id the keyring has not issued yet. A one-time prekey id below
	// that which the keyring does not hold gives ErrReplay, whether it was
	// used or was never a one-time prekey's (0, or a signed prekey's id):
	// one counter numbers both kinds, and the keyring does not remember
	// which id went to which.
	ErrUnknownPrekey = errors.New("e2e: unknown prekey")
	// ErrReplayRecordFull reports an initial message without a one-time
	// prekey that a Keyring cannot accept because the replay record of its
	// signed prekey holds Options.MaxReplayRecord base keys: rotate the
	// signed prekey (and publish one-time prekeys).
	ErrReplayRecordFull = errors.New("e2e: replay record full; rotate the signed prekey")
	// ErrDerivedLength reports a request to X3DHSecret or
	// MessageKeyMaterial for a negative number of bytes or for more than
	// HKDF-SHA256 can derive (255×32 = 8160).
	ErrDerivedLength = errors.New("e2e: invalid derived key length")
	// ErrPrekeyCount reports a request for a negative number of one-time
	// prekeys, for more than MaxOneTimePrekeys at once, or for more than
	// the keyring's remaining 32-bit ids.
	ErrPrekeyCount = errors.New("e2e: invalid one-time prekey count")
	// ErrNotFound reports a user unknown to a prekey directory.
	ErrNotFound = errors.New("e2e: user not found")
	// ErrUnknownSenderKey reports a group message from an unknown member or
	// under a sender key id the receiver does not hold: never distributed,
	// rotated away (a GroupReceiver holds one key) or forgotten (a Group
	// keeps a member's last MaxSenderKeyStates keys).
	ErrUnknownSenderKey = errors.New("e2e: unknown sender key")
	// ErrStaleDistribution reports a sender key distribution passed to
	// Group.SetMember of a key the group forgot for that member (one of
	// its last 16 forgotten: after MaxSenderKeyStates newer keys, or
	// replaced by one with its key id). A sender never returns to a key,
	// so it is a late or replayed copy; the group is unchanged, and
	// nothing needs to be done but drop it.
	ErrStaleDistribution = errors.New("e2e: distribution of a forgotten sender key")
	// ErrMemberName reports a group member name longer than 65535 bytes,
	// which a group's saved state cannot encode.
	ErrMemberName = errors.New("e2e: group member name longer than 65535 bytes")
	// ErrCannotSend reports Seal on a responder session that has not yet
	// received its first message, and so has no sending chain.
	ErrCannotSend = errors.New("e2e: session cannot send yet")
)

package e2e

import (
	"crypto/rand"
	"io"
	"time"
)

// Default values used for the zero fields of [Options].
const (
	DefaultInfo           = "blueprint-e2e"
	DefaultMaxSkip        = 1000
	DefaultMaxSkippedKeys = 2000
	// DefaultMaxSkippedChains is the default Options.MaxSkippedChains, as
	// many receiving chains as libsignal keeps.
	DefaultMaxSkippedChains = 5
	DefaultPrekeyGrace      = 7 * 24 * time.Hour
	// DefaultMaxReplayRecord is the default Options.MaxReplayRecord: 3.2 MB
	// of base keys per signed prekey at most.
	DefaultMaxReplayRecord = 100_000
	// maxLimit bounds MaxSkip and MaxSkippedKeys (larger values are
	// clamped), so that no configuration or decoded state lets one message
	// trigger more than about a second of key derivation.
	maxLimit = 1 << 20
	// maxChainsLimit bounds MaxSkippedChains.
	maxChainsLimit = 1024
	// maxInfoLen bounds Options.Info so that the per-message key derivation
	// fits its fixed buffer (see kdf.hkdf).
	maxInfoLen = 64
	// maxDerivedInfoLen is the longest info string a derivation uses:
	// Options.Info with its longest suffix, "/message" (the others are
	// "/ratchet", "/header" and "/group").
	maxDerivedInfoLen = maxInfoLen + len(suffixMessage)
)

// Suffixes appended to Options.Info for each derivation.
const (
	suffixMessage = "/message"
	suffixRatchet = "/ratchet"
	suffixHeader  = "/header"
	suffixGroup   = "/group"
)

// Options configures sessions, keyrings and group senders. The zero value
// means the defaults; both parties of a session must agree on Info and
// HeaderEncryption.
type Options struct {
	// Info is the application string that separates this protocol's keys
	// from any other use of the same keys (X3DH's "info"). The ratchet,
	// message-key, header-key and group derivations append "/ratchet",
	// "/message", "/header" and "/group" to it. At most 64 bytes, so the
	// longest derived info (Info + "/message") is 72; a longer Info is a
	// programmer error (constructors panic), and decoders refuse encoded
	// state whose Info is longer with ErrBadState. Default DefaultInfo.
	Info string
	// Rand is the source of key material; default crypto/rand.Reader.
	// Everything made with these Options keeps and reads it: a Keyring
	// and every Session its Accept returns, sessions from Initiate, group
	// senders. Sessions of different conversations may run in parallel,
	// so a Rand shared by them must be safe for concurrent use (as
	// crypto/rand.Reader is); a Keyring serialises its own draws.
	Rand io.Reader
	// MaxSkip is the most message keys one message may skip in one chain
	// (the Double Ratchet's MAX_SKIP; the same bound applies to a group
	// sender's iterations). Default DefaultMaxSkip; at most 2²⁰.
	MaxSkip int
	// MaxSkippedKeys caps the skipped message keys a session or group
	// receiver stores in total; beyond it the oldest stored key is evicted
	// first. Default DefaultMaxSkippedKeys; at most 2²⁰.
	MaxSkippedKeys int
	// MaxSkippedChains caps the receiving chains (the current one and
	// older ones) whose skipped keys a session keeps: when a DH ratchet
	// step would exceed it, the keys of the oldest chain are dropped and its
	// late messages are refused. With header encryption, every kept chain
	// costs one header trial decryption per received message. Default
	// DefaultMaxSkippedChains; at most 1024.
	MaxSkippedChains int
	// HeaderEncryption turns on the Double Ratchet's header-encryption
	// variant (XChaCha20-Poly1305 headers).
	HeaderEncryption bool
	// PrekeyGrace is how long after a rotation a Keyring still accepts
	// initial messages to the rotated-out signed prekey. Once it has
	// passed, the Keyring deletes that key and the replay record of its
	// initial messages as soon as it notices (see [Keyring]), so neither
	// is saved after it; default DefaultPrekeyGrace.
	PrekeyGrace time.Duration
	// MaxReplayRecord caps the base keys a Keyring records per signed
	// prekey to refuse replays of initial messages that use no one-time
	// prekey (those that use one need no record). When a record is full,
	// such messages are refused with ErrReplayRecordFull until the signed
	// prekey is rotated. Default DefaultMaxReplayRecord.
	MaxReplayRecord int
	// Now is the clock by which a Keyring ends the previous signed
	// prekey's grace period; default time.Now. The Keyring calls it
	// outside its lock, possibly from several goroutines at once.
	Now func() time.Time
}

// withDefaults returns o with its zero fields replaced by defaults.
func (o Options) withDefaults() Options {
	if o.Info == "" {
		o.Info = DefaultInfo
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.MaxSkip <= 0 {
		o.MaxSkip = DefaultMaxSkip
	}
	if o.MaxSkippedKeys <= 0 {
		o.MaxSkippedKeys = DefaultMaxSkippedKeys
	}
	if o.MaxSkippedChains <= 0 {
		o.MaxSkippedChains = DefaultMaxSkippedChains
	}
	o.MaxSkippedChains = min(o.MaxSkippedChains, maxChainsLimit)
	o.MaxSkip = min(o.MaxSkip, maxLimit)
	o.MaxSkippedKeys = min(o.MaxSkippedKeys, maxLimit)
	if o.PrekeyGrace <= 0 {
		o.PrekeyGrace = DefaultPrekeyGrace
	}
	if o.MaxReplayRecord <= 0 {
		o.MaxReplayRecord = DefaultMaxReplayRecord
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// mustValidate panics on a programmer error in o.
func (o Options) mustValidate() {
	if len(o.Info) > maxInfoLen {
		panic("e2e: Options.Info is longer than 64 bytes")
	}
}

package e2e_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/e2e"
)

var modes = []struct {
	name string
	opts e2e.Options
}{
	{"plain", e2e.Options{}},
	{"header-encryption", e2e.Options{HeaderEncryption: true}},
}

// rawPair builds sessions straight from a shared secret, without X3DH.
func rawPair(t testing.TB, opts e2e.Options, ad []byte) (alice, bob *e2e.Session) {
	t.Helper()
	var sk, bobPriv [32]byte
	sk[0], bobPriv[0] = 7, 9
	bobPub, err := e2e.DH(bobPriv, [32]byte{9})
	if err != nil {
		t.Fatal(err)
	}
	alice, err = e2e.NewInitiatorSession(sk, ad, bobPub, opts)
	if err != nil {
		t.Fatal(err)
	}
	bob, err = e2e.NewResponderSession(sk, ad, bobPriv, opts)
	if err != nil {
		t.Fatal(err)
	}
	return alice, bob
}

func TestResponderCannotSendFirst(t *testing.T) {
	_, bob := rawPair(t, e2e.Options{}, nil)
	if _, err := bob.Seal(nil, []byte("x")); !errors.Is(err, e2e.ErrCannotSend) {
		t.Errorf("responder Seal before receiving = %v, want ErrCannotSend", err)
	}
}

func TestBitFlipsRefused(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			p := newPair(t, mode.opts)
			// Bob has a skipped key stored, so flips also meet that path.
			skippedMsg := seal(t, p.alice, "skipped")
			m := seal(t, p.alice, "attack at dawn")
			open(t, p.bob, m, "attack at dawn")
			m = seal(t, p.alice, "retreat at dusk")
			flips(t, p.bob, m)
			// The skipped message opens through a stored key: flips of it
			// meet that path and must not consume the key.
			flips(t, p.bob, skippedMsg)
			open(t, p.bob, m, "retreat at dusk")
			open(t, p.bob, skippedMsg, "skipped")
		})
	}
}

// flips opens every one-bit flip and truncation of m at s: each must be
// refused with a sentinel error and leave the state unchanged.
func flips(t *testing.T, s *e2e.Session, m []byte) {
	t.Helper()
	before := state(t, s)
	{
		{
			for i := range len(m) * 8 {
				f := bytes.Clone(m)
				f[i/8] ^= 1 << (i % 8)
				pt, err := s.Open(nil, f)
				if err == nil {
					t.Fatalf("bit %d flipped: Open = %q, nil", i, pt)
				}
				// Headers are authenticated only with the body, so a
				// flipped counter may first trip the skip bound.
				if !errors.Is(err, e2e.ErrDecrypt) && !errors.Is(err, e2e.ErrBadHeader) &&
					!errors.Is(err, e2e.ErrReplay) && !errors.Is(err, e2e.ErrTooManySkipped) &&
					!errors.Is(err, e2e.ErrLowOrderKey) {
					t.Fatalf("bit %d flipped: unexpected error %v", i, err)
				}
				if !bytes.Equal(state(t, s), before) {
					t.Fatalf("bit %d flipped: session state changed", i)
				}
			}
			for _, cut := range []int{1, 16, len(m) - 1} {
				if _, err := s.Open(nil, m[:len(m)-cut]); err == nil {
					t.Fatalf("message truncated by %d opened", cut)
				}
			}
		}
	}
}

func TestAssociatedDataBitFlipsRefused(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ad := []byte("alice|bob|session-ad")
			for i := range len(ad) * 8 {
				other := bytes.Clone(ad)
				other[i/8] ^= 1 << (i % 8)
				alice, _ := rawPair(t, mode.opts, ad)
				_, bob := rawPair(t, mode.opts, other)
				if _, err := bob.Open(nil, seal(t, alice, "x")); !errors.Is(err, e2e.ErrDecrypt) {
					t.Fatalf("AD bit %d flipped: %v, want ErrDecrypt", i, err)
				}
			}
			alice, bob := rawPair(t, mode.opts, ad)
			open(t, bob, seal(t, alice, "x"), "x")
		})
	}
}

// TestReplayRefused delivers every message of a conversation twice, at
// every later point, and checks the duplicate is refused without changing
// the session, and the next genuine message still decrypts.
func TestReplayRefused(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			p := newPair(t, mode.opts)
			var toBob, toAlice [][]byte
			for round := range 4 {
				for i := range 3 {
					toBob = append(toBob, seal(t, p.alice, fmt.Sprintf("a%d.%d", round, i)))
				}
				// Deliver out of order so skipped keys are used too.
				n := len(toBob)
				open(t, p.bob, toBob[n-1], fmt.Sprintf("a%d.2", round))
				open(t, p.bob, toBob[n-3], fmt.Sprintf("a%d.0", round))
				open(t, p.bob, toBob[n-2], fmt.Sprintf("a%d.1", round))
				toAlice = append(toAlice, seal(t, p.bob, fmt.Sprintf("b%d", round)))
				open(t, p.alice, toAlice[len(toAlice)-1], fmt.Sprintf("b%d", round))
				for j, m := range toBob {
					before := state(t, p.bob)
					if pt, err := p.bob.Open(nil, m); err == nil {
						t.Fatalf("round %d: replay of message %d opened: %q", round, j, pt)
					}
					if !bytes.Equal(before, state(t, p.bob)) {
						t.Fatalf("round %d: replay of message %d changed Bob's state", round, j)
					}
				}
				for j, m := range toAlice {
					if _, err := p.alice.Open(nil, m); err == nil {
						t.Fatalf("round %d: replay of reply %d opened", round, j)
					}
				}
			}
			// The most recent chain's duplicates are named as replays.
			if _, err := p.bob.Open(nil, toBob[len(toBob)-1]); !errors.Is(err, e2e.ErrReplay) {
				t.Errorf("duplicate in the current chain: %v, want ErrReplay", err)
			}
			if _, err := p.bob.Open(nil, toBob[len(toBob)-3]); !errors.Is(err, e2e.ErrReplay) {
				t.Errorf("duplicate of a skipped-then-used key: %v, want ErrReplay", err)
			}
			open(t, p.bob, seal(t, p.alice, "still fine"), "still fine")
		})
	}
}

// TestOldChainReplayErrors checks the errors the package doc names for a
// message whose key is gone: ErrReplay from the current or previous
// receiving chain, and from an older one what a forgery naming a new chain
// gets, ErrDecrypt with plain headers and ErrBadHeader with encrypted ones
// (unless, with header encryption, that chain still has stored keys:
// ErrReplay). The session is unchanged and the next message opens.
func TestOldChainReplayErrors(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			p := newPair(t, mode.opts)
			// Bob receives chains 0 to 3 of Alice's; chain 1 keeps a
			// skipped key (its N = 0 is never delivered).
			var first [][]byte
			for chain := range 4 {
				if chain == 1 {
					seal(t, p.alice, "lost")
				}
				m := seal(t, p.alice, fmt.Sprint("chain ", chain))
				open(t, p.bob, m, fmt.Sprint("chain ", chain))
				first = append(first, m)
				open(t, p.alice, seal(t, p.bob, "reply"), "reply")
			}
			oldErr := e2e.ErrDecrypt
			if mode.opts.HeaderEncryption {
				oldErr = e2e.ErrBadHeader
			}
			want := []error{oldErr, oldErr, e2e.ErrReplay, e2e.ErrReplay}
			if mode.opts.HeaderEncryption {
				want[1] = e2e.ErrReplay // chain 1 still has a stored key
			}
			for i, m := range first {
				before := state(t, p.bob)
				if _, err := p.bob.Open(nil, m); !errors.Is(err, want[i]) {
					t.Errorf("replay from chain %d: %v, want %v", i, err, want[i])
				}
				if !bytes.Equal(before, state(t, p.bob)) {
					t.Fatalf("replay from chain %d changed the state", i)
				}
			}
			open(t, p.bob, seal(t, p.alice, "still fine"), "still fine")
		})
	}
}

// script is a conversation of three DH ratchet steps each way, with
// delayed messages in every chain, for TestOutOfOrderPermutations. In each
// of Alice's chains A0 and A1 (and Bob's B0, B1) messages N = 0 and N = 2 are
// delayed and N = 1 is delivered, so the DH ratchet step is triggered by a
// message with N > 0 and stores both PN-skipped keys (the previous chain's
// N = 2) and new-chain skipped keys (N = 0) in one Open. Both messages of
// the last chains (A2, B2) are delayed, so the step they trigger (at N = 0
// or at N = 1, skipping N = 0 and the previous chain's N = 2) happens in the
// permuted deliveries too. It returns each receiver's state from
// before the last chain and the messages delayed for it.
func script(t *testing.T, opts e2e.Options) (aliceStart, bobStart []byte, toAlice, toBob []delivery) {
	p := newPair(t, opts)
	for k := range 3 {
		a := make([][]byte, 3)
		if k == 2 {
			a = a[:2]
		}
		for n := range a {
			a[n] = seal(t, p.alice, fmt.Sprintf("A%d-%d", k, n))
		}
		if k == 2 {
			bobStart = state(t, p.bob)
			toBob = append(toBob, delivery{msg: a[1], text: "A2-1"})
		}
		open(t, p.bob, a[1], fmt.Sprintf("A%d-1", k))
		toBob = append(toBob, delivery{msg: a[0], text: fmt.Sprintf("A%d-0", k)})
		if k < 2 {
			toBob = append(toBob, delivery{msg: a[2], text: fmt.Sprintf("A%d-2", k)})
		}
		b := make([][]byte, 3)
		if k == 2 {
			b = b[:2]
		}
		for n := range b {
			b[n] = seal(t, p.bob, fmt.Sprintf("B%d-%d", k, n))
		}
		if k == 2 {
			aliceStart = state(t, p.alice)
			toAlice = append(toAlice, delivery{msg: b[1], text: "B2-1"})
		} else {
			open(t, p.alice, b[1], fmt.Sprintf("B%d-1", k))
		}
		toAlice = append(toAlice, delivery{msg: b[0], text: fmt.Sprintf("B%d-0", k)})
		if k < 2 {
			toAlice = append(toAlice, delivery{msg: b[2], text: fmt.Sprintf("B%d-2", k)})
		}
	}
	return aliceStart, bobStart, toAlice, toBob
}

type delivery struct {
	toBob bool
	msg   []byte
	text  string
}

func permutations(n int, fn func([]int)) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			fn(idx)
			return
		}
		for i := k; i < n; i++ {
			idx[k], idx[i] = idx[i], idx[k]
			rec(k + 1)
			idx[k], idx[i] = idx[i], idx[k]
		}
	}
	rec(0)
}

// TestOutOfOrderPermutations delivers the delayed messages of script in
// every order (6! = 720 per receiver and header mode): each opens, and no
// skipped key is left.
func TestOutOfOrderPermutations(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			aliceStart, bobStart, toAlice, toBob := script(t, mode.opts)
			for _, side := range []struct {
				name  string
				start []byte
				msgs  []delivery
			}{{"to-alice", aliceStart, toAlice}, {"to-bob", bobStart, toBob}} {
				if len(side.msgs) != 6 {
					t.Fatalf("%s: script delayed %d messages, want 6", side.name, len(side.msgs))
				}
				count := 0
				permutations(len(side.msgs), func(order []int) {
					var s e2e.Session
					if err := s.UnmarshalBinary(side.start); err != nil {
						t.Fatal(err)
					}
					for _, i := range order {
						d := side.msgs[i]
						pt, err := s.Open(nil, d.msg)
						if err != nil || string(pt) != d.text {
							t.Fatalf("%s, order %v: %s = %q, %v", side.name, order, d.text, pt, err)
						}
					}
					if s.Skipped() != 0 {
						t.Fatalf("%s, order %v: %d skipped keys left, want none", side.name, order, s.Skipped())
					}
					count++
				})
				if count != 720 {
					t.Fatalf("ran %d permutations, want 720", count)
				}
			}
		})
	}
}

func TestMaxSkip(t *testing.T) {
	const maxSkip = 5
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			opts := mode.opts
			opts.MaxSkip = maxSkip
			p := newPair(t, opts)
			var msgs [][]byte
			for i := range maxSkip + 2 {
				msgs = append(msgs, seal(t, p.alice, fmt.Sprint(i)))
			}
			bobState := state(t, p.bob)
			// Message maxSkip+1 would skip maxSkip+1 keys: refused.
			if _, err := p.bob.Open(nil, msgs[maxSkip+1]); !errors.Is(err, e2e.ErrTooManySkipped) {
				t.Fatalf("skipping %d keys: %v, want ErrTooManySkipped", maxSkip+1, err)
			}
			if !bytes.Equal(bobState, state(t, p.bob)) {
				t.Fatal("refused skip changed the state")
			}
			// Message maxSkip skips exactly maxSkip keys: accepted.
			open(t, p.bob, msgs[maxSkip], fmt.Sprint(maxSkip))
			if p.bob.Skipped() != maxSkip {
				t.Fatalf("stored %d skipped keys, want %d", p.bob.Skipped(), maxSkip)
			}
			for i := range maxSkip {
				open(t, p.bob, msgs[i], fmt.Sprint(i))
			}
			open(t, p.bob, msgs[maxSkip+1], fmt.Sprint(maxSkip+1))
			if p.bob.Skipped() != 0 {
				t.Fatalf("used skipped keys not deleted: %d left", p.bob.Skipped())
			}

		})
	}
}

// TestMaxSkipAcrossRatchetStep bounds each chain of a DH ratchet step
// separately, in both header modes: a message whose Open skips exactly
// MaxSkip keys of the old chain (PN − Nr) and MaxSkip of the new one (N) is
// accepted, and every skipped message then opens; one more in either chain
// is refused with ErrTooManySkipped and leaves the state unchanged.
func TestMaxSkipAcrossRatchetStep(t *testing.T) {
	const maxSkip = 4
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			opts := mode.opts
			opts.MaxSkip = maxSkip
			for _, c := range []struct{ pnSkip, nSkip int }{
				{maxSkip, maxSkip}, {maxSkip + 1, 0}, {0, maxSkip + 1}, {maxSkip + 1, maxSkip},
			} {
				p := newPair(t, opts)
				// Bob receives N = 0 of Alice's second chain, then loses
				// pnSkip more of it; after Bob's reply Alice starts a third
				// chain, loses nSkip messages of it and sends m.
				open(t, p.bob, seal(t, p.alice, "first"), "first")
				var lost [][]byte
				for i := range c.pnSkip {
					lost = append(lost, seal(t, p.alice, fmt.Sprint("old chain ", i)))
				}
				open(t, p.alice, seal(t, p.bob, "ping"), "ping")
				for i := range c.nSkip {
					lost = append(lost, seal(t, p.alice, fmt.Sprint("new chain ", i)))
				}
				m := seal(t, p.alice, "m")
				before := state(t, p.bob)
				_, err := p.bob.Open(nil, m)
				if c.pnSkip > maxSkip || c.nSkip > maxSkip {
					if !errors.Is(err, e2e.ErrTooManySkipped) {
						t.Fatalf("skipping %d + %d: %v, want ErrTooManySkipped", c.pnSkip, c.nSkip, err)
					}
					if !bytes.Equal(before, state(t, p.bob)) {
						t.Fatal("refused message changed the state")
					}
					continue
				}
				if err != nil {
					t.Fatalf("skipping %d + %d: %v", c.pnSkip, c.nSkip, err)
				}
				if p.bob.Skipped() != c.pnSkip+c.nSkip {
					t.Fatalf("stored %d skipped keys, want %d", p.bob.Skipped(), c.pnSkip+c.nSkip)
				}
				for i, l := range lost {
					if _, err := p.bob.Open(nil, l); err != nil {
						t.Fatalf("skipped message %d: %v", i, err)
					}
				}
				if p.bob.Skipped() != 0 {
					t.Fatalf("%d skipped keys left", p.bob.Skipped())
				}
			}
		})
	}
}

func TestSkippedKeyCapEvictsOldest(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			opts := mode.opts
			opts.MaxSkippedKeys = 3
			p := newPair(t, opts)
			var msgs [][]byte
			for i := range 6 {
				msgs = append(msgs, seal(t, p.alice, fmt.Sprint(i)))
			}
			open(t, p.bob, msgs[5], "5")
			if p.bob.Skipped() != 3 {
				t.Fatalf("stored %d skipped keys, want the cap 3", p.bob.Skipped())
			}
			for i := range 2 {
				if _, err := p.bob.Open(nil, msgs[i]); !errors.Is(err, e2e.ErrReplay) {
					t.Errorf("evicted message %d: %v, want ErrReplay", i, err)
				}
			}
			for i := 2; i < 5; i++ {
				open(t, p.bob, msgs[i], fmt.Sprint(i))
			}
		})
	}
}

func TestForwardSecrecy(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			p := newPair(t, mode.opts)
			var msgs [][]byte
			for i := range 4 {
				msgs = append(msgs, seal(t, p.alice, fmt.Sprint(i)))
			}
			open(t, p.bob, msgs[0], "0")
			open(t, p.bob, msgs[2], "2") // message 1's key is stored as skipped
			open(t, p.bob, msgs[1], "1")
			for i := range 3 {
				snap := clone(t, p.bob)
				if pt, err := snap.Open(nil, msgs[i]); err == nil {
					t.Fatalf("snapshot taken after message %d opened it again: %q", i, pt)
				}
			}
			// Across a DH ratchet step the old chain keys are gone too.
			open(t, p.alice, seal(t, p.bob, "turn"), "turn")
			m := seal(t, p.alice, "after")
			open(t, p.bob, m, "after")
			snap := clone(t, p.bob)
			for i, old := range slices.Concat(msgs[:3], [][]byte{m}) {
				if _, err := snap.Open(nil, old); err == nil {
					t.Fatalf("snapshot after the DH step opened message %d", i)
				}
			}
			open(t, p.bob, msgs[3], "3") // the one never delivered still opens
		})
	}
}

func TestPostCompromiseRecovery(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			p := newPair(t, mode.opts)
			a1 := seal(t, p.alice, "a1")
			eve := clone(t, p.alice) // Eve steals Alice's whole state
			if !mode.opts.HeaderEncryption {
				if e, a := seal(t, clone(t, eve), "a1b"), seal(t, p.alice, "a1b"); !bytes.Equal(e, a) {
					t.Fatal("the stolen state does not reproduce Alice's next message: the test is not compromising her")
				}
				_ = seal(t, eve, "a1b") // keep Eve in step with Alice
			}
			// Alice's current ratchet key is in the stolen state, so Eve
			// reads what Bob sends in answer to it: the compromise is real.
			open(t, p.bob, a1, "a1")
			r1 := seal(t, p.bob, "before recovery")
			open(t, eve, r1, "before recovery")
			open(t, p.alice, r1, "before recovery")
			// Opening r1 made Alice draw a fresh ratchet key that Eve never
			// saw; Bob's answer to it is under DH(Bob's new key, Alice's
			// new key), which Eve cannot compute.
			open(t, p.bob, seal(t, p.alice, "a2 with a new ratchet key"), "a2 with a new ratchet key")
			r2 := seal(t, p.bob, "after recovery")
			if pt, err := eve.Open(nil, r2); err == nil {
				t.Fatalf("stolen state read a message after the DH step: %q", pt)
			}
			open(t, p.alice, r2, "after recovery")
			// Alice's own messages after her step are out of Eve's reach
			// too. Before it, Eve holds Alice's sending chain: in the plain
			// mode (deterministic nonces) her Seal reproduces Alice's next
			// message byte for byte. After it, her Seal of the same text
			// differs, and Bob refuses what she seals.
			a3 := seal(t, p.alice, "alice after recovery")
			forged := seal(t, eve, "alice after recovery")
			if bytes.Equal(forged, a3) {
				t.Fatal("stolen state reproduced Alice's message after the step")
			}
			before := state(t, p.bob)
			if pt, err := p.bob.Open(nil, forged); err == nil {
				t.Fatalf("Bob opened a message sealed with the stolen state: %q", pt)
			}
			if !bytes.Equal(before, state(t, p.bob)) {
				t.Fatal("refused message changed Bob's state")
			}
			open(t, p.bob, a3, "alice after recovery")
		})
	}
}

// TestRandomConversation drives a two-party conversation with random
// sending, delivery order, loss and duplication, and checks every message
// opens exactly once to its plaintext.
func TestRandomConversation(t *testing.T) {
	seed := testSeed(t)
	rounds := 400
	if testing.Short() {
		rounds = 100
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			opts := mode.opts
			opts.Rand = newDRBG(seed)
			// A message may wait here while the parties take many DH
			// ratchet steps; with the default MaxSkippedChains (5) the
			// keys of its chain may be dropped by then, and it is refused,
			// as documented (TestSkippedChainsCapped checks that). Keep
			// every chain, so that every message must open.
			opts.MaxSkippedChains = 1024
			p := newPair(t, opts)
			type inflight struct {
				delivery
				opened bool
			}
			var queue []*inflight
			sent := 0
			for range rounds {
				switch op := rng.IntN(10); {
				case op < 4:
					toBob := rng.IntN(2) == 0
					s := p.bob
					if toBob {
						s = p.alice
					}
					text := fmt.Sprint("m", sent)
					sent++
					queue = append(queue, &inflight{delivery: delivery{toBob, seal(t, s, text), text}})
				case len(queue) > 0:
					i := rng.IntN(len(queue))
					m := queue[i]
					s := p.alice
					if m.toBob {
						s = p.bob
					}
					pt, err := s.Open(nil, m.msg)
					switch {
					case m.opened && err == nil:
						t.Fatalf("%s opened twice", m.text)
					case !m.opened && (err != nil || string(pt) != m.text):
						t.Fatalf("%s = %q, %v", m.text, pt, err)
					}
					m.opened = true
					if rng.IntN(3) == 0 { // keep some for duplicate delivery
						queue = append(queue[:i], queue[i+1:]...)
					}
				}
			}
		})
	}
}

func TestSessionStateRoundTrip(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			p := newPair(t, mode.opts)
			skipped := seal(t, p.alice, "skipped")
			open(t, p.bob, seal(t, p.alice, "x"), "x")
			b := state(t, p.bob)
			var back e2e.Session
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(state(t, &back), b) {
				t.Fatal("state changed through an encode/decode round trip")
			}
			open(t, &back, skipped, "skipped")
			open(t, p.alice, seal(t, &back, "from the restored session"), "from the restored session")
			for _, cut := range []int{0, 1, 5, len(b) / 2, len(b) - 1} {
				if err := back.UnmarshalBinary(b[:cut]); !errors.Is(err, e2e.ErrBadState) {
					t.Errorf("truncated to %d: %v, want ErrBadState", cut, err)
				}
			}
			for _, version := range []byte{1, 3} {
				v := bytes.Clone(b)
				v[4] = version
				if err := back.UnmarshalBinary(v); !errors.Is(err, e2e.ErrBadState) {
					t.Errorf("version %d: %v, want ErrBadState", version, err)
				}
			}
			if err := back.UnmarshalBinary(append(bytes.Clone(b), 0)); !errors.Is(err, e2e.ErrBadState) {
				t.Errorf("trailing byte: %v, want ErrBadState", err)
			}
		})
	}
}

// flakyReader, once armed, lets skip reads through and fails the next one,
// then reads from r again.
type flakyReader struct {
	armed bool
	skip  int
	r     *drbg
}

func (f *flakyReader) Read(p []byte) (int, error) {
	if f.armed && f.skip > 0 {
		f.skip--
	} else if f.armed {
		f.armed = false
		return 0, errors.New("entropy source down")
	}
	return f.r.Read(p)
}

// TestSealRandFailureLeavesStateUnchanged makes drawing the new ratchet
// key fail in the Seal that completes a DH ratchet step: Seal reports the
// error, the session is as before, and the next Seal works.
func TestSealRandFailureLeavesStateUnchanged(t *testing.T) {
	rnd := &flakyReader{r: newDRBG(5)}
	alice, _ := rawPair(t, e2e.Options{}, nil)
	var sk, bobPriv [32]byte
	sk[0], bobPriv[0] = 7, 9
	bob, err := e2e.NewResponderSession(sk, nil, bobPriv, e2e.Options{Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}
	open(t, bob, seal(t, alice, "steps the ratchet"), "steps the ratchet")
	before := state(t, bob)
	rnd.armed = true
	if m, err := bob.Seal(nil, []byte("x")); err == nil || len(m) != 0 {
		t.Fatalf("Seal with failing randomness = %x, %v", m, err)
	}
	if !bytes.Equal(before, state(t, bob)) {
		t.Fatal("failed Seal changed the state")
	}
	open(t, alice, seal(t, bob, "reply"), "reply")
}

// TestSealRandFailureAfterStepLeavesStateUnchanged fails the randomness
// source at each read of a Seal that completes a DH ratchet step (the new
// ratchet key, then with header encryption the header nonce), in both
// header modes: every failure leaves the session byte-for-byte unchanged.
func TestSealRandFailureAfterStepLeavesStateUnchanged(t *testing.T) {
	for _, mode := range modes {
		for skip := range 2 {
			t.Run(fmt.Sprintf("%s/fail-read-%d", mode.name, skip), func(t *testing.T) {
				rnd := &flakyReader{r: newDRBG(6)}
				alice, _ := rawPair(t, mode.opts, nil)
				var sk, bobPriv [32]byte
				sk[0], bobPriv[0] = 7, 9
				opts := mode.opts
				opts.Rand = rnd
				bob, err := e2e.NewResponderSession(sk, nil, bobPriv, opts)
				if err != nil {
					t.Fatal(err)
				}
				open(t, bob, seal(t, alice, "steps the ratchet"), "steps the ratchet")
				before := state(t, bob)
				rnd.armed, rnd.skip = true, skip
				m, err := bob.Seal(nil, []byte("x"))
				if skip == 1 && !mode.opts.HeaderEncryption {
					// Only one read: the second failure never comes.
					if err != nil {
						t.Fatal(err)
					}
					open(t, alice, m, "x")
					return
				}
				if err == nil || len(m) != 0 {
					t.Fatalf("Seal with failing randomness = %x, %v", m, err)
				}
				if !bytes.Equal(before, state(t, bob)) {
					t.Fatal("failed Seal changed the state")
				}
				rnd.armed = false
				open(t, alice, seal(t, bob, "reply"), "reply")
			})
		}
	}
}

// TestZeroChainForgeryRefused forges a message to a fresh initiator under
// the responder's signed prekey as ratchet key, encrypted with keys from an
// all-zero chain key, which anyone can compute: the initiator has no
// receiving chain yet and must not treat the zero value as one.
func TestZeroChainForgeryRefused(t *testing.T) {
	alice, bob := mustIdentity(t, 130), mustIdentity(t, 131)
	kr, _ := e2e.NewKeyring(bob, e2e.Options{})
	spk := kr.SignedPrekey()
	as, err := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: spk}, e2e.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, mk := e2e.KDFCK([32]byte{})
	km, _ := e2e.MessageKeyMaterial(mk, e2e.DefaultInfo+"/message", 44)
	header := append([]byte{0x01}, spk.Public[:]...)
	header = append(header, make([]byte, 8)...) // PN = 0, N = 0
	ad := as.AssociatedData()
	var full []byte
	full = binary.BigEndian.AppendUint32(full, uint32(len(ad)))
	full = append(full, ad...)
	full = binary.BigEndian.AppendUint32(full, uint32(len(header)))
	full = append(full, header...)
	block, _ := aes.NewCipher(km[:32])
	gcm, _ := cipher.NewGCM(block)
	forged := gcm.Seal(bytes.Clone(header), km[32:], []byte("forged"), full)
	if pt, err := as.Open(nil, forged); err == nil {
		t.Fatalf("forgery under the zero chain key opened: %q", pt)
	}
}

func TestZeroSessionRefusesWithoutPanic(t *testing.T) {
	var s e2e.Session
	if _, err := s.Seal(nil, []byte("x")); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero Session Seal = %v, want ErrBadState", err)
	}
	p := newPair(t, e2e.Options{})
	if _, err := s.Open(nil, seal(t, p.alice, "x")); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero Session Open = %v, want ErrBadState", err)
	}
	if _, err := s.MarshalBinary(); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero Session MarshalBinary = %v, want ErrBadState", err)
	}
}

// TestLongestInfo uses an Options.Info of exactly the maximum length (64
// bytes) in sessions of both header modes and in groups, through their
// encodings too; one byte longer is refused by constructors (panic, a
// programmer error) and by decoders (ErrBadState).
func TestLongestInfo(t *testing.T) {
	info := strings.Repeat("i", 64)
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			opts := mode.opts
			opts.Info = info
			p := newPair(t, opts)
			open(t, p.bob, seal(t, p.alice, "a"), "a")
			open(t, p.alice, seal(t, p.bob, "b"), "b")
			bob := clone(t, p.bob)
			open(t, bob, seal(t, p.alice, "c"), "c")
			enc := state(t, bob)
			// Lengthen the encoded info by one byte: refused.
			i := bytes.Index(enc, []byte(info))
			long := slices.Concat(enc[:i-1], []byte{65, 'i'}, enc[i:])
			var s e2e.Session
			if err := s.UnmarshalBinary(long); !errors.Is(err, e2e.ErrBadState) {
				t.Errorf("state with a 65-byte Info: %v, want ErrBadState", err)
			}
		})
	}
	t.Run("group", func(t *testing.T) {
		opts := e2e.Options{Info: info, Rand: newDRBG(77)}
		g, err := e2e.NewGroup(opts)
		if err != nil {
			t.Fatal(err)
		}
		h, err := e2e.NewGroup(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.SetMember("g", g.Distribution()); err != nil {
			t.Fatal(err)
		}
		m, err := g.Seal(nil, []byte("to the group"))
		if err != nil {
			t.Fatal(err)
		}
		enc, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back e2e.Group
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if pt, err := back.Open(nil, "g", m); err != nil || string(pt) != "to the group" {
			t.Fatalf("Open = %q, %v", pt, err)
		}
		s, err := e2e.NewGroupSender(opts)
		if err != nil {
			t.Fatal(err)
		}
		senc, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(senc, []byte(info))
		long := slices.Concat(senc[:i-1], []byte{byte(len(info) + len("/group") + 1), 'i'}, senc[i:])
		var back2 e2e.GroupSender
		if err := back2.UnmarshalBinary(long); !errors.Is(err, e2e.ErrBadState) {
			t.Errorf("sender state with a 65-byte Info: %v, want ErrBadState", err)
		}
	})
	for _, fn := range []func(){
		func() { _, _ = e2e.NewKeyring(mustIdentity(t, 1), e2e.Options{Info: info + "i"}) },
		func() { _, _ = e2e.NewGroupSender(e2e.Options{Info: info + "i"}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a 65-byte Options.Info did not panic")
				}
			}()
			fn()
		}()
	}
}

// TestSkippedChainsCapped leaves one skipped message in each of four
// successive chains of Alice's with Options.MaxSkippedChains = 2, in both
// header modes: only the two newest chains keep their keys, the older
// chains' late messages are refused without changing state.
func TestSkippedChainsCapped(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			opts := mode.opts
			opts.MaxSkippedChains = 2
			p := newPair(t, opts)
			var late [][]byte
			for i := range 4 {
				late = append(late, seal(t, p.alice, fmt.Sprint("late ", i)))
				open(t, p.bob, seal(t, p.alice, "on time"), "on time")
				open(t, p.alice, seal(t, p.bob, "reply"), "reply")
				if want := min(i+1, 2); p.bob.Skipped() != want {
					t.Fatalf("after chain %d: %d skipped keys stored, want %d", i, p.bob.Skipped(), want)
				}
			}
			for i, m := range late[:2] {
				before := state(t, p.bob)
				if pt, err := p.bob.Open(nil, m); err == nil {
					t.Fatalf("late message of dropped chain %d opened: %q", i, pt)
				}
				if !bytes.Equal(before, state(t, p.bob)) {
					t.Fatal("refused message changed the state")
				}
			}
			// A chain that gets its first skipped key without a DH step
			// (here a new chain that started with N = 0 delivered) counts
			// too: the oldest kept chain's keys go, and the state still
			// encodes and decodes.
			open(t, p.alice, seal(t, p.bob, "reply"), "reply")
			open(t, p.bob, seal(t, p.alice, "new chain"), "new chain")
			inChain := seal(t, p.alice, "skipped in chain")
			open(t, p.bob, seal(t, p.alice, "next"), "next")
			if p.bob.Skipped() != 2 {
				t.Fatalf("%d skipped keys stored, want 2 (late 3 and one in the new chain)", p.bob.Skipped())
			}
			bob := clone(t, p.bob)
			if _, err := bob.Open(nil, late[2]); err == nil {
				t.Fatal("late message of a dropped chain opened")
			}
			open(t, bob, late[3], "late 3")
			open(t, bob, inChain, "skipped in chain")
			open(t, bob, seal(t, p.alice, "still fine"), "still fine")
		})
	}
}

// repeatReader reads from r, but its read number repeat (counting from 1)
// returns the bytes of the first read again: a ratchet key drawn then is
// the first one reused.
type repeatReader struct {
	r      *drbg
	n      int
	repeat int
	first  []byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	r.n++
	if r.n == r.repeat {
		return copy(p, r.first), nil
	}
	n, err := r.r.Read(p)
	if r.n == 1 {
		r.first = bytes.Clone(p[:n])
	}
	return n, err
}

// TestReusedRatchetKeyDoesNotCorruptSkipped has a misbehaving peer start
// its fourth chain with the ratchet key of its first (beyond the previous
// key the receiver remembers), with a skipped message N = 0 in each chain,
// so two skipped-key ids collide. The receiver must keep counting chains
// right: after the colliding key is used, the three newest chains with
// stored keys (MaxSkippedChains 3) keep them, and the state round-trips.
func TestReusedRatchetKeyDoesNotCorruptSkipped(t *testing.T) {
	var sk, bobPriv [32]byte
	sk[0], bobPriv[0] = 7, 9
	bobPub, err := e2e.DH(bobPriv, [32]byte{9})
	if err != nil {
		t.Fatal(err)
	}
	opts := e2e.Options{MaxSkippedChains: 3}
	bob, err := e2e.NewResponderSession(sk, nil, bobPriv, opts)
	if err != nil {
		t.Fatal(err)
	}
	aopts := opts
	aopts.Rand = &repeatReader{r: newDRBG(11), repeat: 4}
	alice, err := e2e.NewInitiatorSession(sk, nil, bobPub, aopts)
	if err != nil {
		t.Fatal(err)
	}
	var late [][]byte
	for chain := range 6 {
		late = append(late, seal(t, alice, fmt.Sprint("late ", chain)))
		done := make(chan struct{})
		go func() {
			defer close(done)
			open(t, bob, seal(t, alice, "on time"), "on time")
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("chain %d: Open hangs", chain)
		}
		if chain == 3 {
			// Chain 3 reuses chain 0's key: its late message replaced
			// chain 0's key and opens.
			open(t, bob, late[3], "late 3")
		}
		open(t, alice, seal(t, bob, "reply"), "reply")
	}
	bob = clone(t, bob)
	// Chain 0's key was replaced by chain 3's, which was used; chain 1's
	// keys were dropped when chain 5 made four; chains 2, 4 and 5 keep
	// theirs. (Counting chain 0 as still holding a key would have dropped
	// chain 2's too.)
	if _, err := bob.Open(nil, late[1]); err == nil {
		t.Fatal("late message of the dropped chain 1 opened")
	}
	for _, i := range []int{2, 4, 5} {
		open(t, bob, late[i], fmt.Sprint("late ", i))
	}
	if bob.Skipped() != 0 {
		t.Fatalf("%d skipped keys left", bob.Skipped())
	}
}

// reusedKeyChains runs chains chains of Alice's against Bob, where Alice
// starts chain 3 with the ratchet key of chain 0 (a misbehaving peer), and
// returns the late message N = 0 of every chain. Bob opens chain 0's late
// message right away, so its skipped-key id is used and deleted before
// chain 3 stores the same id again.
func reusedKeyChains(t *testing.T, opts e2e.Options, chains int) (bob *e2e.Session, late [][]byte) {
	t.Helper()
	// rawPair's sessions start from fixed secrets, so Alice may come from
	// one call (with the repeating ratchet keys) and Bob from another.
	aopts := opts
	aopts.Rand = &repeatReader{r: newDRBG(11), repeat: 4}
	alice, _ := rawPair(t, aopts, nil)
	_, bob = rawPair(t, opts, nil)
	for chain := range chains {
		late = append(late, seal(t, alice, fmt.Sprint("late ", chain)))
		open(t, bob, seal(t, alice, "on time"), "on time")
		if chain == 0 {
			open(t, bob, late[0], "late 0")
		}
		open(t, alice, seal(t, bob, "reply"), "reply")
	}
	return bob, late
}

// TestReusedRatchetKeyAfterUseRoundTrips checks that a skipped-key id
// stored, used and then stored again (the peer reused a ratchet key) is
// counted once in the encoded state, so the state of the live session
// decodes and the key still opens its message.
func TestReusedRatchetKeyAfterUseRoundTrips(t *testing.T) {
	bob, late := reusedKeyChains(t, e2e.Options{}, 4)
	if bob.Skipped() != 3 {
		t.Fatalf("%d skipped keys stored, want 3 (chains 1 to 3)", bob.Skipped())
	}
	bob = clone(t, bob)
	for i := 1; i < 4; i++ {
		open(t, bob, late[i], fmt.Sprint("late ", i))
	}
}

// TestReusedRatchetKeyAfterUseDropsOldest checks that the caps on stored
// skipped keys still drop the oldest when a skipped-key id was used and
// stored again (chain 3 reuses the id of chain 0's used key): under
// MaxSkippedKeys chain 1's key goes, not chain 3's; under
// MaxSkippedChains, when a sixth chain with stored keys appears, the keys
// of the oldest chains (1 and 2) go. A refused message leaves the state
// as it was.
func TestReusedRatchetKeyAfterUseDropsOldest(t *testing.T) {
	for _, c := range []struct {
		name    string
		opts    e2e.Options
		chains  int
		dropped []int // chains whose late message no longer opens; later ones do
	}{
		{"MaxSkippedKeys", e2e.Options{MaxSkippedKeys: 3}, 5, []int{1}},
		{"MaxSkippedChains", e2e.Options{MaxSkippedChains: 3}, 6, []int{1, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			bob, late := reusedKeyChains(t, c.opts, c.chains)
			if bob.Skipped() != 3 {
				t.Fatalf("%d skipped keys stored, want 3", bob.Skipped())
			}
			for _, i := range c.dropped {
				before := state(t, bob)
				if pt, err := bob.Open(nil, late[i]); err == nil {
					t.Fatalf("dropped key of chain %d opened its message %q", i, pt)
				}
				if !bytes.Equal(before, state(t, bob)) {
					t.Fatal("refused message changed the state")
				}
			}
			bob = clone(t, bob)
			for i := c.dropped[len(c.dropped)-1] + 1; i < c.chains; i++ {
				open(t, bob, late[i], fmt.Sprint("late ", i))
			}
		})
	}
}

// TestSizesInDoc checks the package doc's sizes: a 40-byte header, so
// Overhead is the type byte, the header and the 16-byte tag; 40 bytes more
// per message with header encryption (its 24-byte nonce and 16-byte tag);
// about 630 bytes of state per X3DH session plus 68 per skipped key.
func TestSizesInDoc(t *testing.T) {
	if e2e.Overhead != 1+40+16 {
		t.Errorf("Overhead = %d, want 1 + 40 + 16", e2e.Overhead)
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			p := newPair(t, mode.opts)
			want := len("12345") + e2e.Overhead
			if mode.opts.HeaderEncryption {
				want += 40
			}
			if m := seal(t, p.alice, "12345"); len(m) != want {
				t.Errorf("message of 5 bytes is %d bytes, want %d", len(m), want)
			}
			base := len(state(t, p.bob))
			if base < 600 || base > 660 {
				t.Errorf("X3DH session state is %d bytes, want about 630", base)
			}
			for range 3 {
				seal(t, p.alice, "skipped")
			}
			open(t, p.bob, seal(t, p.alice, "x"), "x")
			if n, got := p.bob.Skipped(), len(state(t, p.bob)); n != 4 || got != base+n*68 {
				t.Errorf("state with %d skipped keys is %d bytes, want %d + %d×68", n, got, base, n)
			}
		})
	}
}

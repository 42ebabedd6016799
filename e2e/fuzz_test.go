package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/e2e"
)

// FuzzSessionUnmarshal feeds arbitrary bytes to the state decoder: it must
// never panic, and whatever it accepts must re-encode to a fixed point.
func FuzzSessionUnmarshal(f *testing.F) {
	for _, mode := range modes {
		p := newPair(f, mode.opts)
		seal(f, p.alice, "skipped")
		open(f, p.bob, seal(f, p.alice, "x"), "x")
		f.Add(state(f, p.alice))
		f.Add(state(f, p.bob))
	}
	// The longest Options.Info: its derived infos fill messageKeys' buffer.
	long := newPair(f, e2e.Options{Info: strings.Repeat("i", 64), HeaderEncryption: true})
	f.Add(state(f, long.bob))
	f.Add([]byte("e2eS\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s e2e.Session
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		enc := state(t, &s)
		var again e2e.Session
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decoding an accepted state: %v", err)
		}
		if !bytes.Equal(state(t, &again), enc) {
			t.Fatal("state encoding is not a fixed point")
		}
		// A decoded session must survive use without panicking.
		_, _ = s.Open(nil, data)
		_, _ = s.Seal(nil, []byte("x"))
	})
}

// FuzzOpen feeds arbitrary messages to established sessions: no panic, a
// refused message leaves the state unchanged, and an accepted one leaves
// a state that reloads. Each message goes to three of Bob's sessions per
// header mode: fresh from Accept, one with skipped keys stored in three
// receiving chains (so the header-encryption variant tries each chain's
// key) and, as an initiator, Alice's before she has a reply.
func FuzzOpen(f *testing.F) {
	sessions := map[bool][]*e2e.Session{}
	for _, mode := range modes {
		he := mode.opts.HeaderEncryption
		p := newPair(f, mode.opts)
		f.Add(he, seal(f, p.alice, "a message"))
		rich := newPair(f, mode.opts)
		for chain := range 3 {
			f.Add(he, seal(f, rich.alice, fmt.Sprint("skipped in chain ", chain)))
			open(f, rich.bob, seal(f, rich.alice, "x"), "x")
			open(f, rich.alice, seal(f, rich.bob, "reply"), "reply")
		}
		f.Add(he, seal(f, rich.alice, "current chain"))
		alice, bob := rawPair(f, mode.opts, nil)
		open(f, bob, seal(f, alice, "x"), "x")
		f.Add(he, seal(f, bob, "reply"))
		sessions[he] = []*e2e.Session{p.bob, rich.bob, alice}
	}
	f.Add(false, []byte{1})
	f.Add(true, []byte{3, 0, 0})
	f.Fuzz(func(t *testing.T, he bool, msg []byte) {
		for _, s := range sessions[he] {
			s = clone(t, s)
			before := state(t, s)
			_, err := s.Open(nil, msg)
			if err != nil {
				if !bytes.Equal(before, state(t, s)) {
					t.Fatalf("refused message (%v) changed the state", err)
				}
				continue
			}
			clone(t, s)
		}
	})
}

// FuzzAccept feeds arbitrary initial messages to a keyring.
func FuzzAccept(f *testing.F) {
	alice, bob := mustIdentity(f, 90), mustIdentity(f, 91)
	kr, _ := e2e.NewKeyring(bob, e2e.Options{Rand: newDRBG(1)})
	otps, _ := kr.GenerateOneTimePrekeys(1)
	as, _ := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey(), OneTimePrekey: &otps[0]}, e2e.Options{})
	f.Add(seal(f, as, "hello"))
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, msg []byte) {
		s, pt, err := kr.Accept(nil, msg)
		if err == nil && s == nil {
			t.Fatal("Accept succeeded without a session")
		}
		if err != nil && (s != nil || len(pt) != 0) {
			t.Fatal("Accept failed but returned a session or plaintext")
		}
		_, _ = e2e.PeekIdentity(msg)
	})
}

// FuzzGroup feeds arbitrary distributions and messages to group receivers.
func FuzzGroup(f *testing.F) {
	s, _ := e2e.NewGroupSender(e2e.Options{Rand: newDRBG(2)})
	m, _ := s.Seal(nil, []byte("group message"))
	f.Add(s.Distribution(), m)
	f.Fuzz(func(t *testing.T, dist, msg []byte) {
		r, err := e2e.NewGroupReceiver(dist, e2e.Options{})
		if err != nil {
			return
		}
		_, _ = r.Open(nil, msg)
	})
}

// FuzzGroupUnmarshal feeds arbitrary bytes to the group state decoders:
// whatever they accept must re-encode to a fixed point; a message member
// "h" sends, or a distribution of h's, that is refused must leave the
// group unchanged, and after opening it or taking it as h's distribution
// the group must still save and load.
func FuzzGroupUnmarshal(f *testing.F) {
	g, _ := e2e.NewGroup(e2e.Options{Rand: newDRBG(3)})
	h, _ := e2e.NewGroup(e2e.Options{Rand: newDRBG(4)})
	first := h.Distribution()
	_ = g.SetMember("h", first)
	m, _ := h.Seal(nil, []byte("x"))
	m2, _ := h.Seal(nil, []byte("y"))
	_, _ = g.Open(nil, "h", m2)
	b, _ := g.MarshalBinary()
	f.Add(b, m)
	// h with MaxSenderKeyStates keys, skipped keys stored under the two
	// oldest, and a message under the oldest still to come.
	for k := 1; k < e2e.MaxSenderKeyStates; k++ {
		d, _ := h.RemoveMember("nobody")
		_ = g.SetMember("h", d)
		if k == 1 {
			_, _ = h.Seal(nil, []byte("skipped"))
			m3, _ := h.Seal(nil, []byte("z"))
			_, _ = g.Open(nil, "h", m3)
		}
	}
	b, _ = g.MarshalBinary()
	f.Add(b, m)
	f.Add(b, h.Distribution())
	// Two more keys: h's first two are forgotten, and a copy of the first
	// one's distribution is stale.
	for range 2 {
		d, _ := h.RemoveMember("nobody")
		_ = g.SetMember("h", d)
	}
	b, _ = g.MarshalBinary()
	f.Add(b, first)
	if v1, err := os.ReadFile("testdata/group-v1.bin"); err == nil {
		f.Add(v1, m)
	}
	lg, _ := e2e.NewGroup(e2e.Options{Info: strings.Repeat("i", 64), Rand: newDRBG(5)})
	_ = lg.SetMember("h", lg.Distribution())
	lm, _ := lg.Seal(nil, []byte("x"))
	b, _ = lg.MarshalBinary()
	f.Add(b, lm)
	f.Fuzz(func(t *testing.T, data, msg []byte) {
		var back e2e.Group
		if err := back.UnmarshalBinary(data); err != nil {
			return
		}
		enc, err := back.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var again e2e.Group
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decoding an accepted group: %v", err)
		}
		if enc2, _ := again.MarshalBinary(); !bytes.Equal(enc, enc2) {
			t.Fatal("group encoding is not a fixed point")
		}
		if _, err := back.Open(nil, "h", msg); err != nil {
			if after, _ := back.MarshalBinary(); !bytes.Equal(after, enc) {
				t.Fatalf("refused message (%v) changed the group", err)
			}
		}
		if err := again.SetMember("h", msg); err != nil {
			if after, _ := again.MarshalBinary(); !bytes.Equal(after, enc) {
				t.Fatalf("refused distribution (%v) changed the group", err)
			}
		}
		for _, g := range []*e2e.Group{&back, &again} {
			b, err := g.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var used e2e.Group
			if err := used.UnmarshalBinary(b); err != nil {
				t.Fatalf("group after Open or SetMember does not reload: %v", err)
			}
		}
		_, _ = back.Seal(nil, msg)
	})
}

// FuzzLoadKeyring feeds arbitrary bytes to the keyring decoder: whatever
// it accepts must re-encode to a fixed point.
func FuzzLoadKeyring(f *testing.F) {
	kr, _ := e2e.NewKeyring(mustIdentity(f, 120), e2e.Options{Rand: newDRBG(6)})
	_, _ = kr.GenerateOneTimePrekeys(2)
	_, _ = kr.RotateSignedPrekey()
	b, _ := kr.MarshalBinary()
	f.Add(b)
	// A previous signed prekey with a base key in its replay record.
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	retired, opts, _ := retiredKeyring(f, clock.Now)
	f.Add(keyringState(f, retired))
	opts.Rand = nil
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := e2e.LoadKeyring(data, opts)
		if err != nil {
			return
		}
		enc := keyringState(t, k)
		again, err := e2e.LoadKeyring(enc, opts)
		if err != nil {
			t.Fatalf("re-loading an accepted keyring: %v", err)
		}
		if !bytes.Equal(keyringState(t, again), enc) {
			t.Fatal("keyring encoding is not a fixed point")
		}
	})
}

// FuzzGroupPartsUnmarshal feeds arbitrary bytes to the decoders of a lone
// group sender and receiver (FuzzGroupUnmarshal reaches them only inside
// a group): whatever they accept must re-encode to a fixed point and
// survive use.
func FuzzGroupPartsUnmarshal(f *testing.F) {
	s, _ := e2e.NewGroupSender(e2e.Options{Rand: newDRBG(7)})
	r, _ := e2e.NewGroupReceiver(s.Distribution(), e2e.Options{})
	m0, _ := s.Seal(nil, []byte("skipped"))
	m1, _ := s.Seal(nil, []byte("x"))
	if _, err := r.Open(nil, m1); err != nil {
		f.Fatal(err)
	}
	sb, _ := s.MarshalBinary()
	rb, _ := r.MarshalBinary()
	f.Add(sb, m0)
	f.Add(rb, m0)
	f.Fuzz(func(t *testing.T, data, msg []byte) {
		var gs e2e.GroupSender
		if gs.UnmarshalBinary(data) == nil {
			enc, err := gs.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var again e2e.GroupSender
			if err := again.UnmarshalBinary(enc); err != nil {
				t.Fatalf("re-decoding an accepted sender: %v", err)
			}
			if enc2, _ := again.MarshalBinary(); !bytes.Equal(enc, enc2) {
				t.Fatal("sender encoding is not a fixed point")
			}
			_, _ = gs.Seal(nil, msg)
		}
		var gr e2e.GroupReceiver
		if gr.UnmarshalBinary(data) == nil {
			enc, err := gr.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var again e2e.GroupReceiver
			if err := again.UnmarshalBinary(enc); err != nil {
				t.Fatalf("re-decoding an accepted receiver: %v", err)
			}
			if enc2, _ := again.MarshalBinary(); !bytes.Equal(enc, enc2) {
				t.Fatal("receiver encoding is not a fixed point")
			}
			if _, err := gr.Open(nil, msg); err != nil {
				if after, _ := gr.MarshalBinary(); !bytes.Equal(after, enc) {
					t.Fatalf("refused message (%v) changed the receiver", err)
				}
			}
		}
	})
}

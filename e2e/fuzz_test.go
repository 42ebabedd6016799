package e2e_test

import (
	"bytes"
	"strings"
	"testing"

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

// FuzzOpen feeds arbitrary messages to established sessions: no panic, and
// a refused message leaves the state unchanged.
func FuzzOpen(f *testing.F) {
	for _, mode := range modes {
		p := newPair(f, mode.opts)
		f.Add(mode.opts.HeaderEncryption, seal(f, p.alice, "a message"))
	}
	f.Add(false, []byte{1})
	f.Add(true, []byte{3, 0, 0})
	pairs := map[bool]pair{}
	for _, mode := range modes {
		pairs[mode.opts.HeaderEncryption] = newPair(f, mode.opts)
	}
	f.Fuzz(func(t *testing.T, he bool, msg []byte) {
		bob := clone(t, pairs[he].bob)
		before := state(t, bob)
		if _, err := bob.Open(nil, msg); err != nil && !bytes.Equal(before, state(t, bob)) {
			t.Fatalf("refused message (%v) changed the state", err)
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

// FuzzGroupUnmarshal feeds arbitrary bytes to the group state decoders.
func FuzzGroupUnmarshal(f *testing.F) {
	g, _ := e2e.NewGroup(e2e.Options{Rand: newDRBG(3)})
	h, _ := e2e.NewGroup(e2e.Options{Rand: newDRBG(4)})
	_ = g.SetMember("h", h.Distribution())
	m, _ := h.Seal(nil, []byte("x"))
	m2, _ := h.Seal(nil, []byte("y"))
	_, _ = g.Open(nil, "h", m2)
	b, _ := g.MarshalBinary()
	f.Add(b, m)
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
		_, _ = back.Open(nil, "h", msg)
		_, _ = back.Seal(nil, msg)
	})
}

// FuzzLoadKeyring feeds arbitrary bytes to the keyring decoder.
func FuzzLoadKeyring(f *testing.F) {
	kr, _ := e2e.NewKeyring(mustIdentity(f, 120), e2e.Options{Rand: newDRBG(6)})
	_, _ = kr.GenerateOneTimePrekeys(2)
	_, _ = kr.RotateSignedPrekey()
	b, _ := kr.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := e2e.LoadKeyring(data, e2e.Options{})
		if err != nil {
			return
		}
		enc, _ := k.MarshalBinary()
		if _, err := e2e.LoadKeyring(enc, e2e.Options{}); err != nil {
			t.Fatalf("re-loading an accepted keyring: %v", err)
		}
	})
}

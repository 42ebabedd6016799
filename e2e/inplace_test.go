package e2e_test

import (
	"bytes"
	"testing"

	"github.com/blueprint-go/blueprint/e2e"
)

// TestInPlace seals and opens with the output over the input, the
// crypto/cipher idiom (Open(msg[:0], msg), Seal(pt[:0], pt) with room to
// spare), and with an output that starts a few bytes into the input. A
// wire message's output starts before its ciphertext (Open) or after a
// header written first (Seal), so the AEADs saw an inexact overlap and
// panicked ("invalid buffer overlap").
func TestInPlace(t *testing.T) {
	const text = "meet at the north entrance at noon"
	// inPlace returns a buffer holding in, with room for n more bytes.
	inPlace := func(in []byte, n int) []byte { return append(make([]byte, 0, len(in)+n), in...) }
	for _, he := range []bool{false, true} {
		p := newPair(t, e2e.Options{HeaderEncryption: he})
		// Seal into the plaintext's own buffer, then open in place.
		buf := inPlace([]byte(text), 200)
		m, err := p.alice.Seal(buf[:0], buf)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := p.bob.Open(m[:0], m)
		if err != nil || string(pt) != text {
			t.Fatalf("header encryption %v: Open(m[:0], m) = %q, %v", he, pt, err)
		}
		// An output starting 3 bytes into the input.
		buf = inPlace(seal(t, p.alice, text), 0)
		pt, err = p.bob.Open(buf[3:3], buf)
		if err != nil || string(pt) != text {
			t.Fatalf("header encryption %v: Open(m[3:3], m) = %q, %v", he, pt, err)
		}
		buf = inPlace([]byte(text), 200)
		m, err = p.bob.Seal(buf[5:5], buf)
		if err != nil {
			t.Fatal(err)
		}
		open(t, p.alice, bytes.Clone(m), text)
	}

	// Accept in place.
	alice, bob := mustIdentity(t, 1), mustIdentity(t, 2)
	kr, err := e2e.NewKeyring(bob, e2e.Options{})
	if err != nil {
		t.Fatal(err)
	}
	as, err := e2e.Initiate(alice, e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}, e2e.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := seal(t, as, text)
	if _, pt, err := kr.Accept(m[:0], m); err != nil || string(pt) != text {
		t.Fatalf("Accept(m[:0], m) = %q, %v", pt, err)
	}

	// Sender Keys.
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{})
	buf := inPlace([]byte(text), 200)
	gm, err := gs["ann"].Seal(buf[:0], buf)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := gs["ben"].Open(gm[:0], "ann", gm); err != nil || string(pt) != text {
		t.Fatalf("Group Open(m[:0], m) = %q, %v", pt, err)
	}
}

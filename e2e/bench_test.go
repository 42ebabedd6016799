package e2e_test

import (
	"crypto/ecdh"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/blueprint-go/blueprint/e2e"
)

func BenchmarkSeal(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.name+"/1KiB", func(b *testing.B) {
			p := newPair(b, mode.opts)
			msg := make([]byte, 1024)
			buf := make([]byte, 0, 2048)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = p.alice.Seal(buf[:0], msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealOpen is one 1 KiB message encrypted and decrypted in the
// same chain, with no DH ratchet step.
func BenchmarkSealOpen(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.name+"/1KiB", func(b *testing.B) {
			p := newPair(b, mode.opts)
			msg := make([]byte, 1024)
			buf := make([]byte, 0, 2048)
			out := make([]byte, 0, 2048)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = p.alice.Seal(buf[:0], msg); err != nil {
					b.Fatal(err)
				}
				if out, err = p.bob.Open(out[:0], buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDHRatchetStep alternates the sender, so every message carries a
// full DH ratchet step: the Open does its receiving half (one X25519
// agreement, one HKDF) and the next Seal its sending half (one key
// generation, one agreement, one HKDF). One op is one 64-byte message, its
// Seal and its Open.
func BenchmarkDHRatchetStep(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			p := newPair(b, mode.opts)
			msg := make([]byte, 64)
			buf := make([]byte, 0, 512)
			out := make([]byte, 0, 512)
			from, to := p.alice, p.bob
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = from.Seal(buf[:0], msg); err != nil {
					b.Fatal(err)
				}
				if out, err = to.Open(out[:0], buf); err != nil {
					b.Fatal(err)
				}
				from, to = to, from
			}
		})
	}
}

// BenchmarkOpenDHStep times only the Open of each message in a
// conversation that alternates senders: every Open steps the receiving
// half of the DH ratchet, one X25519 agreement plus the KDFs.
func BenchmarkOpenDHStep(b *testing.B) {
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			p := newPair(b, mode.opts)
			msg := make([]byte, 64)
			buf := make([]byte, 0, 512)
			out := make([]byte, 0, 512)
			from, to := p.alice, p.bob
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				var err error
				if buf, err = from.Seal(buf[:0], msg); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if out, err = to.Open(out[:0], buf); err != nil {
					b.Fatal(err)
				}
				from, to = to, from
			}
		})
	}
}

// BenchmarkX25519 measures the units a DH ratchet step is made of: one
// X25519 agreement with a parsed private key, and one key generation
// (crypto/ecdh derives the public key eagerly, one more scalar
// multiplication). The raw-byte DH function does both.
func BenchmarkX25519(b *testing.B) {
	var seed, peer [32]byte
	seed[0], peer[0] = 1, 9
	b.Run("agreement", func(b *testing.B) {
		priv, _ := ecdh.X25519().NewPrivateKey(seed[:])
		pub, _ := ecdh.X25519().NewPublicKey(peer[:])
		b.ReportAllocs()
		for b.Loop() {
			if _, err := priv.ECDH(pub); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keygen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ecdh.X25519().NewPrivateKey(seed[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-DH", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e2e.DH(seed, peer); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkX3DH is a full session start: Initiate (verify, 4 DH, first
// ratchet key), Seal of the first message, and Accept (4 DH, decrypt).
func BenchmarkX3DH(b *testing.B) {
	for _, withOPK := range []bool{true, false} {
		b.Run(fmt.Sprintf("one-time-prekey=%v", withOPK), func(b *testing.B) {
			alice, bob := mustIdentity(b, 1), mustIdentity(b, 2)
			kr, err := e2e.NewKeyring(bob, e2e.Options{})
			if err != nil {
				b.Fatal(err)
			}
			msg := []byte("hello")
			b.ReportAllocs()
			for b.Loop() {
				bundle := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
				if withOPK {
					b.StopTimer()
					otps, err := kr.GenerateOneTimePrekeys(1)
					if err != nil {
						b.Fatal(err)
					}
					bundle.OneTimePrekey = &otps[0]
					b.StartTimer()
				}
				s, err := e2e.Initiate(alice, bundle, e2e.Options{})
				if err != nil {
					b.Fatal(err)
				}
				m, err := s.Seal(nil, msg)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := kr.Accept(nil, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGroup(b *testing.B) {
	s, _ := e2e.NewGroupSender(e2e.Options{})
	r, _ := e2e.NewGroupReceiver(s.Distribution(), e2e.Options{})
	msg := make([]byte, 1024)
	buf := make([]byte, 0, 2048)
	out := make([]byte, 0, 2048)
	b.Run("seal+open/1KiB", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = s.Seal(buf[:0], msg); err != nil {
				b.Fatal(err)
			}
			if out, err = r.Open(out[:0], buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A Group holding MaxSenderKeyStates keys of one member opens under
	// the newest and under the oldest (the most key ids compared).
	g, _ := e2e.NewGroup(e2e.Options{})
	var senders []*e2e.GroupSender
	for range e2e.MaxSenderKeyStates {
		s, _ := e2e.NewGroupSender(e2e.Options{})
		if err := g.SetMember("m", s.Distribution()); err != nil {
			b.Fatal(err)
		}
		senders = append(senders, s)
	}
	for _, c := range []struct {
		name string
		s    *e2e.GroupSender
	}{{"newest", senders[len(senders)-1]}, {"oldest", senders[0]}} {
		b.Run(fmt.Sprintf("Group/seal+open/1KiB/%s-of-%d-keys", c.name, e2e.MaxSenderKeyStates), func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = c.s.Seal(buf[:0], msg); err != nil {
					b.Fatal(err)
				}
				if out, err = g.Open(out[:0], "m", buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDirectoryFetch(b *testing.B) {
	d := e2e.NewMemDirectory()
	id := mustIdentity(b, 3)
	kr, _ := e2e.NewKeyring(id, e2e.Options{})
	const users = 64
	for i := range users {
		if err := d.Publish(bg, fmt.Sprint("user", i), id.Public(), kr.SignedPrekey()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := d.Fetch(bg, fmt.Sprint("user", i%users)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkOpenForged is the work a forged message costs its receiver
// before the tag check: a plain header naming a new ratchet key with PN and
// N each MaxSkip (default 1000) past the receiver's counters, so Open
// derives 2×MaxSkip+1 chain keys and one X25519 agreement and then refuses it.
func BenchmarkOpenForged(b *testing.B) {
	p := newPair(b, e2e.Options{})
	var priv [32]byte
	priv[0] = 5
	pub, err := e2e.DH(priv, [32]byte{9})
	if err != nil {
		b.Fatal(err)
	}
	m := []byte{1}
	m = append(m, pub[:]...)
	m = binary.BigEndian.AppendUint32(m, 1+e2e.DefaultMaxSkip)
	m = binary.BigEndian.AppendUint32(m, e2e.DefaultMaxSkip)
	m = append(m, make([]byte, 64)...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.bob.Open(nil, m); !errors.Is(err, e2e.ErrDecrypt) {
			b.Fatal(err)
		}
	}
}

package e2e_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/blueprint-go/blueprint/e2e"
)

// TestConcurrentSessionSetup has many initiators fetch Bob's bundle from
// the directory and start sessions at once, while Bob's keyring accepts
// them concurrently: every session must work, and no one-time prekey may
// serve two sessions.
func TestConcurrentSessionSetup(t *testing.T) {
	const initiators, supply = 16, 10
	dir := e2e.NewMemDirectory()
	bob := mustIdentity(t, 100)
	kr, err := e2e.NewKeyring(bob, e2e.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otps, _ := kr.GenerateOneTimePrekeys(supply)
	if err := dir.Publish(bg, "bob", bob.Public(), kr.SignedPrekey()); err != nil {
		t.Fatal(err)
	}
	if err := dir.AddOneTimePrekeys(bg, "bob", otps); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	withOPK := 0
	for i := range initiators {
		wg.Go(func() {
			alice, err := e2e.NewIdentity(nil)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := dir.Fetch(bg, "bob")
			if err != nil {
				t.Error(err)
				return
			}
			as, err := e2e.Initiate(alice, b, e2e.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			text := fmt.Sprint("from initiator ", i)
			m, _ := as.Seal(nil, []byte(text))
			bs, pt, err := kr.Accept(nil, m)
			if err != nil || string(pt) != text {
				t.Errorf("initiator %d: Accept = %q, %v", i, pt, err)
				return
			}
			r, _ := bs.Seal(nil, []byte("ack"))
			if pt, err := as.Open(nil, r); err != nil || string(pt) != "ack" {
				t.Errorf("initiator %d: reply = %q, %v", i, pt, err)
			}
			if b.OneTimePrekey != nil {
				mu.Lock()
				withOPK++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if withOPK != supply || kr.OneTimePrekeys() != 0 {
		t.Errorf("%d sessions used a one-time prekey and %d remain, want %d and 0", withOPK, kr.OneTimePrekeys(), supply)
	}
}

// TestKeyringConcurrentAcceptRotateSave runs Accept on eight initial
// messages (four with a one-time prekey) while another goroutine rotates
// the signed prekey, saves and reloads the keyring and adds one-time
// prekeys: under -race nothing may race, every message is accepted (the
// rotated-out prekey answers for its grace period) and each used one-time
// prekey is gone.
func TestKeyringConcurrentAcceptRotateSave(t *testing.T) {
	bob := mustIdentity(t, 140)
	kr, err := e2e.NewKeyring(bob, e2e.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otps, _ := kr.GenerateOneTimePrekeys(4)
	var msgs [][]byte
	for i := range 8 {
		b := e2e.Bundle{Identity: bob.Public(), SignedPrekey: kr.SignedPrekey()}
		if i < len(otps) {
			b.OneTimePrekey = &otps[i]
		}
		as, err := e2e.Initiate(mustIdentity(t, uint64(141+i)), b, e2e.Options{})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, seal(t, as, fmt.Sprint("initial ", i)))
	}
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() {
			if _, pt, err := kr.Accept(nil, m); err != nil || string(pt) != fmt.Sprint("initial ", i) {
				t.Errorf("Accept(initial %d) = %q, %v", i, pt, err)
			}
		})
	}
	wg.Go(func() {
		for step := range 2 {
			if step == 0 {
				if _, err := kr.RotateSignedPrekey(); err != nil {
					t.Error(err)
				}
			} else if _, err := kr.GenerateOneTimePrekeys(3); err != nil {
				t.Error(err)
			}
			b, err := kr.MarshalBinary()
			if err != nil {
				t.Error(err)
				continue
			}
			if _, err := e2e.LoadKeyring(b, e2e.Options{}); err != nil {
				t.Errorf("LoadKeyring of a state saved during Accepts: %v", err)
			}
		}
	})
	wg.Wait()
	if n := kr.OneTimePrekeys(); n != 3 {
		t.Errorf("%d one-time prekeys held, want the 3 added later", n)
	}
	for i, m := range msgs {
		if _, _, err := kr.Accept(nil, m); !errors.Is(err, e2e.ErrReplay) {
			t.Errorf("initial %d again: %v, want ErrReplay", i, err)
		}
	}
}

package e2e_test

import (
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

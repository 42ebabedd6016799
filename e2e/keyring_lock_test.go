package e2e_test

import (
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/e2e"
)

// gateRand is a randomness source that, once armed, blocks its next
// reader until released: a slow hardware source, or one behind a lock of
// the caller's.
type gateRand struct {
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (g *gateRand) Read(p []byte) (int, error) {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.entered)
		<-g.release
	}
	return rand.Read(p)
}

func (g *gateRand) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.entered, g.release = true, make(chan struct{}), make(chan struct{})
}

var _ io.Reader = (*gateRand)(nil)

// TestKeyringRandOutsideLock checks that the keyring reads Options.Rand
// without holding its lock: while GenerateOneTimePrekeys or
// RotateSignedPrekey waits in the randomness source, the keyring's other
// methods (Accept among them) still run. Key generation and the source
// ran under the lock, so a slow source, or 100 key generations, held up
// every Accept.
func TestKeyringRandOutsideLock(t *testing.T) {
	g := &gateRand{}
	kr, err := e2e.NewKeyring(mustIdentity(t, 91), e2e.Options{Rand: g})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"GenerateOneTimePrekeys", func() error { _, err := kr.GenerateOneTimePrekeys(3); return err }},
		{"RotateSignedPrekey", func() error { _, err := kr.RotateSignedPrekey(); return err }},
	} {
		g.arm()
		done := make(chan error, 1)
		go func() { done <- c.call() }()
		<-g.entered
		other := make(chan struct{})
		go func() {
			kr.SignedPrekey()
			kr.OneTimePrekeys()
			if _, _, err := kr.Accept(nil, []byte{1}); err == nil {
				t.Error("Accept of a one-byte message succeeded")
			}
			close(other)
		}()
		select {
		case <-other:
		case <-time.After(5 * time.Second):
			t.Fatalf("the keyring's other methods waited for %s's randomness source", c.name)
		}
		close(g.release)
		if err := <-done; err != nil {
			t.Fatalf("%s = %v", c.name, err)
		}
	}
	if n := kr.OneTimePrekeys(); n != 3 {
		t.Fatalf("%d one-time prekeys held, want 3", n)
	}
}

// TestGenerateOneTimePrekeysLimit checks the cap on one request: more than
// MaxOneTimePrekeys is refused before anything is drawn or allocated (a
// request for 2^31 used to size its result for all of them first).
func TestGenerateOneTimePrekeysLimit(t *testing.T) {
	kr, err := e2e.NewKeyring(mustIdentity(t, 92), e2e.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if otps, err := kr.GenerateOneTimePrekeys(e2e.MaxOneTimePrekeys + 1); !errors.Is(err, e2e.ErrPrekeyCount) || otps != nil {
		t.Fatalf("GenerateOneTimePrekeys(MaxOneTimePrekeys+1) = %d keys, %v, want ErrPrekeyCount", len(otps), err)
	}
	if n := kr.OneTimePrekeys(); n != 0 {
		t.Fatalf("%d one-time prekeys held after a refused request", n)
	}
}

// TestKeyringSerialisesRand draws keys from several goroutines at once
// through one keyring whose Options.Rand is not safe for concurrent use
// (the tests' deterministic generator): every key must differ, and -race
// must see no race. Drawing outside the keyring's lock had let two calls
// read the generator at once, which handed out one private key twice.
func TestKeyringSerialisesRand(t *testing.T) {
	kr, err := e2e.NewKeyring(mustIdentity(t, 93), e2e.Options{Rand: newDRBG(7)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[[e2e.KeySize]byte]bool{}
	note := func(k [e2e.KeySize]byte) {
		mu.Lock()
		defer mu.Unlock()
		if seen[k] {
			t.Errorf("public key %x drawn twice", k[:4])
		}
		seen[k] = true
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				spk, err := kr.RotateSignedPrekey()
				if err != nil {
					t.Error(err)
					return
				}
				note(spk.Public)
				otps, err := kr.GenerateOneTimePrekeys(3)
				if err != nil {
					t.Error(err)
					return
				}
				for _, o := range otps {
					note(o.Public)
				}
			}
		})
	}
	wg.Wait()
}

// panicRand panics on its first read once armed.
type panicRand struct{ armed atomic.Bool }

func (p *panicRand) Read(b []byte) (int, error) {
	if p.armed.CompareAndSwap(true, false) {
		panic("randomness source failed")
	}
	return rand.Read(b)
}

// TestKeyringRandPanicReleasesLock makes the randomness source panic once
// inside RotateSignedPrekey: the keyring's later draws must go on (the
// lock serialising them was left held, so every later draw hung).
func TestKeyringRandPanicReleasesLock(t *testing.T) {
	pr := &panicRand{}
	kr, err := e2e.NewKeyring(mustIdentity(t, 94), e2e.Options{Rand: pr})
	if err != nil {
		t.Fatal(err)
	}
	pr.armed.Store(true)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("RotateSignedPrekey did not panic")
			}
		}()
		kr.RotateSignedPrekey()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := kr.GenerateOneTimePrekeys(1)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("GenerateOneTimePrekeys hung after a panicking draw")
	}
}

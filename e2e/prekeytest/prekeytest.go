// Package prekeytest is the conformance suite for implementations of
// [e2e.Directory]. A backend's test calls
//
//	prekeytest.Run(t, func() e2e.Directory { return newBackend(t) })
//
// newDirectory must return an empty directory each time. The suite checks
// the errors each method returns, that signatures are verified, that
// one-time prekeys come out first-in first-out and each at most once, also
// under concurrent fetches, and that a cancelled context is honoured.
package prekeytest

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/blueprint-go/blueprint/e2e"
)

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, newDirectory func() e2e.Directory) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, e2e.Directory)
	}{
		{"UnknownUser", testUnknownUser},
		{"PublishVerifiesSignature", testPublishVerifies},
		{"FetchWithoutOneTimePrekeys", testFetchWithout},
		{"OneTimePrekeysFIFOAndOnce", testFIFO},
		{"DuplicateBatchRefusedWhole", testDuplicate},
		{"RotateSignedPrekey", testRotate},
		{"RepublishNewIdentityDropsPrekeys", testRepublish},
		{"ConcurrentFetchHandsOutEachOnce", testConcurrentFetch},
		{"CancelledContext", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDirectory()) })
	}
}

// seedReader is a deterministic key source (SHA-256 in counter mode) so
// failures reproduce.
type seedReader struct {
	seed byte
	ctr  uint64
	buf  []byte
}

func (r *seedReader) Read(p []byte) (int, error) {
	for n := 0; n < len(p); {
		if len(r.buf) == 0 {
			r.ctr++
			b := sha256.Sum256([]byte{r.seed, byte(r.ctr), byte(r.ctr >> 8), byte(r.ctr >> 16)})
			r.buf = b[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return len(p), nil
}

type user struct {
	id *e2e.Identity
	kr *e2e.Keyring
}

func newUser(t *testing.T, seed byte) user {
	t.Helper()
	rnd := &seedReader{seed: seed}
	id, err := e2e.NewIdentity(rnd)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := e2e.NewKeyring(id, e2e.Options{Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}
	return user{id, kr}
}

func publish(t *testing.T, d e2e.Directory, name string, u user, otps int) []e2e.OneTimePrekey {
	t.Helper()
	ctx := context.Background()
	if err := d.Publish(ctx, name, u.id.Public(), u.kr.SignedPrekey()); err != nil {
		t.Fatalf("Publish(%q) = %v", name, err)
	}
	if otps == 0 {
		return nil
	}
	keys, err := u.kr.GenerateOneTimePrekeys(otps)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddOneTimePrekeys(ctx, name, keys); err != nil {
		t.Fatalf("AddOneTimePrekeys(%q) = %v", name, err)
	}
	return keys
}

func testUnknownUser(t *testing.T, d e2e.Directory) {
	ctx := context.Background()
	if _, err := d.Fetch(ctx, "nobody"); !errors.Is(err, e2e.ErrNotFound) {
		t.Errorf("Fetch(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := d.Remaining(ctx, "nobody"); !errors.Is(err, e2e.ErrNotFound) {
		t.Errorf("Remaining(unknown) = %v, want ErrNotFound", err)
	}
	if err := d.AddOneTimePrekeys(ctx, "nobody", nil); !errors.Is(err, e2e.ErrNotFound) {
		t.Errorf("AddOneTimePrekeys(unknown) = %v, want ErrNotFound", err)
	}
	u := newUser(t, 1)
	if err := d.RotateSignedPrekey(ctx, "nobody", u.kr.SignedPrekey()); !errors.Is(err, e2e.ErrNotFound) {
		t.Errorf("RotateSignedPrekey(unknown) = %v, want ErrNotFound", err)
	}
}

func testPublishVerifies(t *testing.T, d e2e.Directory) {
	ctx := context.Background()
	u, other := newUser(t, 2), newUser(t, 3)
	spk := u.kr.SignedPrekey()
	spk.Signature[5] ^= 1
	if err := d.Publish(ctx, "u", u.id.Public(), spk); !errors.Is(err, e2e.ErrInvalidSignature) {
		t.Errorf("Publish(forged signature) = %v, want ErrInvalidSignature", err)
	}
	if err := d.Publish(ctx, "u", u.id.Public(), other.kr.SignedPrekey()); !errors.Is(err, e2e.ErrInvalidSignature) {
		t.Errorf("Publish(another identity's prekey) = %v, want ErrInvalidSignature", err)
	}
	low := u.id.Public()
	low.Sign = [32]byte{1} // the Edwards identity point
	if err := d.Publish(ctx, "u", low, u.kr.SignedPrekey()); !errors.Is(err, e2e.ErrLowOrderKey) {
		t.Errorf("Publish(low-order identity) = %v, want ErrLowOrderKey", err)
	}
	if _, err := d.Fetch(ctx, "u"); !errors.Is(err, e2e.ErrNotFound) {
		t.Errorf("Fetch after refused publishes = %v, want ErrNotFound", err)
	}
}

func testFetchWithout(t *testing.T, d e2e.Directory) {
	ctx := context.Background()
	u := newUser(t, 4)
	publish(t, d, "u", u, 0)
	b, err := d.Fetch(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if b.Identity != u.id.Public() || b.SignedPrekey != u.kr.SignedPrekey() || b.OneTimePrekey != nil {
		t.Errorf("Fetch = %+v, want the published identity and signed prekey, no one-time prekey", b)
	}
	if n, err := d.Remaining(ctx, "u"); n != 0 || err != nil {
		t.Errorf("Remaining = %d, %v, want 0, nil", n, err)
	}
}

func testFIFO(t *testing.T, d e2e.Directory) {
	ctx := context.Background()
	u := newUser(t, 5)
	keys := publish(t, d, "u", u, 3)
	more, err := u.kr.GenerateOneTimePrekeys(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddOneTimePrekeys(ctx, "u", more); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, more...)
	for i, want := range keys {
		if n, err := d.Remaining(ctx, "u"); n != len(keys)-i || err != nil {
			t.Fatalf("Remaining before fetch %d = %d, %v, want %d", i, n, err, len(keys)-i)
		}
		b, err := d.Fetch(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		if b.OneTimePrekey == nil || *b.OneTimePrekey != want {
			t.Fatalf("fetch %d: one-time prekey %+v, want %+v", i, b.OneTimePrekey, want)
		}
	}
	b, err := d.Fetch(ctx, "u")
	if err != nil || b.OneTimePrekey != nil {
		t.Errorf("Fetch after supply ran out = %+v, %v, want no one-time prekey", b.OneTimePrekey, err)
	}
}

func testDuplicate(t *testing.T, d e2e.Directory) {
	ctx := context.Background()
	u := newUser(t, 6)
	keys := publish(t, d, "u", u, 2)
	fresh, err := u.kr.GenerateOneTimePrekeys(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddOneTimePrekeys(ctx, "u", []e2e.OneTimePrekey{fresh[0], keys[1]}); !errors.Is(err, e2e.ErrDuplicatePrekey) {
		t.Errorf("AddOneTimePrekeys(held id) = %v, want ErrDuplicatePrekey", err)
	}
	if err := d.AddOneTimePrekeys(ctx, "u", []e2e.OneTimePrekey{fresh[0], fresh[0]}); !errors.Is(err, e2e.ErrDuplicatePrekey) {
		t.Errorf("AddOneTimePrekeys(repeated id) = %v, want ErrDuplicatePrekey", err)
	}
	if n, _ := d.Remaining(ctx, "u"); n != 2 {
		t.Errorf("Remaining after refused batches = %d, want 2 (nothing added)", n)
	}
}

func testRotate(t *testing.T, d e2e.Directory) {
	ctx := context.Background()
	u, other := newUser(t, 7), newUser(t, 8)
	publish(t, d, "u", u, 0)
	old := u.kr.SignedPrekey()
	if err := d.RotateSignedPrekey(ctx, "u", other.kr.SignedPrekey()); !errors.Is(err, e2e.ErrInvalidSignature) {
		t.Errorf("RotateSignedPrekey(foreign) = %v, want ErrInvalidSignature", err)
	}
	if b, _ := d.Fetch(ctx, "u"); b.SignedPrekey != old {
		t.Errorf("signed prekey changed by a refused rotation")
	}
	next, err := u.kr.RotateSignedPrekey()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RotateSignedPrekey(ctx, "u", next); err != nil {
		t.Fatalf("RotateSignedPrekey = %v", err)
	}
	if b, _ := d.Fetch(ctx, "u"); b.SignedPrekey != next {
		t.Errorf("Fetch after rotation: signed prekey %d, want %d", b.SignedPrekey.ID, next.ID)
	}
}

func testRepublish(t *testing.T, d e2e.Directory) {
	ctx := context.Background()
	u, v := newUser(t, 9), newUser(t, 10)
	publish(t, d, "u", u, 3)
	publish(t, d, "u", u, 0) // same identity: keeps the supply
	if n, _ := d.Remaining(ctx, "u"); n != 3 {
		t.Errorf("Remaining after republishing the same identity = %d, want 3", n)
	}
	publish(t, d, "u", v, 0)
	if n, _ := d.Remaining(ctx, "u"); n != 0 {
		t.Errorf("Remaining after publishing a new identity = %d, want 0", n)
	}
	if b, _ := d.Fetch(ctx, "u"); b.Identity != v.id.Public() {
		t.Errorf("Fetch returned the old identity")
	}
}

func testConcurrentFetch(t *testing.T, d e2e.Directory) {
	ctx := context.Background()
	u := newUser(t, 11)
	const supply, workers, each = 100, 8, 20
	keys := publish(t, d, "u", u, supply)
	var mu sync.Mutex
	got := make(map[uint32]int)
	none := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				b, err := d.Fetch(ctx, "u")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if b.OneTimePrekey == nil {
					none++
				} else {
					got[b.OneTimePrekey.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, k := range keys {
		if got[k.ID] != 1 {
			t.Errorf("one-time prekey %d handed out %d times, want 1", k.ID, got[k.ID])
		}
	}
	if none != workers*each-supply {
		t.Errorf("%d fetches without a one-time prekey, want %d", none, workers*each-supply)
	}
}

func testCancelled(t *testing.T, d e2e.Directory) {
	u := newUser(t, 12)
	publish(t, d, "u", u, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Fetch(ctx, "u"); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch(cancelled) = %v, want context.Canceled", err)
	}
	if n, err := d.Remaining(context.Background(), "u"); n != 1 || err != nil {
		t.Errorf("Remaining after cancelled fetch = %d, %v, want 1", n, err)
	}
}

package e2e_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/blueprint-go/blueprint/e2e"
)

// newGroups makes n members that hold each other's distributions (in a real
// deployment they travel over the pairwise sessions).
func newGroups(t *testing.T, names []string, opts e2e.Options) map[string]*e2e.Group {
	t.Helper()
	gs := make(map[string]*e2e.Group)
	for _, n := range names {
		g, err := e2e.NewGroup(opts)
		if err != nil {
			t.Fatal(err)
		}
		gs[n] = g
	}
	for _, a := range names {
		for _, b := range names {
			if a != b {
				if err := gs[b].SetMember(a, gs[a].Distribution()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return gs
}

func TestSenderKeysRoundTrip(t *testing.T) {
	names := []string{"ann", "ben", "cat"}
	gs := newGroups(t, names, e2e.Options{})
	for round := range 3 {
		for _, from := range names {
			text := fmt.Sprintf("%s says %d", from, round)
			m, err := gs[from].Seal(nil, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != len(text)+e2e.GroupOverhead {
				t.Errorf("group message of %d bytes for %d of text", len(m), len(text))
			}
			for _, to := range names {
				if to == from {
					continue
				}
				pt, err := gs[to].Open(nil, from, m)
				if err != nil || string(pt) != text {
					t.Fatalf("%s opening %s's message: %q, %v", to, from, pt, err)
				}
			}
		}
	}
}

func TestSenderKeysForgeryRefused(t *testing.T) {
	sender, _ := e2e.NewGroupSender(e2e.Options{})
	mallory, _ := e2e.NewGroupSender(e2e.Options{})
	r, err := e2e.NewGroupReceiver(sender.Distribution(), e2e.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := sender.Seal(nil, []byte("pay 10 to ann"))
	for i := range len(m) * 8 {
		f := bytes.Clone(m)
		f[i/8] ^= 1 << (i % 8)
		if pt, err := r.Open(nil, f); err == nil {
			t.Fatalf("bit %d flipped: opened %q", i, pt)
		}
	}
	// A member cannot speak under another's key id: the signature fails
	// before the chain is touched.
	fake, _ := mallory.Seal(nil, []byte("pay 1000 to mallory"))
	copy(fake[1:5], m[1:5])
	if _, err := r.Open(nil, fake); !errors.Is(err, e2e.ErrInvalidSignature) {
		t.Errorf("message signed by another member: %v, want ErrInvalidSignature", err)
	}
	// The signature is checked before the iteration: a forgery under the
	// right key id that jumps past MaxSkip is ErrInvalidSignature, not
	// ErrTooManySkipped (which would mean the receiver looked at an
	// unauthenticated iteration first).
	for _, it := range []uint32{e2e.DefaultMaxSkip + 1, e2e.DefaultMaxSkip + 2, 1 << 31} {
		jump := bytes.Clone(fake)
		binary.BigEndian.PutUint32(jump[5:9], it)
		if _, err := r.Open(nil, jump); !errors.Is(err, e2e.ErrInvalidSignature) {
			t.Errorf("forged message at iteration %d: %v, want ErrInvalidSignature", it, err)
		}
	}
	other, _ := mallory.Seal(nil, []byte("x"))
	if _, err := r.Open(nil, other); !errors.Is(err, e2e.ErrUnknownSenderKey) {
		t.Errorf("message under another key id: %v, want ErrUnknownSenderKey", err)
	}
	pt, err := r.Open(nil, m)
	if err != nil || string(pt) != "pay 10 to ann" {
		t.Fatalf("genuine message after forgeries: %q, %v", pt, err)
	}
}

func TestSenderKeysDuplicateRefused(t *testing.T) {
	sender, _ := e2e.NewGroupSender(e2e.Options{})
	r, _ := e2e.NewGroupReceiver(sender.Distribution(), e2e.Options{})
	var msgs [][]byte
	for i := range 4 {
		m, _ := sender.Seal(nil, []byte(fmt.Sprint(i)))
		msgs = append(msgs, m)
	}
	for _, i := range []int{2, 0, 3, 1} {
		if _, err := r.Open(nil, msgs[i]); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
	}
	for i, m := range msgs {
		if _, err := r.Open(nil, m); !errors.Is(err, e2e.ErrReplay) {
			t.Errorf("duplicate iteration %d: %v, want ErrReplay", i, err)
		}
	}
	m, _ := sender.Seal(nil, []byte("next"))
	if pt, err := r.Open(nil, m); err != nil || string(pt) != "next" {
		t.Errorf("message after duplicates: %q, %v", pt, err)
	}
}

func TestSenderKeysJumpLimit(t *testing.T) {
	const maxSkip = 10
	opts := e2e.Options{MaxSkip: maxSkip}
	sender, _ := e2e.NewGroupSender(opts)
	r, _ := e2e.NewGroupReceiver(sender.Distribution(), opts)
	var msgs [][]byte
	for i := range maxSkip + 2 {
		m, _ := sender.Seal(nil, []byte(fmt.Sprint(i)))
		msgs = append(msgs, m)
	}
	if _, err := r.Open(nil, msgs[maxSkip+1]); !errors.Is(err, e2e.ErrTooManySkipped) {
		t.Fatalf("jump of %d: %v, want ErrTooManySkipped", maxSkip+1, err)
	}
	if _, err := r.Open(nil, msgs[maxSkip]); err != nil {
		t.Fatalf("jump of %d: %v", maxSkip, err)
	}
	for i := range maxSkip {
		if pt, err := r.Open(nil, msgs[i]); err != nil || string(pt) != fmt.Sprint(i) {
			t.Fatalf("skipped iteration %d: %q, %v", i, pt, err)
		}
	}
}

func TestSenderKeysRemovedMemberCannotRead(t *testing.T) {
	names := []string{"ann", "ben", "cat"}
	gs := newGroups(t, names, e2e.Options{})
	removed := gs["cat"]
	// Everyone left drops cat and rotates, then exchanges the new
	// distributions among the remaining members only.
	fresh := map[string][]byte{}
	for _, n := range []string{"ann", "ben"} {
		d, err := gs[n].RemoveMember("cat")
		if err != nil {
			t.Fatal(err)
		}
		fresh[n] = d
	}
	if err := gs["ben"].SetMember("ann", fresh["ann"]); err != nil {
		t.Fatal(err)
	}
	if err := gs["ann"].SetMember("ben", fresh["ben"]); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{"ann", "ben"} {
		m, _ := gs[from].Seal(nil, []byte("without cat"))
		if pt, err := removed.Open(nil, from, m); !errors.Is(err, e2e.ErrUnknownSenderKey) {
			t.Errorf("removed member opened %s's message: %q, %v", from, pt, err)
		}
		to := map[string]string{"ann": "ben", "ben": "ann"}[from]
		if pt, err := gs[to].Open(nil, from, m); err != nil || string(pt) != "without cat" {
			t.Errorf("%s opening %s: %q, %v", to, from, pt, err)
		}
	}
	// The removed member's own messages are no longer accepted either.
	m, _ := removed.Seal(nil, []byte("still here?"))
	if _, err := gs["ann"].Open(nil, "cat", m); !errors.Is(err, e2e.ErrUnknownSenderKey) {
		t.Errorf("message from removed member: %v, want ErrUnknownSenderKey", err)
	}
}

func TestSenderKeysNewMemberCannotReadPast(t *testing.T) {
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{})
	var past [][]byte
	for i := range 3 {
		m, _ := gs["ann"].Seal(nil, []byte(fmt.Sprint("before", i)))
		past = append(past, m)
		if _, err := gs["ben"].Open(nil, "ann", m); err != nil {
			t.Fatal(err)
		}
	}
	dan, _ := e2e.NewGroup(e2e.Options{})
	if err := dan.SetMember("ann", gs["ann"].Distribution()); err != nil {
		t.Fatal(err)
	}
	for i, m := range past {
		if pt, err := dan.Open(nil, "ann", m); err == nil {
			t.Errorf("new member read past message %d: %q", i, pt)
		}
	}
	m, _ := gs["ann"].Seal(nil, []byte("welcome dan"))
	if pt, err := dan.Open(nil, "ann", m); err != nil || string(pt) != "welcome dan" {
		t.Errorf("new member on a new message: %q, %v", pt, err)
	}
}

func TestSenderKeysBadDistribution(t *testing.T) {
	s, _ := e2e.NewGroupSender(e2e.Options{})
	d := s.Distribution()
	if _, err := e2e.NewGroupReceiver(d[:len(d)-1], e2e.Options{}); !errors.Is(err, e2e.ErrBadHeader) {
		t.Errorf("short distribution: %v, want ErrBadHeader", err)
	}
	low := bytes.Clone(d)
	copy(low[len(low)-32:], []byte{1})
	clear(low[len(low)-31:])
	if _, err := e2e.NewGroupReceiver(low, e2e.Options{}); !errors.Is(err, e2e.ErrLowOrderKey) {
		t.Errorf("small-order signing key: %v, want ErrLowOrderKey", err)
	}
}

func TestGroupStateRoundTrip(t *testing.T) {
	opts := e2e.Options{MaxSkip: 7, MaxSkippedKeys: 9}
	gs := newGroups(t, []string{"ann", "ben", "cat"}, opts)
	var msgs [][]byte
	for i := range 3 {
		m, _ := gs["ann"].Seal(nil, []byte(fmt.Sprint(i)))
		msgs = append(msgs, m)
	}
	if _, err := gs["ben"].Open(nil, "ann", msgs[2]); err != nil { // stores 2 skipped keys
		t.Fatal(err)
	}
	for _, name := range []string{"ann", "ben"} {
		b, err := gs[name].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back e2e.Group
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: UnmarshalBinary = %v", name, err)
		}
		again, _ := back.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("%s: encoding is not a fixed point", name)
		}
		for _, cut := range []int{0, 4, len(b) / 2, len(b) - 1} {
			if err := back.UnmarshalBinary(b[:cut]); !errors.Is(err, e2e.ErrBadState) {
				t.Errorf("%s truncated to %d: %v, want ErrBadState", name, cut, err)
			}
		}
		if err := back.UnmarshalBinary(append(bytes.Clone(b), 0)); !errors.Is(err, e2e.ErrBadState) {
			t.Errorf("%s with a trailing byte: %v, want ErrBadState", name, err)
		}
		gs[name] = &back
	}
	// The restored receiver keeps its skipped keys and replay record; the
	// restored sender continues its chain.
	if pt, err := gs["ben"].Open(nil, "ann", msgs[0]); err != nil || string(pt) != "0" {
		t.Fatalf("skipped message after restore: %q, %v", pt, err)
	}
	if _, err := gs["ben"].Open(nil, "ann", msgs[2]); !errors.Is(err, e2e.ErrReplay) {
		t.Fatalf("duplicate after restore: %v, want ErrReplay", err)
	}
	m, _ := gs["ann"].Seal(nil, []byte("after restore"))
	if pt, err := gs["cat"].Open(nil, "ann", m); err != nil || string(pt) != "after restore" {
		t.Fatalf("restored sender's message: %q, %v", pt, err)
	}
}

func TestGroupSenderReceiverStateRoundTrip(t *testing.T) {
	s, _ := e2e.NewGroupSender(e2e.Options{})
	r, _ := e2e.NewGroupReceiver(s.Distribution(), e2e.Options{})
	first, _ := s.Seal(nil, []byte("first"))
	second, _ := s.Seal(nil, []byte("second"))
	if _, err := r.Open(nil, second); err != nil {
		t.Fatal(err)
	}
	sb, _ := s.MarshalBinary()
	rb, _ := r.MarshalBinary()
	var s2 e2e.GroupSender
	var r2 e2e.GroupReceiver
	if err := s2.UnmarshalBinary(sb); err != nil {
		t.Fatal(err)
	}
	if err := r2.UnmarshalBinary(rb); err != nil {
		t.Fatal(err)
	}
	if s2.KeyID() != s.KeyID() || r2.KeyID() != r.KeyID() {
		t.Fatal("key ids changed through encoding")
	}
	if pt, err := r2.Open(nil, first); err != nil || string(pt) != "first" {
		t.Fatalf("skipped message after restore: %q, %v", pt, err)
	}
	third, _ := s2.Seal(nil, []byte("third"))
	if pt, err := r2.Open(nil, third); err != nil || string(pt) != "third" {
		t.Fatalf("restored sender's message: %q, %v", pt, err)
	}
	if err := r2.UnmarshalBinary(sb); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("sender state decoded as receiver: %v, want ErrBadState", err)
	}
	if err := s2.UnmarshalBinary(sb[:len(sb)-1]); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("truncated sender state: %v, want ErrBadState", err)
	}
}

func TestZeroGroupValuesRefuseWithoutPanic(t *testing.T) {
	var s e2e.GroupSender
	if _, err := s.Seal(nil, []byte("x")); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero GroupSender Seal = %v", err)
	}
	var r e2e.GroupReceiver
	sender, _ := e2e.NewGroupSender(e2e.Options{})
	m, _ := sender.Seal(nil, []byte("x"))
	if _, err := r.Open(nil, m); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero GroupReceiver Open = %v", err)
	}
	var g e2e.Group
	if _, err := g.Seal(nil, []byte("x")); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero Group Seal = %v", err)
	}
	if err := g.SetMember("a", sender.Distribution()); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero Group SetMember = %v", err)
	}
	if _, err := g.Open(nil, "a", m); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero Group Open = %v, want ErrBadState as documented", err)
	}
	if _, err := g.RemoveMember("a"); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero Group RemoveMember = %v", err)
	}
	if g.Distribution() != nil || g.Members() != 0 {
		t.Error("zero Group has a distribution or members")
	}
}

func TestZeroGroupStateEncodingRefused(t *testing.T) {
	var s e2e.GroupSender
	var r e2e.GroupReceiver
	var g e2e.Group
	if _, err := s.MarshalBinary(); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero GroupSender MarshalBinary = %v", err)
	}
	if _, err := r.MarshalBinary(); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero GroupReceiver MarshalBinary = %v", err)
	}
	if _, err := g.MarshalBinary(); !errors.Is(err, e2e.ErrBadState) {
		t.Errorf("zero Group MarshalBinary = %v", err)
	}
	if s.Distribution() != nil {
		t.Error("zero GroupSender has a distribution")
	}
	if err := s.Rotate(); err != nil {
		t.Fatal(err)
	}
	rr, _ := e2e.NewGroupReceiver(s.Distribution(), e2e.Options{})
	m, err := s.Seal(nil, []byte("after rotate"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := rr.Open(nil, m); err != nil || string(pt) != "after rotate" {
		t.Errorf("zero GroupSender after Rotate: %q, %v", pt, err)
	}
}

// TestSetMemberResyncsAReceiverFarBehind loses more than MaxSkip of a
// member's messages, then hands the receiver the member's current
// distribution: the receiver, which could never catch up by itself, is
// replaced, the next message opens, a delayed message whose key the old
// receiver stored still opens, and nothing opens twice.
func TestSetMemberResyncsAReceiverFarBehind(t *testing.T) {
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{MaxSkip: 10})
	ann, ben := gs["ann"], gs["ben"]
	// A message delayed in transit, whose key ben stores when he opens the
	// next one.
	late, err := ann.Seal(nil, []byte("late"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := ann.Seal(nil, []byte("next"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ben.Open(nil, "ann", next); err != nil {
		t.Fatal(err)
	}
	var lost [][]byte
	for range 50 {
		m, err := ann.Seal(nil, []byte("lost"))
		if err != nil {
			t.Fatal(err)
		}
		lost = append(lost, m)
	}
	if err := ben.SetMember("ann", ann.Distribution()); err != nil {
		t.Fatal(err)
	}
	m, err := ann.Seal(nil, []byte("after resync"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := ben.Open(nil, "ann", m); err != nil || string(pt) != "after resync" {
		t.Fatalf("Open after a resync = %q, %v", pt, err)
	}
	for i, m := range lost {
		if pt, err := ben.Open(nil, "ann", m); err == nil {
			t.Fatalf("lost message %d opened after the resync: %q", i, pt)
		}
	}
	if pt, err := ben.Open(nil, "ann", late); err != nil || string(pt) != "late" {
		t.Fatalf("the delayed message after the resync = %q, %v; want it opened (its key was stored)", pt, err)
	}
	if _, err := ben.Open(nil, "ann", next); err == nil {
		t.Fatal("a message read before the resync opened again")
	}
}

// TestSetMemberSameKeyKeepsReceiver hands a member's distribution to
// SetMember again, as a repeated or reordered delivery over the pairwise
// session would: the receiver must keep its place, so messages already
// read are still replays and a skipped one still opens. A distribution of
// a rotated key replaces the receiver.
func TestSetMemberSameKeyKeepsReceiver(t *testing.T) {
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{})
	ann, ben := gs["ann"], gs["ben"]
	first := ann.Distribution()
	var msgs [][]byte
	for i := range 3 {
		m, _ := ann.Seal(nil, []byte(fmt.Sprint(i)))
		msgs = append(msgs, m)
	}
	later := ann.Distribution() // the same key at iteration 3
	for _, i := range []int{1, 2} {
		if _, err := ben.Open(nil, "ann", msgs[i]); err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
	}
	before, _ := ben.MarshalBinary()
	for _, d := range [][]byte{later, first, first} {
		if err := ben.SetMember("ann", d); err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := ben.MarshalBinary(); !bytes.Equal(before, after) {
		t.Error("SetMember with the member's current key changed the group state")
	}
	for _, i := range []int{1, 2} {
		if pt, err := ben.Open(nil, "ann", msgs[i]); !errors.Is(err, e2e.ErrReplay) {
			t.Errorf("iteration %d again after SetMember: %q, %v, want ErrReplay", i, pt, err)
		}
	}
	if pt, err := ben.Open(nil, "ann", msgs[0]); err != nil || string(pt) != "0" {
		t.Errorf("skipped iteration 0 after SetMember: %q, %v", pt, err)
	}
	// A rotated key (new key id and signing key) replaces the receiver.
	if _, err := ann.RemoveMember("cat"); err != nil {
		t.Fatal(err)
	}
	if err := ben.SetMember("ann", ann.Distribution()); err != nil {
		t.Fatal(err)
	}
	m, _ := ann.Seal(nil, []byte("rotated"))
	if pt, err := ben.Open(nil, "ann", m); err != nil || string(pt) != "rotated" {
		t.Errorf("after rotation: %q, %v", pt, err)
	}
}

// TestSetMemberNameLength checks that a group holds only member names its
// saved state can encode (a 2-byte length): the longest round-trips, a
// longer one is refused and leaves the group savable.
func TestSetMemberNameLength(t *testing.T) {
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{})
	ben, dist := gs["ben"], gs["ann"].Distribution()
	longest := strings.Repeat("n", 0xffff)
	if err := ben.SetMember(longest, dist); err != nil {
		t.Fatalf("SetMember(%d-byte name) = %v", len(longest), err)
	}
	if err := ben.SetMember(longest+"n", dist); !errors.Is(err, e2e.ErrMemberName) {
		t.Errorf("SetMember(%d-byte name) = %v, want ErrMemberName", len(longest)+1, err)
	}
	if ben.Members() != 2 {
		t.Errorf("%d members, want 2", ben.Members())
	}
	b, err := ben.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary = %v", err)
	}
	var back e2e.Group
	if err := back.UnmarshalBinary(b); err != nil || back.Members() != 2 {
		t.Fatalf("UnmarshalBinary = %v, %d members", err, back.Members())
	}
	m, _ := gs["ann"].Seal(nil, []byte("x"))
	if pt, err := back.Open(nil, longest, m); err != nil || string(pt) != "x" {
		t.Errorf("Open from the longest name = %q, %v", pt, err)
	}
}

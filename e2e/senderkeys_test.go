package e2e_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/blueprint-go/blueprint/e2e"
)

// Tests of the sender keys a Group keeps per member (MaxSenderKeyStates).

// rotate gives g a new sender key (RemoveMember of a name that is no
// member only rotates) and returns its distribution.
func rotate(t testing.TB, g *e2e.Group) []byte {
	t.Helper()
	d, err := g.RemoveMember("nobody")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func groupSeal(t testing.TB, g *e2e.Group, text string) []byte {
	t.Helper()
	m, err := g.Seal(nil, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// groupOpen opens m from the named member and wants text.
func groupOpen(t testing.TB, g *e2e.Group, from string, m []byte, text string) {
	t.Helper()
	if pt, err := g.Open(nil, from, m); err != nil || string(pt) != text {
		t.Fatalf("Open(%q's message %q) = %q, %v", from, text, pt, err)
	}
}

func groupState(t testing.TB, g *e2e.Group) []byte {
	t.Helper()
	b, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reload returns g saved and loaded again, and checks that the encoding
// is a fixed point.
func reload(t testing.TB, g *e2e.Group) *e2e.Group {
	t.Helper()
	b := groupState(t, g)
	var back e2e.Group
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatalf("UnmarshalBinary = %v", err)
	}
	if again := groupState(t, &back); !bytes.Equal(again, b) {
		t.Fatal("group encoding is not a fixed point")
	}
	return &back
}

// TestInFlightMessageOpensAfterRotation sends a group message, rotates the
// sender key before the message arrives and delivers the new key's
// distribution first, as happens when a member removes someone while its
// last messages are still in transit: the message opens under the kept old
// key, once. It failed with ErrUnknownSenderKey when SetMember replaced the
// member's only receiver.
func TestInFlightMessageOpensAfterRotation(t *testing.T) {
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{})
	ann, ben := gs["ann"], gs["ben"]
	read := groupSeal(t, ann, "read before")
	groupOpen(t, ben, "ann", read, "read before")
	inFlight := groupSeal(t, ann, "in flight")
	if err := ben.SetMember("ann", rotate(t, ann)); err != nil {
		t.Fatal(err)
	}
	groupOpen(t, ben, "ann", groupSeal(t, ann, "new key"), "new key")
	groupOpen(t, ben, "ann", inFlight, "in flight")
	for _, m := range [][]byte{read, inFlight} {
		if _, err := ben.Open(nil, "ann", m); !errors.Is(err, e2e.ErrReplay) {
			t.Errorf("old-key message again: %v, want ErrReplay", err)
		}
	}
	// Removing the member forgets all its keys.
	if _, err := ben.RemoveMember("ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := ben.Open(nil, "ann", groupSeal(t, ann, "gone")); !errors.Is(err, e2e.ErrUnknownSenderKey) {
		t.Errorf("message from a removed member: %v, want ErrUnknownSenderKey", err)
	}
}

// TestSenderKeyStatesBound gives a member n sender keys and leaves one
// message under each in flight until the last key's distribution has
// arrived: with n = MaxSenderKeyStates all open, and one key more forgets
// the oldest, whose message fails with ErrUnknownSenderKey, while the
// others open, also after a save and reload.
func TestSenderKeyStatesBound(t *testing.T) {
	for _, n := range []int{e2e.MaxSenderKeyStates, e2e.MaxSenderKeyStates + 1} {
		t.Run(fmt.Sprint(n, " keys"), func(t *testing.T) {
			gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{})
			ann, ben := gs["ann"], gs["ben"]
			var msgs [][]byte
			for k := range n {
				if k > 0 {
					if err := ben.SetMember("ann", rotate(t, ann)); err != nil {
						t.Fatal(err)
					}
				}
				msgs = append(msgs, groupSeal(t, ann, fmt.Sprint("key ", k)))
			}
			ben = reload(t, ben)
			forgotten := n - e2e.MaxSenderKeyStates
			for k, m := range msgs {
				pt, err := ben.Open(nil, "ann", m)
				switch {
				case k < forgotten:
					if !errors.Is(err, e2e.ErrUnknownSenderKey) {
						t.Errorf("message under forgotten key %d: %q, %v, want ErrUnknownSenderKey", k, pt, err)
					}
				case err != nil || string(pt) != fmt.Sprint("key ", k):
					t.Errorf("message under key %d: %q, %v", k, pt, err)
				}
			}
		})
	}
}

// TestSetMemberKeepsKeyOrder hands SetMember late copies of a member's
// older distributions: a copy of a kept key changes nothing (not even
// which key is forgotten next, unlike libsignal, which would move it to
// the front), and one more than MaxSkip ahead of its receiver resyncs
// that key in place.
func TestSetMemberKeepsKeyOrder(t *testing.T) {
	const maxSkip = 10
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{MaxSkip: maxSkip})
	ann, ben := gs["ann"], gs["ben"]
	first := ann.Distribution()
	read := groupSeal(t, ann, "read")
	groupOpen(t, ben, "ann", read, "read")
	for range maxSkip + 1 { // lost
		groupSeal(t, ann, "lost")
	}
	ahead := ann.Distribution() // key 0, maxSkip+2 iterations on
	pending := groupSeal(t, ann, "under key 0")
	if err := ben.SetMember("ann", rotate(t, ann)); err != nil {
		t.Fatal(err)
	}
	before := groupState(t, ben)
	if err := ben.SetMember("ann", first); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(groupState(t, ben), before) {
		t.Fatal("a copy of an older key's distribution changed the group")
	}
	if _, err := ben.Open(nil, "ann", pending); !errors.Is(err, e2e.ErrTooManySkipped) {
		t.Fatalf("message %d iterations on: %v, want ErrTooManySkipped", maxSkip+1, err)
	}
	if err := ben.SetMember("ann", ahead); err != nil {
		t.Fatal(err)
	}
	groupOpen(t, ben, "ann", pending, "under key 0")
	if _, err := ben.Open(nil, "ann", read); !errors.Is(err, e2e.ErrReplay) {
		t.Fatalf("message read before the resync: %v, want ErrReplay", err)
	}
	// Key 0 is still the oldest: MaxSenderKeyStates−1 more keys forget it
	// and nothing else.
	var msgs [][]byte
	for k := 1; k < e2e.MaxSenderKeyStates+1; k++ {
		if k > 1 {
			if err := ben.SetMember("ann", rotate(t, ann)); err != nil {
				t.Fatal(err)
			}
		}
		msgs = append(msgs, groupSeal(t, ann, fmt.Sprint("key ", k)))
	}
	if _, err := ben.Open(nil, "ann", underKeyOf(ahead)); !errors.Is(err, e2e.ErrUnknownSenderKey) {
		t.Fatalf("key 0 after MaxSenderKeyStates newer keys: %v, want ErrUnknownSenderKey (forgotten)", err)
	}
	for i, m := range msgs {
		groupOpen(t, ben, "ann", m, fmt.Sprint("key ", i+1))
	}
}

// TestStaleDistributionRefused hands SetMember late copies of a member's
// forgotten keys' distributions. Taken as new keys (as before, and as
// libsignal does), they made messages already read under them open again
// and forgot one of the member's kept keys; now they are refused with
// ErrStaleDistribution and change nothing, also after a save and reload,
// for the last 16 forgotten keys. A key forgotten longer ago is taken
// again: the group no longer knows it.
func TestStaleDistributionRefused(t *testing.T) {
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{})
	ann, ben := gs["ann"], gs["ben"]
	dists := [][]byte{ann.Distribution()}
	read := groupSeal(t, ann, "read under key 0")
	groupOpen(t, ben, "ann", read, "read under key 0")
	var kept [][]byte // a message under each key, sealed before the next rotation
	for k := 1; k <= e2e.MaxSenderKeyStates; k++ {
		dists = append(dists, rotate(t, ann))
		if err := ben.SetMember("ann", dists[k]); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, groupSeal(t, ann, fmt.Sprint("key ", k)))
	}
	stale := func(k int) {
		t.Helper()
		before := groupState(t, ben)
		if err := ben.SetMember("ann", dists[k]); !errors.Is(err, e2e.ErrStaleDistribution) {
			t.Fatalf("forgotten key %d's distribution again: %v, want ErrStaleDistribution", k, err)
		}
		if !bytes.Equal(groupState(t, ben), before) {
			t.Fatalf("forgotten key %d's distribution changed the group", k)
		}
	}
	stale(0)
	if _, err := ben.Open(nil, "ann", read); !errors.Is(err, e2e.ErrUnknownSenderKey) {
		t.Errorf("message read under forgotten key 0: %v, want ErrUnknownSenderKey", err)
	}
	ben = reload(t, ben)
	stale(0)
	for i, m := range kept { // none forgotten
		groupOpen(t, ben, "ann", m, fmt.Sprint("key ", i+1))
	}

	// Keys 0 to 15 forgotten after key 20; key 21 forgets key 16 and the
	// group no longer remembers key 0.
	for k := e2e.MaxSenderKeyStates + 1; k <= 21; k++ {
		dists = append(dists, rotate(t, ann))
		if err := ben.SetMember("ann", dists[k]); err != nil {
			t.Fatal(err)
		}
		if k == 20 {
			for f := range 16 {
				stale(f)
			}
		}
	}
	stale(16)
	if err := ben.SetMember("ann", dists[0]); err != nil {
		t.Errorf("key 0, forgotten 17 keys ago: %v, want it taken as a new key", err)
	}
}

// TestRemovedMemberReadded removes a member, which has not rotated since
// (nothing makes a removed member rotate), and adds it again with its
// current distribution: the group takes it, since RemoveMember forgets
// everything of the member, including its forgotten keys.
func TestRemovedMemberReadded(t *testing.T) {
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{})
	ann, ben := gs["ann"], gs["ben"]
	first := ann.Distribution()
	for range e2e.MaxSenderKeyStates {
		if err := ben.SetMember("ann", rotate(t, ann)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ben.SetMember("ann", first); !errors.Is(err, e2e.ErrStaleDistribution) {
		t.Fatalf("forgotten key: %v, want ErrStaleDistribution", err)
	}
	groupOpen(t, ben, "ann", groupSeal(t, ann, "before"), "before")
	if _, err := ben.RemoveMember("ann"); err != nil {
		t.Fatal(err)
	}
	if err := ben.SetMember("ann", ann.Distribution()); err != nil {
		t.Fatalf("re-adding a removed member with its key: %v", err)
	}
	groupOpen(t, ben, "ann", groupSeal(t, ann, "after"), "after")
	if err := ben.SetMember("ann", first); err != nil {
		t.Fatalf("key forgotten before the removal: %v, want it taken (the group forgot the member)", err)
	}
}

// underKeyOf returns a well-formed group message that names the key id of
// distribution d and is signed by nobody: a receiver of that key refuses
// it with ErrInvalidSignature, a group without the key with
// ErrUnknownSenderKey.
func underKeyOf(d []byte) []byte {
	m := make([]byte, e2e.GroupOverhead+1)
	m[0] = 0x11
	copy(m[1:5], d[1:5])
	return m
}

// TestSkippedKeysBoundAcrossSenderKeys checks that the skipped message
// keys a member's sender keys store stay within MaxSkippedKeys in all: a
// gap under the new key evicts the oldest keys of the old one first.
func TestSkippedKeysBoundAcrossSenderKeys(t *testing.T) {
	const maxSkipped = 10
	gs := newGroups(t, []string{"ann", "ben"}, e2e.Options{MaxSkippedKeys: maxSkipped})
	ann, ben := gs["ann"], gs["ben"]
	var old, fresh [][]byte
	for i := range 8 {
		old = append(old, groupSeal(t, ann, fmt.Sprint("old ", i)))
	}
	groupOpen(t, ben, "ann", old[7], "old 7") // stores 7 keys
	if err := ben.SetMember("ann", rotate(t, ann)); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		fresh = append(fresh, groupSeal(t, ann, fmt.Sprint("new ", i)))
	}
	groupOpen(t, ben, "ann", fresh[5], "new 5") // 5 more: 2 over
	ben = reload(t, ben)
	for i := range 2 {
		if _, err := ben.Open(nil, "ann", old[i]); !errors.Is(err, e2e.ErrReplay) {
			t.Errorf("old message %d, its key evicted: %v, want ErrReplay", i, err)
		}
	}
	for i := 2; i < 7; i++ {
		groupOpen(t, ben, "ann", old[i], fmt.Sprint("old ", i))
	}
	for i := range 5 {
		groupOpen(t, ben, "ann", fresh[i], fmt.Sprint("new ", i))
	}
}

// TestGroupStateVersion1Loads loads testdata/group-v1.bin, saved by the
// code before groups kept older sender keys (commit 53e3c83): ben's group
// with members ann and cat and a skipped key of ann's. Rebuilt here the
// same way, the state must be the same, and the stored key still opens
// ann's delayed message.
func TestGroupStateVersion1Loads(t *testing.T) {
	blob, err := os.ReadFile("testdata/group-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	ann, _ := e2e.NewGroup(e2e.Options{Rand: newDRBG(41)})
	cat, _ := e2e.NewGroup(e2e.Options{Rand: newDRBG(43)})
	ben, _ := e2e.NewGroup(e2e.Options{Rand: newDRBG(42), MaxSkip: 50, MaxSkippedKeys: 60})
	if err := ben.SetMember("ann", ann.Distribution()); err != nil {
		t.Fatal(err)
	}
	if err := ben.SetMember("cat", cat.Distribution()); err != nil {
		t.Fatal(err)
	}
	late := groupSeal(t, ann, "late")
	next := groupSeal(t, ann, "next")
	groupOpen(t, ben, "ann", next, "next")

	var back e2e.Group
	if err := back.UnmarshalBinary(blob); err != nil {
		t.Fatalf("UnmarshalBinary(version 1) = %v", err)
	}
	if !bytes.Equal(groupState(t, &back), groupState(t, ben)) {
		t.Fatal("version 1 state loads as another group")
	}
	groupOpen(t, &back, "ann", late, "late")
	if _, err := back.Open(nil, "ann", next); !errors.Is(err, e2e.ErrReplay) {
		t.Errorf("message read before saving: %v, want ErrReplay", err)
	}
	groupOpen(t, &back, "cat", groupSeal(t, cat, "hi"), "hi")
	if err := back.SetMember("ann", rotate(t, ann)); err != nil {
		t.Fatal(err)
	}
	groupOpen(t, reload(t, &back), "ann", groupSeal(t, ann, "rotated"), "rotated")
}

// groupV2 builds, deterministically, the group testdata/group-v2.bin
// holds (saved by the code of commit dc127b8, group state version 2):
// ben's, with member ann at three sender keys, skipped keys stored under
// the oldest and the newest, and member cat at one. It returns ben, ann,
// and ann's messages still to come under her first and her last key.
func groupV2(t testing.TB) (ben, ann *e2e.Group, late0, late2 []byte) {
	t.Helper()
	ann, _ = e2e.NewGroup(e2e.Options{Rand: newDRBG(61)})
	cat, _ := e2e.NewGroup(e2e.Options{Rand: newDRBG(63)})
	ben, _ = e2e.NewGroup(e2e.Options{Rand: newDRBG(62), MaxSkip: 50, MaxSkippedKeys: 60})
	set := func(name string, d []byte) {
		t.Helper()
		if err := ben.SetMember(name, d); err != nil {
			t.Fatal(err)
		}
	}
	set("ann", ann.Distribution())
	set("cat", cat.Distribution())
	late0 = groupSeal(t, ann, "late 0")
	groupOpen(t, ben, "ann", groupSeal(t, ann, "next 0"), "next 0")
	set("ann", rotate(t, ann))
	groupOpen(t, ben, "ann", groupSeal(t, ann, "key 1"), "key 1")
	set("ann", rotate(t, ann))
	late2 = groupSeal(t, ann, "late 2")
	groupOpen(t, ben, "ann", groupSeal(t, ann, "next 2"), "next 2")
	groupOpen(t, ben, "cat", groupSeal(t, cat, "hi"), "hi")
	return ben, ann, late0, late2
}

// TestGroupStateVersion2Loads loads testdata/group-v2.bin (see groupV2):
// it must be the group groupV2 builds, whose stored keys still open ann's
// delayed messages under her oldest and her newest key.
func TestGroupStateVersion2Loads(t *testing.T) {
	blob, err := os.ReadFile("testdata/group-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(blob) < 5 || blob[4] != 2 {
		t.Fatal("testdata/group-v2.bin is not a version 2 state")
	}
	ben, ann, late0, late2 := groupV2(t)
	var back e2e.Group
	if err := back.UnmarshalBinary(blob); err != nil {
		t.Fatalf("UnmarshalBinary(version 2) = %v", err)
	}
	if !bytes.Equal(groupState(t, &back), groupState(t, ben)) {
		t.Fatal("version 2 state loads as another group")
	}
	groupOpen(t, &back, "ann", late0, "late 0")
	groupOpen(t, &back, "ann", late2, "late 2")
	if err := back.SetMember("ann", rotate(t, ann)); err != nil {
		t.Fatal(err)
	}
	groupOpen(t, reload(t, &back), "ann", groupSeal(t, ann, "rotated"), "rotated")
}

// TestGroupStateRefusesInconsistentKeys builds saved groups whose member
// holds the given receivers and forgotten keys and checks that
// UnmarshalBinary refuses, with ErrBadState, no keys, more than
// MaxSenderKeyStates, two with one key id, more stored skipped keys in all
// than MaxSkippedKeys, more than 16 forgotten keys, two forgotten keys
// alike and a forgotten key that is kept, and accepts the same encodings
// within those bounds.
func TestGroupStateRefusesInconsistentKeys(t *testing.T) {
	const maxSkipped = 4
	opts := e2e.Options{MaxSkippedKeys: maxSkipped, Rand: newDRBG(50)}
	g, err := e2e.NewGroup(opts)
	if err != nil {
		t.Fatal(err)
	}
	empty := groupState(t, g) // ends in a member count of 0
	// receiver returns the encoding of a receiver of a fresh key that has
	// stored skipped keys for the first n messages; dists its key's
	// distribution.
	dists := map[string][]byte{}
	receiver := func(skipped int) []byte {
		s, err := e2e.NewGroupSender(opts)
		if err != nil {
			t.Fatal(err)
		}
		r, err := e2e.NewGroupReceiver(s.Distribution(), opts)
		if err != nil {
			t.Fatal(err)
		}
		var m []byte
		for range skipped + 1 {
			m = groupSenderSeal(t, s)
		}
		if _, err := r.Open(nil, m); err != nil {
			t.Fatal(err)
		}
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		dists[string(b)] = s.Distribution()
		return b
	}
	withMember := func(keys [][]byte, forgotten ...[]byte) []byte {
		b := bytes.Clone(empty[:len(empty)-4])
		b = binary.BigEndian.AppendUint32(b, 1)
		b = binary.BigEndian.AppendUint16(b, 3)
		b = append(b, "ann"...)
		b = append(b, byte(len(keys)))
		for _, k := range keys {
			b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
			b = append(b, k...)
		}
		b = append(b, byte(len(forgotten)))
		for _, f := range forgotten {
			b = append(b, f...)
		}
		return b
	}
	var five [][]byte
	for range e2e.MaxSenderKeyStates {
		five = append(five, receiver(0))
	}
	a, b := receiver(2), receiver(2)
	// forgottenKey returns a forgotten key's encoding: key id, then the
	// first 8 bytes of the SHA-256 hash of the signing key.
	forgottenKey := func(id []byte, verify []byte) []byte {
		h := sha256.Sum256(verify)
		return append(slices.Clone(id), h[:8]...)
	}
	ofKey := func(r []byte) []byte { d := dists[string(r)]; return forgottenKey(d[1:5], d[9+32:]) }
	var sixteen [][]byte
	for i := range 17 {
		sixteen = append(sixteen, forgottenKey([]byte{0, 0, 0, byte(i)}, []byte("key")))
	}
	seventeen, sixteen := sixteen, sixteen[:16]
	aID := dists[string(a)][1:5]
	for _, c := range []struct {
		name      string
		keys      [][]byte
		forgotten [][]byte
		ok        bool
	}{
		{"one key", [][]byte{a}, nil, true},
		{"MaxSenderKeyStates keys", five, nil, true},
		{"MaxSkippedKeys stored in all", [][]byte{a, b}, nil, true},
		{"16 forgotten keys", [][]byte{a}, sixteen, true},
		{"a forgotten key with a kept key's id", [][]byte{a}, [][]byte{forgottenKey(aID, []byte("other"))}, true},
		{"no keys", nil, nil, false},
		{"more than MaxSenderKeyStates keys", append(five[:len(five):len(five)], a), nil, false},
		{"two keys with one key id", [][]byte{a, a}, nil, false},
		{"more than MaxSkippedKeys stored in all", [][]byte{a, b, receiver(1)}, nil, false},
		{"17 forgotten keys", [][]byte{a}, seventeen, false},
		{"two forgotten keys alike", [][]byte{a}, [][]byte{sixteen[0], sixteen[1], sixteen[0]}, false},
		{"a forgotten key kept", [][]byte{a, b}, [][]byte{sixteen[0], ofKey(b)}, false},
		{"a forgotten key's entry cut short", [][]byte{a}, [][]byte{sixteen[0][:11]}, false},
	} {
		enc := withMember(c.keys, c.forgotten...)
		var back e2e.Group
		err := back.UnmarshalBinary(enc)
		if !c.ok {
			if !errors.Is(err, e2e.ErrBadState) {
				t.Errorf("%s: UnmarshalBinary = %v, want ErrBadState", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: UnmarshalBinary = %v", c.name, err)
			continue
		}
		if !bytes.Equal(groupState(t, &back), enc) {
			t.Errorf("%s: the test's encoding is not MarshalBinary's", c.name)
		}
	}
}

func groupSenderSeal(t testing.TB, s *e2e.GroupSender) []byte {
	t.Helper()
	m, err := s.Seal(nil, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRandomRotations interleaves at random one member's messages,
// rotations, deliveries of its distributions (in any order, and again
// while their key is kept or after it was forgotten), deliveries of its
// messages (in any order, some twice) and saving and reloading the
// receiving group, and checks every Open against a model: a list of the
// distributed keys, newest first, at most MaxSenderKeyStates, each with
// the iterations it opened, and a list of the last 16 forgotten. A
// message opens if its key is in the list and it did not open before, is
// a replay if it did, and under a key not in the list is
// ErrUnknownSenderKey; a forgotten key's distribution is
// ErrStaleDistribution and changes nothing. MaxSkip and MaxSkippedKeys are larger than all the
// messages sent, so that no other error can happen.
func TestRandomRotations(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	rounds := 600
	if testing.Short() {
		rounds = 200
	}
	opts := e2e.Options{Rand: newDRBG(seed)}
	ann, err := e2e.NewGroup(opts)
	if err != nil {
		t.Fatal(err)
	}
	ben, err := e2e.NewGroup(opts)
	if err != nil {
		t.Fatal(err)
	}
	type message struct {
		key  int
		it   uint32
		text string
		m    []byte
	}
	type keyState struct {
		key    int
		opened map[uint32]bool
	}
	dists := [][]byte{ann.Distribution()} // by key
	undelivered := []int{0}               // keys whose distribution is on its way
	var model []*keyState                 // newest first
	var forgotten []int                   // oldest first, at most 16
	var inFlight []message
	key, it := 0, uint32(0)
	held := func(k int) *keyState {
		for _, s := range model {
			if s.key == k {
				return s
			}
		}
		return nil
	}
	opened, openedOld, refused := 0, 0, 0
	for round := range rounds {
		switch op := rng.IntN(20); {
		case op < 7:
			text := fmt.Sprint("message ", round)
			inFlight = append(inFlight, message{key, it, text, groupSeal(t, ann, text)})
			it++
		case op < 8:
			dists = append(dists, rotate(t, ann))
			key, it = key+1, 0
			undelivered = append(undelivered, key)
		case op < 10 && len(undelivered) > 0:
			i := rng.IntN(len(undelivered))
			k := undelivered[i]
			undelivered = append(undelivered[:i], undelivered[i+1:]...)
			if err := ben.SetMember("ann", dists[k]); err != nil {
				t.Fatalf("round %d: SetMember(key %d) = %v", round, k, err)
			}
			if held(k) == nil {
				model = append([]*keyState{{k, map[uint32]bool{}}}, model...)
				if len(model) > e2e.MaxSenderKeyStates {
					forgotten = append(forgotten, model[e2e.MaxSenderKeyStates].key)
					forgotten = forgotten[max(0, len(forgotten)-16):]
					model = model[:e2e.MaxSenderKeyStates]
				}
			}
		case op < 11 && len(model) > 0:
			// A copy of a kept key's distribution changes nothing.
			k := model[rng.IntN(len(model))].key
			before := groupState(t, ben)
			if err := ben.SetMember("ann", dists[k]); err != nil {
				t.Fatalf("round %d: SetMember(key %d again) = %v", round, k, err)
			}
			if !bytes.Equal(groupState(t, ben), before) {
				t.Fatalf("round %d: a copy of key %d's distribution changed the group", round, k)
			}
		case op < 12 && len(forgotten) > 0:
			k := forgotten[rng.IntN(len(forgotten))]
			before := groupState(t, ben)
			if err := ben.SetMember("ann", dists[k]); !errors.Is(err, e2e.ErrStaleDistribution) {
				t.Fatalf("round %d: SetMember(forgotten key %d) = %v, want ErrStaleDistribution", round, k, err)
			}
			if !bytes.Equal(groupState(t, ben), before) {
				t.Fatalf("round %d: forgotten key %d's distribution changed the group", round, k)
			}
		case op < 13:
			ben = reload(t, ben)
		case len(inFlight) > 0:
			i := rng.IntN(len(inFlight))
			m := inFlight[i]
			if rng.IntN(4) > 0 { // else it may arrive again
				inFlight = append(inFlight[:i], inFlight[i+1:]...)
			}
			pt, err := ben.Open(nil, "ann", m.m)
			s := held(m.key)
			var want error
			switch {
			case s == nil:
				want = e2e.ErrUnknownSenderKey
			case s.opened[m.it]:
				want = e2e.ErrReplay
			}
			if !errors.Is(err, want) || want == nil && string(pt) != m.text {
				t.Fatalf("round %d: Open(key %d, iteration %d) = %q, %v; want %q, %v",
					round, m.key, m.it, pt, err, m.text, want)
			}
			if want == nil {
				s.opened[m.it] = true
				opened++
				if s != model[0] {
					openedOld++
				}
			} else {
				refused++
			}
		}
	}
	t.Logf("%d keys, %d messages opened (%d under an older key), %d refused", key+1, opened, openedOld, refused)
}

package e2e_test

import (
	"context"
	"fmt"
	"log"

	"github.com/blueprint-go/blueprint/e2e"
)

// Example shows the first five minutes: Bob publishes prekeys, Alice fetches
// his bundle and starts a session with X3DH, and they talk.
func Example() {
	ctx := context.Background()
	dir := e2e.NewMemDirectory()

	// Bob's device: an identity, a keyring of prekeys, published.
	bob, _ := e2e.NewIdentity(nil)
	bobKeys, _ := e2e.NewKeyring(bob, e2e.Options{})
	otps, _ := bobKeys.GenerateOneTimePrekeys(10)
	if err := dir.Publish(ctx, "bob", bob.Public(), bobKeys.SignedPrekey()); err != nil {
		log.Fatal(err)
	}
	if err := dir.AddOneTimePrekeys(ctx, "bob", otps); err != nil {
		log.Fatal(err)
	}

	// Alice fetches Bob's bundle; Initiate verifies the signed prekey.
	alice, _ := e2e.NewIdentity(nil)
	bundle, _ := dir.Fetch(ctx, "bob")
	aliceSession, err := e2e.Initiate(alice, bundle, e2e.Options{})
	if err != nil {
		log.Fatal(err)
	}
	first, _ := aliceSession.Seal(nil, []byte("hi Bob"))

	// Bob answers the initial message with his keyring.
	bobSession, plaintext, err := bobKeys.Accept(nil, first)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Bob reads %q from a peer with the same fingerprint: %v\n",
		plaintext, bobSession.Peer().Fingerprint() == alice.Public().Fingerprint())

	reply, _ := bobSession.Seal(nil, []byte("hi Alice"))
	plaintext, _ = aliceSession.Open(nil, reply)
	fmt.Printf("Alice reads %q\n", plaintext)

	left, _ := dir.Remaining(ctx, "bob")
	fmt.Println("one-time prekeys left:", left)
	// Output:
	// Bob reads "hi Bob" from a peer with the same fingerprint: true
	// Alice reads "hi Alice"
	// one-time prekeys left: 9
}

// ExampleGroup sends one message to a group with Sender Keys and removes a
// member.
func ExampleGroup() {
	ann, _ := e2e.NewGroup(e2e.Options{})
	ben, _ := e2e.NewGroup(e2e.Options{})
	cat, _ := e2e.NewGroup(e2e.Options{})
	// Distributions travel over the pairwise sessions.
	_ = ben.SetMember("ann", ann.Distribution())
	_ = cat.SetMember("ann", ann.Distribution())

	m, _ := ann.Seal(nil, []byte("lunch at noon?"))
	forBen, _ := ben.Open(nil, "ann", m)
	forCat, _ := cat.Open(nil, "ann", m)
	fmt.Printf("ben: %q, cat: %q\n", forBen, forCat)

	// Ann removes cat: she rotates and sends the new key to ben only.
	fresh, _ := ann.RemoveMember("cat")
	_ = ben.SetMember("ann", fresh)
	m, _ = ann.Seal(nil, []byte("cat is gone"))
	forBen, _ = ben.Open(nil, "ann", m)
	_, err := cat.Open(nil, "ann", m)
	fmt.Printf("ben: %q, cat: %v\n", forBen, err)
	// Output:
	// ben: "lunch at noon?", cat: "lunch at noon?"
	// ben: "cat is gone", cat: e2e: unknown sender key
}

// ExampleSession_MarshalBinary stores a session and restores it.
func ExampleSession_MarshalBinary() {
	var sk, bobPriv [32]byte
	sk[0], bobPriv[0] = 1, 2
	bobPub, _ := e2e.DH(bobPriv, [32]byte{9}) // X25519 base point
	alice, _ := e2e.NewInitiatorSession(sk, []byte("ad"), bobPub, e2e.Options{})
	bob, _ := e2e.NewResponderSession(sk, []byte("ad"), bobPriv, e2e.Options{})

	m, _ := alice.Seal(nil, []byte("kept across restarts"))
	saved, _ := bob.MarshalBinary()
	var restored e2e.Session
	if err := restored.UnmarshalBinary(saved); err != nil {
		log.Fatal(err)
	}
	pt, _ := restored.Open(nil, m)
	fmt.Printf("%s\n", pt)
	// Output: kept across restarts
}

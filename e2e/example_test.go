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
	bob, err := e2e.NewIdentity(nil)
	if err != nil {
		log.Fatal(err)
	}
	bobKeys, err := e2e.NewKeyring(bob, e2e.Options{})
	if err != nil {
		log.Fatal(err)
	}
	otps, err := bobKeys.GenerateOneTimePrekeys(10)
	if err != nil {
		log.Fatal(err)
	}
	if err := dir.Publish(ctx, "bob", bob.Public(), bobKeys.SignedPrekey()); err != nil {
		log.Fatal(err)
	}
	if err := dir.AddOneTimePrekeys(ctx, "bob", otps); err != nil {
		log.Fatal(err)
	}

	// Alice fetches Bob's bundle; Initiate verifies the signed prekey.
	alice, err := e2e.NewIdentity(nil)
	if err != nil {
		log.Fatal(err)
	}
	bundle, err := dir.Fetch(ctx, "bob")
	if err != nil {
		log.Fatal(err)
	}
	aliceSession, err := e2e.Initiate(alice, bundle, e2e.Options{})
	if err != nil {
		log.Fatal(err)
	}
	first, err := aliceSession.Seal(nil, []byte("hi Bob"))
	if err != nil {
		log.Fatal(err)
	}

	// Bob answers the initial message with his keyring.
	bobSession, plaintext, err := bobKeys.Accept(nil, first)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Bob reads %q from a peer with the same fingerprint: %v\n",
		plaintext, bobSession.Peer().Fingerprint() == alice.Public().Fingerprint())

	reply, err := bobSession.Seal(nil, []byte("hi Alice"))
	if err != nil {
		log.Fatal(err)
	}
	plaintext, err = aliceSession.Open(nil, reply)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Alice reads %q\n", plaintext)

	left, err := dir.Remaining(ctx, "bob")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("one-time prekeys left:", left)
	// Output:
	// Bob reads "hi Bob" from a peer with the same fingerprint: true
	// Alice reads "hi Alice"
	// one-time prekeys left: 9
}

// ExampleGroup sends one message to a group with Sender Keys and removes a
// member.
func ExampleGroup() {
	ann, err := e2e.NewGroup(e2e.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ben, err := e2e.NewGroup(e2e.Options{})
	if err != nil {
		log.Fatal(err)
	}
	cat, err := e2e.NewGroup(e2e.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// Distributions travel over the pairwise sessions.
	if err := ben.SetMember("ann", ann.Distribution()); err != nil {
		log.Fatal(err)
	}
	if err := cat.SetMember("ann", ann.Distribution()); err != nil {
		log.Fatal(err)
	}

	m, err := ann.Seal(nil, []byte("lunch at noon?"))
	if err != nil {
		log.Fatal(err)
	}
	forBen, err := ben.Open(nil, "ann", m)
	if err != nil {
		log.Fatal(err)
	}
	forCat, err := cat.Open(nil, "ann", m)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ben: %q, cat: %q\n", forBen, forCat)

	// Ann removes cat: she rotates and sends the new key to ben only.
	fresh, err := ann.RemoveMember("cat")
	if err != nil {
		log.Fatal(err)
	}
	if err := ben.SetMember("ann", fresh); err != nil {
		log.Fatal(err)
	}
	m, err = ann.Seal(nil, []byte("cat is gone"))
	if err != nil {
		log.Fatal(err)
	}
	forBen, err = ben.Open(nil, "ann", m)
	if err != nil {
		log.Fatal(err)
	}
	// Cat no longer has the key: this error is the point.
	_, err = cat.Open(nil, "ann", m)
	fmt.Printf("ben: %q, cat: %v\n", forBen, err)
	// Output:
	// ben: "lunch at noon?", cat: "lunch at noon?"
	// ben: "cat is gone", cat: e2e: unknown sender key
}

// ExampleSession_MarshalBinary stores a session and restores it.
func ExampleSession_MarshalBinary() {
	var sk, bobPriv [32]byte
	sk[0], bobPriv[0] = 1, 2
	bobPub, err := e2e.DH(bobPriv, [32]byte{9}) // X25519 base point
	if err != nil {
		log.Fatal(err)
	}
	alice, err := e2e.NewInitiatorSession(sk, []byte("ad"), bobPub, e2e.Options{})
	if err != nil {
		log.Fatal(err)
	}
	bob, err := e2e.NewResponderSession(sk, []byte("ad"), bobPriv, e2e.Options{})
	if err != nil {
		log.Fatal(err)
	}

	m, err := alice.Seal(nil, []byte("kept across restarts"))
	if err != nil {
		log.Fatal(err)
	}
	saved, err := bob.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	var restored e2e.Session
	if err := restored.UnmarshalBinary(saved); err != nil {
		log.Fatal(err)
	}
	pt, err := restored.Open(nil, m)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)
	// Output: kept across restarts
}

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/blueprint-go/blueprint/e2e"
)

// tourE2E walks through end-to-end encryption: Alice fetches Bob's prekey
// bundle, runs X3DH, they exchange messages (one delivered out of order),
// then a three-member group uses Sender Keys and removes a member.
func tourE2E(out *tourWriter) error {
	ctx := context.Background()
	dir := e2e.NewMemDirectory()
	bob, err := e2e.NewIdentity(nil)
	if err != nil {
		return err
	}
	bobKeys, err := e2e.NewKeyring(bob, e2e.Options{})
	if err != nil {
		return err
	}
	otps, err := bobKeys.GenerateOneTimePrekeys(5)
	if err != nil {
		return err
	}
	if err := dir.Publish(ctx, "bob", bob.Public(), bobKeys.SignedPrekey()); err != nil {
		return err
	}
	if err := dir.AddOneTimePrekeys(ctx, "bob", otps); err != nil {
		return err
	}
	out.Step("bob publishes an identity, a signed prekey and %d one-time prekeys", len(otps))

	alice, err := e2e.NewIdentity(nil)
	if err != nil {
		return err
	}
	bundle, err := dir.Fetch(ctx, "bob")
	if err != nil {
		return err
	}
	forged := bundle
	forged.SignedPrekey.Signature[0] ^= 1
	if _, err := e2e.Initiate(alice, forged, e2e.Options{}); !errors.Is(err, e2e.ErrInvalidSignature) {
		return fmt.Errorf("forged bundle: %v", err)
	}
	out.Step("a bundle with a forged prekey signature is refused: %v", e2e.ErrInvalidSignature)
	as, err := e2e.Initiate(alice, bundle, e2e.Options{})
	if err != nil {
		return err
	}
	left, _ := dir.Remaining(ctx, "bob")
	out.Step("alice fetches bob's bundle and runs X3DH (%d one-time prekeys left)", left)

	first, _ := as.Seal(nil, []byte("hi bob"))
	bs, pt, err := bobKeys.Accept(nil, first)
	if err != nil {
		return err
	}
	out.Step("bob accepts the initial message (%d bytes): %q", len(first), pt)
	if _, _, err := bobKeys.Accept(nil, first); !errors.Is(err, e2e.ErrReplay) {
		return fmt.Errorf("replayed initial message: %v", err)
	}
	out.Step("the same initial message again: %v", e2e.ErrReplay)

	reply, _ := bs.Seal(nil, []byte("hi alice"))
	if pt, err = as.Open(nil, reply); err != nil {
		return err
	}
	out.Step("alice reads %q; each reply turns the DH ratchet", pt)

	m1, _ := as.Seal(nil, []byte("one"))
	m2, _ := as.Seal(nil, []byte("two"))
	m3, _ := as.Seal(nil, []byte("three"))
	for _, m := range [][]byte{m3, m1, m2} {
		if pt, err = bs.Open(nil, m); err != nil {
			return err
		}
		out.Step("bob reads %q (delivered out of order, %d skipped keys held)", pt, bs.Skipped())
	}
	if _, err := bs.Open(nil, m2); !errors.Is(err, e2e.ErrReplay) {
		return fmt.Errorf("duplicate: %v", err)
	}
	out.Step("a duplicate of %q is refused: %v", "two", e2e.ErrReplay)

	names := []string{"alice", "bob", "carol"}
	groups := map[string]*e2e.Group{}
	for _, n := range names {
		if groups[n], err = e2e.NewGroup(e2e.Options{}); err != nil {
			return err
		}
	}
	for _, a := range names {
		for _, b := range names {
			if a != b {
				if err := groups[b].SetMember(a, groups[a].Distribution()); err != nil {
					return err
				}
			}
		}
	}
	gm, _ := groups["alice"].Seal(nil, []byte("dinner at 8?"))
	forBob, _ := groups["bob"].Open(nil, "alice", gm)
	forCarol, _ := groups["carol"].Open(nil, "alice", gm)
	out.Step("group of 3: alice seals once (%d bytes), bob reads %q, carol reads %q", len(gm), forBob, forCarol)

	fresh := map[string][]byte{}
	for _, n := range []string{"alice", "bob"} {
		if fresh[n], err = groups[n].RemoveMember("carol"); err != nil {
			return err
		}
	}
	_ = groups["bob"].SetMember("alice", fresh["alice"])
	_ = groups["alice"].SetMember("bob", fresh["bob"])
	gm, _ = groups["alice"].Seal(nil, []byte("carol left"))
	forBob, _ = groups["bob"].Open(nil, "alice", gm)
	_, err = groups["carol"].Open(nil, "alice", gm)
	out.Step("carol removed, everyone rotates: bob reads %q, carol gets %v", forBob, err)
	return nil
}

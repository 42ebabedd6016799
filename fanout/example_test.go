package fanout_test

import (
	"context"
	"fmt"
	"log"

	"github.com/blueprint-go/blueprint/fanout"
)

// Bob follows Alice, and everyone follows a celebrity, who has more
// followers than the threshold and is pulled. Bob's home timeline merges
// Alice's pushed post with the celebrity's pulled one; the deleted post
// is gone.
func Example() {
	ctx := context.Background()
	svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(),
		fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		fanout.Options{Policy: fanout.Threshold{Followers: 2}})

	const alice, bob, carol, celeb = 1, 2, 3, 99
	for _, u := range []fanout.UserID{alice, bob, carol} {
		if err := svc.Follow(ctx, u, celeb); err != nil {
			log.Fatal(err)
		}
	}
	if err := svc.Follow(ctx, bob, alice); err != nil {
		log.Fatal(err)
	}

	if _, err := svc.Publish(ctx, alice, "hello from alice"); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Publish(ctx, celeb, "big announcement"); err != nil {
		log.Fatal(err)
	}
	post, err := svc.Publish(ctx, alice, "typo")
	if err != nil {
		log.Fatal(err)
	}
	if err := svc.Delete(ctx, alice, post.ID); err != nil {
		log.Fatal(err)
	}

	page, err := svc.Timeline(ctx, bob, "", 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range page.Posts {
		fmt.Println(p.Author, p.Text)
	}

	// Close drains the fan-out queue and stops the workers.
	if err := svc.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 99 big announcement
	// 1 hello from alice
}

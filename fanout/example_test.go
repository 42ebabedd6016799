package fanout_test

import (
	"context"
	"fmt"

	"github.com/blueprint-go/blueprint/fanout"
)

// Alice and Bob follow each other; everyone follows a celebrity, who is
// pulled. Bob's home timeline merges both.
func Example() {
	ctx := context.Background()
	svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(),
		fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		fanout.Options{Policy: fanout.Threshold{Followers: 2}})
	defer svc.Close()

	const alice, bob, carol, celeb = 1, 2, 3, 99
	for _, u := range []fanout.UserID{alice, bob, carol} {
		svc.Follow(ctx, u, celeb)
	}
	svc.Follow(ctx, bob, alice)

	svc.Publish(ctx, alice, "hello from alice")
	svc.Publish(ctx, celeb, "big announcement")
	post, _ := svc.Publish(ctx, alice, "typo")
	svc.Delete(ctx, alice, post.ID)

	page, _ := svc.Timeline(ctx, bob, "", 10)
	for _, p := range page.Posts {
		fmt.Println(p.Author, p.Text)
	}
	// Output:
	// 99 big announcement
	// 1 hello from alice
}

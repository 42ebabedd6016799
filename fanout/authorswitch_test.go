package fanout_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// gatedPosts holds the Put of a post whose text has a gate until the gate
// is closed, and sends the text on entered when it holds one.
type gatedPosts struct {
	fanout.Posts
	mu      sync.Mutex
	gates   map[string]chan struct{}
	entered chan string
}

func (p *gatedPosts) Put(ctx context.Context, x fanout.Post) error {
	p.mu.Lock()
	g := p.gates[x.Text]
	p.mu.Unlock()
	if g != nil {
		p.entered <- x.Text
		<-g
	}
	return p.Posts.Put(ctx, x)
}

// TestAuthorPushPullPushKeepsPulledPost checks that an author who goes
// from pull to push, back to pull and to push again over concurrent
// Publish calls loses no post: P2 switches it to push (its watermark at
// Pulling until P2 is stored), P3 is published pulled (never pushed), P4
// switches it to push again, and P2 then finishes before P4. P2 used to
// fix the watermark at its own ID, below P3, so that reads took P3 as
// pushed and found it in no timeline; only the Publish that made the
// latest switch (P4) may fix it.
func TestAuthorPushPullPushKeepsPulledPost(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	posts := &gatedPosts{Posts: fanout.NewMemPosts(), entered: make(chan string, 4),
		gates: map[string]chan struct{}{"P2": make(chan struct{}), "P4": make(chan struct{})}}
	fanned := make(chan snowflake.ID, 16)
	svc := fanout.New(fanout.NewMemGraph(), posts, fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{
		IDs: gen, Now: clk.Now, Policy: fanout.Threshold{Followers: 1, Hysteresis: -1},
		OnFanout: func(id snowflake.ID, _ int, _ time.Duration) { fanned <- id },
	})
	defer svc.Close()
	const reader, author, other = 1, 2, 3
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	publish := func(text string) fanout.Post {
		t.Helper()
		clk.Add(time.Millisecond)
		p, err := svc.Publish(ctx, author, text)
		must(err)
		return p
	}
	publishAsync := func(text string) chan fanout.Post {
		c := make(chan fanout.Post, 1)
		clk.Add(time.Millisecond)
		go func() {
			p, err := svc.Publish(ctx, author, text)
			if err != nil {
				t.Error(err)
			}
			c <- p
		}()
		return c
	}
	must(svc.Follow(ctx, reader, author))
	must(svc.Follow(ctx, other, author)) // 2 followers: pulled
	publish("P0")
	<-fanned
	_, err = svc.Timeline(ctx, reader, "", 10) // the reader is active and holds a plan
	must(err)

	must(svc.Unfollow(ctx, other, author)) // 1 follower: the next post switches to push
	p2 := publishAsync("P2")
	<-posts.entered // P2 switched the author to push; its Put is held
	must(svc.Follow(ctx, other, author))
	publish("P3") // 2 followers: back to pull, P3 is not pushed
	<-fanned
	must(svc.Unfollow(ctx, other, author))
	p4 := publishAsync("P4")
	<-posts.entered // P4 switched the author to push again; its Put is held
	close(posts.gates["P2"])
	<-p2
	<-fanned
	close(posts.gates["P4"])
	<-p4
	<-fanned

	got := feedTexts(t, svc, reader, 10)
	for _, w := range []string{"P4", "P3", "P2", "P0"} {
		if !slices.Contains(got, w) {
			t.Fatalf("feed = %v, missing %s", got, w)
		}
	}
}

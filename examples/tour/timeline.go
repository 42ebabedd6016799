package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// tourTimeline builds a small graph with one celebrity and shows push, pull,
// the merge, and a delete and an unfollow taking effect at once.
func tourTimeline(out *tourWriter) error {
	ctx := context.Background()
	var writes []int
	done := make(chan struct{}, 16)
	svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(),
		fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		fanout.Options{
			Policy: fanout.Threshold{Followers: 3},
			OnFanout: func(_ snowflake.ID, n int, _ time.Duration) {
				writes = append(writes, n)
				done <- struct{}{}
			},
			Workers: 1,
		})
	defer svc.Close()

	const ann, ben, cat, dan, star = 1, 2, 3, 4, 100
	names := map[fanout.UserID]string{ann: "ann", ben: "ben", cat: "cat", dan: "dan", star: "star"}
	for _, u := range []fanout.UserID{ann, ben, cat, dan} {
		if err := svc.Follow(ctx, u, star); err != nil {
			return err
		}
	}
	for _, u := range []fanout.UserID{ben, cat} {
		if err := svc.Follow(ctx, u, ann); err != nil {
			return err
		}
	}
	out.Step("star has 4 followers (threshold 3: pulled); ann has 2 (pushed)")

	show := func(who fanout.UserID) error {
		pg, err := svc.Timeline(ctx, who, "", 10)
		if err != nil {
			return err
		}
		var s []string
		for _, p := range pg.Posts {
			s = append(s, names[p.Author]+": "+p.Text)
		}
		out.Step("%s's timeline: [%s]", names[who], strings.Join(s, " | "))
		return nil
	}
	p1, err := svc.Publish(ctx, ann, "coffee?")
	if err != nil {
		return err
	}
	<-done
	out.Step("ann posts: written to %d timelines (ben, cat)", writes[0])
	if _, err := svc.Publish(ctx, star, "new album out"); err != nil {
		return err
	}
	<-done
	out.Step("star posts: written to %d timelines (pulled at read)", writes[1])
	p3, err := svc.Publish(ctx, ann, "lunch at noon")
	if err != nil {
		return err
	}
	<-done
	if err := show(ben); err != nil {
		return err
	}
	if err := svc.Delete(ctx, ann, p3.ID); err != nil {
		return err
	}
	out.Step("ann deletes %q: one store delete, no fan-out", "lunch at noon")
	if err := show(ben); err != nil {
		return err
	}
	if err := svc.Unfollow(ctx, ben, ann); err != nil {
		return err
	}
	out.Step("ben unfollows ann: visible at once")
	if err := show(ben); err != nil {
		return err
	}
	if err := show(cat); err != nil {
		return err
	}
	pg, err := svc.Timeline(ctx, cat, "", 1)
	if err != nil {
		return err
	}
	next, err := svc.Timeline(ctx, cat, pg.Next, 1)
	if err != nil {
		return err
	}
	if len(next.Posts) != 1 || next.Posts[0].ID != p1.ID {
		return fmt.Errorf("second page of cat's timeline: %v", next.Posts)
	}
	out.Step("cat pages by cursor, one post per page: %q, then %q", pg.Posts[0].Text, next.Posts[0].Text)
	return nil
}

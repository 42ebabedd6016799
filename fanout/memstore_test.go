package fanout_test

import (
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/fanout/storetest"
)

func TestMemGraph(t *testing.T) {
	storetest.RunGraph(t, func() fanout.Graph { return fanout.NewMemGraph() })
}

func TestMemPosts(t *testing.T) {
	storetest.RunPosts(t, func() fanout.Posts { return fanout.NewMemPosts() })
}

func TestMemTimelines(t *testing.T) {
	storetest.RunTimelines(t, func(c int) fanout.Timelines {
		return fanout.NewMemTimelines(fanout.MemTimelinesOptions{Cap: c})
	})
}

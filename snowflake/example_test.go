package snowflake_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// stillClock stands still except while the generator sleeps on it, so the
// examples print the same IDs every run. Real programs leave Options.Clock
// nil and get the system's monotonic clock.
type stillClock struct{ now time.Time }

func (c *stillClock) Now() time.Time        { return c.now }
func (c *stillClock) Sleep(d time.Duration) { c.now = c.now.Add(d) }

func Example() {
	clock := &stillClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	g, err := snowflake.NewGenerator(7, snowflake.Options{Clock: clock})
	if err != nil {
		panic(err)
	}
	a, err := g.Next()
	if err != nil {
		panic(err)
	}
	b, err := g.Next()
	if err != nil {
		panic(err)
	}
	fmt.Println(a, b, a < b)

	p := g.Layout().Decompose(b)
	fmt.Println(p.Time.Format(time.RFC3339Nano), "node", p.Node, "seq", p.Seq)

	data, err := json.Marshal(struct {
		ID snowflake.ID `json:"id"`
	}{b})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(data))
	// Output:
	// 683282320588828672 683282320588828673 true
	// 2026-03-01T12:00:00Z node 7 seq 1
	// {"id":"683282320588828673"}
}

func ExampleParse() {
	id, err := snowflake.Parse("683282320588828673")
	fmt.Println(id, err)

	for _, s := range []string{"-1", "0x1f", "9223372036854775808"} {
		_, err := snowflake.Parse(s)
		fmt.Println(errors.Is(err, snowflake.ErrSyntax), errors.Is(err, snowflake.ErrRange))
	}
	// Output:
	// 683282320588828673 <nil>
	// true false
	// true false
	// false true
}

// A layout like Sonyflake's: 10 ms ticks for 174 years, 65536 nodes, 256 IDs
// per node and tick.
func ExampleLayout_Compose() {
	l := snowflake.Layout{
		TimeBits: 39, NodeBits: 16, SeqBits: 8,
		Epoch: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Tick:  10 * time.Millisecond,
	}
	id, err := l.Compose(snowflake.Parts{
		Time: time.Date(2024, 1, 1, 0, 0, 1, 25e6, time.UTC), Node: 300, Seq: 2,
	})
	fmt.Println(id, err)
	fmt.Printf("%+v\n", l.Decompose(id))
	fmt.Println(l.End().Year())
	// Output:
	// 1711352834 <nil>
	// {Time:2024-01-01 00:00:01.02 +0000 UTC Node:300 Seq:2}
	// 2198
}

// After a restart, pass the last ID issued (or a persisted mark ahead of it)
// as After; MaxWait decides whether a clock that went backwards is waited
// for or reported.
func ExampleNewGenerator_restart() {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old, err := snowflake.NewGenerator(7, snowflake.Options{Clock: &stillClock{now: start.Add(3 * time.Second)}})
	if err != nil {
		panic(err)
	}
	last, err := old.Next()
	if err != nil {
		panic(err)
	}

	// The new process's clock reads 3 s earlier than the last ID.
	strict, err := snowflake.NewGenerator(7, snowflake.Options{Clock: &stillClock{now: start}, After: last})
	if err != nil {
		panic(err)
	}
	_, err = strict.Next() // without MaxWait, this error is the point
	fmt.Println(errors.Is(err, snowflake.ErrClockBehind))

	patient, err := snowflake.NewGenerator(7, snowflake.Options{
		Clock: &stillClock{now: start}, After: last, MaxWait: 5 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	id, err := patient.Next()
	fmt.Println(id > last, err)
	// Output:
	// true
	// true <nil>
}

func ExampleNodeFromIP() {
	node, err := snowflake.NodeFromIP(netip.MustParseAddr("10.0.3.7"), snowflake.DefaultLayout())
	fmt.Println(node, err)
	_, err = snowflake.NodeFromIP(netip.MustParseAddr("8.8.8.8"), snowflake.DefaultLayout())
	fmt.Println(err)
	// Output:
	// 775 <nil>
	// snowflake: no private IP address: 8.8.8.8
}

// NextN fills a slice; a batch larger than what is left of the current
// tick's sequence continues in the next tick.
func ExampleGenerator_NextN() {
	clock := &stillClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 20, 2 // 4 IDs per millisecond, to show the wrap
	g, err := snowflake.NewGenerator(1, snowflake.Options{Layout: l, Clock: clock})
	if err != nil {
		panic(err)
	}

	ids := make([]snowflake.ID, 6)
	if err := g.NextN(ids); err != nil {
		panic(err)
	}
	for _, id := range ids {
		p := l.Decompose(id)
		fmt.Println(p.Time.Format("15:04:05.000"), p.Seq)
	}
	// Output:
	// 12:00:00.000 0
	// 12:00:00.000 1
	// 12:00:00.000 2
	// 12:00:00.000 3
	// 12:00:00.001 0
	// 12:00:00.001 1
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// tourClock is a clock that the tour moves by hand, so that the IDs it
// prints are the same on every run. Sleep advances it, as time would.
type tourClock struct{ now time.Time }

func (c *tourClock) Now() time.Time        { return c.now }
func (c *tourClock) Sleep(d time.Duration) { c.now = c.now.Add(d) }

// tourIDs makes snowflake IDs on node 7, decomposes one, shows its JSON form
// and how a restart below the last ID is refused.
func tourIDs(out *tourWriter) error {
	clock := &tourClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	g, err := snowflake.NewGenerator(7, snowflake.Options{Clock: clock})
	if err != nil {
		return err
	}
	l := g.Layout()
	out.Step("generator: node %d, layout %d/%d/%d bits, epoch %s, good until %s",
		g.Node(), l.TimeBits, l.NodeBits, l.SeqBits, l.Epoch.Format(time.DateOnly), l.End().Format(time.DateOnly))

	var last snowflake.ID
	for range 3 {
		if last, err = g.Next(); err != nil {
			return err
		}
		out.Step("Next() = %v", last)
	}
	clock.now = clock.now.Add(1500 * time.Microsecond)
	if last, err = g.Next(); err != nil {
		return err
	}
	out.Step("1.5 ms later: Next() = %v", last)

	batch := make([]snowflake.ID, 4096)
	if err := g.NextN(batch); err != nil {
		return err
	}
	// The batch fills the rest of this millisecond, then waits for the next.
	split := 1
	for split < len(batch) && l.Decompose(batch[split]).Seq != 0 {
		split++
	}
	for _, run := range [][]snowflake.ID{batch[:split], batch[split:]} {
		a, b := l.Decompose(run[0]), l.Decompose(run[len(run)-1])
		out.Step("NextN(4096): %4d IDs at %s, sequence %d..%d",
			len(run), a.Time.Format("15:04:05.000"), a.Seq, b.Seq)
	}

	p := l.Decompose(last)
	out.Step("Decompose(%v) = time %s, node %d, seq %d", last, p.Time.Format(time.RFC3339Nano), p.Node, p.Seq)

	data, err := json.Marshal(map[string]snowflake.ID{"id": last})
	if err != nil {
		return err
	}
	out.Step("JSON: %s (a string: JavaScript numbers stop being exact at 2^53)", data)
	var back snowflake.ID
	if err := json.Unmarshal([]byte(fmt.Sprint(int64(last))), &back); err != nil || back != last {
		return fmt.Errorf("decoding a JSON number: %v, %v", back, err)
	}
	out.Step("UnmarshalJSON also takes a number: %v", back)

	for _, s := range []string{"-1", "0012", "9223372036854775808"} {
		_, err := snowflake.Parse(s)
		out.Step("Parse(%q): %v", s, err)
	}

	// A restart whose clock reads 10 s behind the last ID.
	clock.now = clock.now.Add(-10 * time.Second)
	restarted, err := snowflake.NewGenerator(7, snowflake.Options{Clock: clock, After: batch[len(batch)-1]})
	if err != nil {
		return err
	}
	_, err = restarted.Next()
	if !errors.Is(err, snowflake.ErrClockBehind) {
		return fmt.Errorf("restart below the high-water mark: got %v, want ErrClockBehind", err)
	}
	out.Step("restart 10 s behind the last ID: %v", err)
	return nil
}

package snowflake_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

func TestDefaultLayout(t *testing.T) {
	l := snowflake.DefaultLayout()
	if err := l.Validate(); err != nil {
		t.Fatalf("DefaultLayout().Validate() = %v", err)
	}
	if l.MaxNode() != 1023 || l.MaxSeq() != 4095 {
		t.Errorf("MaxNode, MaxSeq = %d, %d; want 1023, 4095", l.MaxNode(), l.MaxSeq())
	}
	// 2^41 ms after 2021-01-01 is 2090-09-07T15:47:35.552Z.
	if want := time.Date(2090, 9, 7, 15, 47, 35, 552e6, time.UTC); !l.End().Equal(want) {
		t.Errorf("End() = %v, want %v", l.End(), want)
	}
}

func TestLayoutValidate(t *testing.T) {
	def := snowflake.DefaultLayout()
	with := func(f func(*snowflake.Layout)) snowflake.Layout {
		l := def
		f(&l)
		return l
	}
	for _, c := range []struct {
		name string
		l    snowflake.Layout
		ok   bool
	}{
		{"default", def, true},
		{"zero tick means 1ms", with(func(l *snowflake.Layout) { l.Tick = 0 }), true},
		{"sonyflake-like 39/16/8 10ms", with(func(l *snowflake.Layout) {
			l.TimeBits, l.NodeBits, l.SeqBits, l.Tick = 39, 16, 8, 10*time.Millisecond
		}), true},
		{"no node bits", with(func(l *snowflake.Layout) { l.NodeBits, l.SeqBits = 0, 22 }), true},
		{"43 bits of ms fit (278 years)", with(func(l *snowflake.Layout) { l.TimeBits, l.SeqBits = 43, 10 }), true},
		{"62 bits of ns fit", with(func(l *snowflake.Layout) {
			l.TimeBits, l.NodeBits, l.SeqBits, l.Tick = 62, 0, 1, time.Nanosecond
		}), true},
		{"zero", snowflake.Layout{}, false},
		{"sum 62", with(func(l *snowflake.Layout) { l.SeqBits = 11 }), false},
		{"sum 64", with(func(l *snowflake.Layout) { l.SeqBits = 13 }), false},
		{"no time bits", with(func(l *snowflake.Layout) { l.TimeBits, l.SeqBits = 0, 53 }), false},
		{"no seq bits", with(func(l *snowflake.Layout) { l.NodeBits, l.SeqBits = 22, 0 }), false},
		{"negative node bits", with(func(l *snowflake.Layout) { l.NodeBits, l.SeqBits = -1, 23 }), false},
		{"no epoch", with(func(l *snowflake.Layout) { l.Epoch = time.Time{} }), false},
		{"negative tick", with(func(l *snowflake.Layout) { l.Tick = -time.Millisecond }), false},
		{"44 bits of ms overflow (557 years)", with(func(l *snowflake.Layout) { l.TimeBits, l.SeqBits = 44, 9 }), false},
		{"41 bits of hours overflow", with(func(l *snowflake.Layout) { l.Tick = time.Hour }), false},
	} {
		err := c.l.Validate()
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, snowflake.ErrLayout)) {
			t.Errorf("%s: Validate() = %v, want ok=%v", c.name, err, c.ok)
		}
		if c.l == (snowflake.Layout{}) {
			continue // means DefaultLayout() in Options
		}
		if _, err := snowflake.NewGenerator(0, snowflake.Options{Layout: c.l}); !c.ok && !errors.Is(err, snowflake.ErrLayout) {
			t.Errorf("%s: NewGenerator = %v, want ErrLayout", c.name, err)
		}
	}
}

// randomLayout returns a valid layout with random widths, tick and epoch.
func randomLayout(r *rand.Rand) snowflake.Layout {
	for {
		l := snowflake.Layout{
			TimeBits: 1 + r.IntN(62),
			Epoch:    time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC(),
			Tick:     []time.Duration{0, time.Nanosecond, time.Microsecond, time.Millisecond, 10 * time.Millisecond, time.Second}[r.IntN(6)],
		}
		l.NodeBits = r.IntN(63 - l.TimeBits)
		l.SeqBits = 63 - l.TimeBits - l.NodeBits
		if l.Validate() == nil {
			return l
		}
	}
}

// TestComposeDecompose is a property test: on random valid layouts, random
// parts survive Compose then Decompose (the time rounded down to its tick),
// and IDs order as their (time, node, seq) triples do.
func TestComposeDecompose(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 1))
	randomParts := func(l snowflake.Layout) snowflake.Parts {
		tick := l.Tick
		if tick == 0 {
			tick = time.Millisecond
		}
		span := int64(l.End().Sub(l.Epoch))
		return snowflake.Parts{
			Time: l.Epoch.Add(time.Duration(r.Int64N(span))),
			Node: r.Int64N(l.MaxNode() + 1),
			Seq:  r.Int64N(l.MaxSeq() + 1),
		}
	}
	for range 2000 {
		l := randomLayout(r)
		tick := l.Tick
		if tick == 0 {
			tick = time.Millisecond
		}
		p, q := randomParts(l), randomParts(l)
		a, err := l.Compose(p)
		if err != nil {
			t.Fatalf("%+v.Compose(%+v) = %v", l, p, err)
		}
		b, err := l.Compose(q)
		if err != nil {
			t.Fatalf("%+v.Compose(%+v) = %v", l, q, err)
		}
		if a < 0 {
			t.Fatalf("%+v.Compose(%+v) = %d, negative", l, p, a)
		}
		got := l.Decompose(a)
		want := p
		want.Time = l.Epoch.Add(p.Time.Sub(l.Epoch) / tick * tick)
		if !got.Time.Equal(want.Time) || got.Node != want.Node || got.Seq != want.Seq {
			t.Fatalf("%+v: Decompose(Compose(%+v)) = %+v, want %+v", l, p, got, want)
		}
		if again, err := l.Compose(got); err != nil || again != a {
			t.Fatalf("%+v: Compose(Decompose(%d)) = %d, %v", l, a, again, err)
		}
		if cmpParts(l.Decompose(a), l.Decompose(b)) != cmpInt(int64(a), int64(b)) {
			t.Fatalf("%+v: order of %d and %d differs from %+v vs %+v", l, a, b, p, q)
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpParts(p, q snowflake.Parts) int {
	if c := p.Time.Compare(q.Time); c != 0 {
		return c
	}
	if c := cmpInt(p.Node, q.Node); c != 0 {
		return c
	}
	return cmpInt(p.Seq, q.Seq)
}

func TestComposeRejects(t *testing.T) {
	l := snowflake.DefaultLayout()
	ok := snowflake.Parts{Time: l.Epoch, Node: 0, Seq: 0}
	with := func(f func(*snowflake.Parts)) snowflake.Parts {
		p := ok
		f(&p)
		return p
	}
	if id, err := l.Compose(ok); err != nil || id != 0 {
		t.Fatalf("Compose(epoch, 0, 0) = %v, %v; want 0", id, err)
	}
	last := snowflake.Parts{Time: l.End().Add(-time.Nanosecond), Node: l.MaxNode(), Seq: l.MaxSeq()}
	if id, err := l.Compose(last); err != nil || id != 1<<63-1 {
		t.Fatalf("Compose(last) = %v, %v; want MaxInt64", id, err)
	}
	for _, p := range []snowflake.Parts{
		with(func(p *snowflake.Parts) { p.Time = l.Epoch.Add(-time.Nanosecond) }),
		with(func(p *snowflake.Parts) { p.Time = l.End() }),
		with(func(p *snowflake.Parts) { p.Time = time.Time{} }),
		with(func(p *snowflake.Parts) { p.Node = -1 }),
		with(func(p *snowflake.Parts) { p.Node = 1024 }),
		with(func(p *snowflake.Parts) { p.Seq = -1 }),
		with(func(p *snowflake.Parts) { p.Seq = 4096 }),
	} {
		if id, err := l.Compose(p); !errors.Is(err, snowflake.ErrRange) {
			t.Errorf("Compose(%+v) = %v, %v; want ErrRange", p, id, err)
		}
	}
	if _, err := (snowflake.Layout{}).Compose(ok); !errors.Is(err, snowflake.ErrLayout) {
		t.Errorf("zero Layout.Compose = %v, want ErrLayout", err)
	}
}

func TestLayoutEqual(t *testing.T) {
	l := snowflake.DefaultLayout()
	m := l
	m.Epoch = l.Epoch.In(time.FixedZone("UTC+3", 3*3600))
	if l == m || !l.Equal(m) {
		t.Errorf("same epoch in another zone: == %v, Equal %v; want false, true", l == m, l.Equal(m))
	}
	m = l
	m.Tick = 0
	if !l.Equal(m) {
		t.Error("a zero Tick should equal an explicit millisecond")
	}
	// An epoch carrying a monotonic reading, as time.Now returns.
	now := time.Now()
	a, b := l, l
	a.Epoch, b.Epoch = now, now.Round(0)
	if a == b || !a.Equal(b) {
		t.Errorf("epoch with and without monotonic reading: == %v, Equal %v", a == b, a.Equal(b))
	}
	for _, change := range []func(*snowflake.Layout){
		func(x *snowflake.Layout) { x.TimeBits, x.NodeBits = 40, 11 },
		func(x *snowflake.Layout) { x.NodeBits, x.SeqBits = 9, 13 },
		func(x *snowflake.Layout) { x.Epoch = x.Epoch.Add(time.Nanosecond) },
		func(x *snowflake.Layout) { x.Tick = 10 * time.Millisecond },
	} {
		m := l
		change(&m)
		if l.Equal(m) || m.Equal(l) {
			t.Errorf("Equal(%+v, %+v) = true", l, m)
		}
	}
}

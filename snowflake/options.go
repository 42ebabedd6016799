package snowflake

import "time"

// A Clock is a [Generator]'s source of time. Tests pass a fake one; the zero
// Options use the system clock.
type Clock interface {
	// Now returns the current time. The generator reads it once in
	// NewGenerator (start) and then measures time as start plus
	// Now().Sub(start). When both readings carry Go's monotonic clock
	// reading, as those from time.Now do, Sub uses it, so stepping the wall
	// clock changes nothing; a fake clock without one can step freely,
	// backwards included.
	Now() time.Time
	// Sleep pauses the calling goroutine for d. The generator calls it only
	// to wait for the clock to reach a later tick, and reads Now again
	// afterwards, so a fake clock's Sleep must advance its Now by d (or let
	// another goroutine do so); otherwise Next waits forever.
	Sleep(d time.Duration)
}

// Options configure a [Generator]. The zero value is ready to use: the
// default layout, the system clock, no high-water mark, no waiting.
type Options struct {
	// Layout of the IDs; the zero Layout means DefaultLayout().
	Layout Layout

	// Clock is the source of time; nil means the system clock, read through
	// its monotonic reading (time.Since), so wall-clock steps in the process
	// change nothing.
	Clock Clock

	// After is a high-water mark: the generator never issues an ID <= After.
	// Pass the last ID this node issued before a restart, or a mark persisted
	// ahead of it, so that a clock that went backwards across the restart
	// cannot repeat an ID. After must not be negative; zero means no mark.
	After ID

	// MaxWait bounds how long Next may wait when the clock reads more than
	// one tick behind the last ID issued (or After). Zero means not at all:
	// Next returns ErrClockBehind at once. Waits of up to one tick, such as
	// for the next millisecond when the sequence is used up, always happen.
	MaxWait time.Duration
}

package snowflake

import "errors"

// Errors returned by this package. They are sentinel values: test for them
// with [errors.Is], since most are wrapped with detail.
var (
	// ErrSyntax reports text that is not the canonical decimal form of an ID:
	// empty, a sign, a leading zero, a character other than a digit, or (in
	// JSON) something other than a string or a number.
	ErrSyntax = errors.New("snowflake: invalid syntax")

	// ErrRange reports a number that does not fit: a decimal ID above
	// math.MaxInt64, or a part outside its field in [Layout.Compose].
	ErrRange = errors.New("snowflake: value out of range")

	// ErrLayout reports a [Layout] that [Layout.Validate] rejects.
	ErrLayout = errors.New("snowflake: invalid layout")

	// ErrNode reports a node number that is missing, malformed or does not fit
	// the layout's node field.
	ErrNode = errors.New("snowflake: invalid node")

	// ErrNotPrivate reports an address that is not a private (RFC 1918 or
	// RFC 4193) IP address, or a host that has none.
	ErrNotPrivate = errors.New("snowflake: no private IP address")

	// ErrClockBehind reports that the clock reads earlier than the last ID the
	// generator issued (or the Options.After mark) and would not catch up
	// within Options.MaxWait, or reads before the layout's epoch.
	ErrClockBehind = errors.New("snowflake: clock is behind the last ID")

	// ErrExhausted reports that the layout's timestamp field is used up: the
	// clock has passed the last tick the field can hold ([Layout.End]). A
	// generator never wraps around.
	ErrExhausted = errors.New("snowflake: timestamp field exhausted")
)

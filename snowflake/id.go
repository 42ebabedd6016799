package snowflake

import (
	"fmt"
	"math"
	"strconv"
)

// An ID is a 63-bit, time-ordered identifier: a timestamp, a node number and a
// sequence number packed by a [Layout] into a non-negative int64. IDs from one
// generator increase strictly; IDs from generators that share a layout and
// differ in node never collide, and sort by time to within one tick.
//
// An ID does not know its layout: decode it with the [Layout] that made it
// ([Layout.Decompose]). Its text forms are the canonical decimal
// ([ID.String], [Parse]) and, in JSON, that decimal as a string, because
// JavaScript numbers lose integers above 2^53.
type ID int64

// maxDigits is the length of math.MaxInt64 in decimal.
const maxDigits = 19

// Int64 returns id as a plain int64.
func (id ID) Int64() int64 { return int64(id) }

// String returns the decimal form of id, such as "1234567890123456789".
func (id ID) String() string { return strconv.FormatInt(int64(id), 10) }

// AppendText appends the decimal form of id to b and returns the extended
// buffer; it implements [encoding.TextAppender]. It does not allocate when b
// has room for 19 bytes. A negative id is not an ID and has no text form that
// [Parse] accepts, so AppendText returns b unchanged and an error wrapping
// [ErrRange] for one, rather than output that cannot be read back.
func (id ID) AppendText(b []byte) ([]byte, error) {
	if id < 0 {
		return b, negativeError(id)
	}
	return strconv.AppendInt(b, int64(id), 10), nil
}

// MarshalText returns the decimal form of id; it implements
// [encoding.TextMarshaler]. Like [ID.AppendText], it returns an error
// wrapping [ErrRange] for a negative id.
func (id ID) MarshalText() ([]byte, error) {
	if id < 0 {
		return nil, negativeError(id)
	}
	return id.AppendText(make([]byte, 0, maxDigits))
}

// negativeError is the error for formatting a negative id.
func negativeError(id ID) error {
	return fmt.Errorf("%w: negative ID %d has no text form", ErrRange, int64(id))
}

// UnmarshalText sets *id from its canonical decimal form, with the same rules
// as [Parse]; it implements [encoding.TextUnmarshaler]. On error *id is left
// unchanged.
func (id *ID) UnmarshalText(text []byte) error {
	v, err := parseDecimal(text)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// AppendJSON appends the JSON form of id, its decimal in double quotes, to b.
// It does not allocate when b has room for 21 bytes. Like [ID.AppendText], it
// returns b unchanged and an error wrapping [ErrRange] for a negative id.
func (id ID) AppendJSON(b []byte) ([]byte, error) {
	if id < 0 {
		return b, negativeError(id)
	}
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(id), 10)
	return append(b, '"'), nil
}

// MarshalJSON returns id as a JSON string such as "1234567890123456789"; it
// implements [encoding/json.Marshaler]. A string, not a number, because
// JavaScript numbers hold integers exactly only up to 2^53. It returns an
// error wrapping [ErrRange] for a negative id, so encoding/json fails rather
// than write a value that [ID.UnmarshalJSON] rejects.
func (id ID) MarshalJSON() ([]byte, error) {
	if id < 0 {
		return nil, negativeError(id)
	}
	return id.AppendJSON(make([]byte, 0, maxDigits+2))
}

// UnmarshalJSON sets *id from a JSON string holding a canonical decimal
// ("123") or from a JSON number written as a plain integer (123); it
// implements [encoding/json.Unmarshaler]. JSON null leaves *id unchanged, as
// encoding/json does for other types. Escapes, fractions, exponents, signs,
// leading zeros and surrounding space are rejected with [ErrSyntax], values
// above math.MaxInt64 with [ErrRange]. On error *id is left unchanged.
func (id *ID) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	digits := data
	if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' {
		digits = data[1 : len(data)-1]
	}
	v, err := parseDecimal(digits)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Parse returns the ID whose canonical decimal form is s, the inverse of
// [ID.String]. It accepts only the digits 0-9, without a sign and without
// leading zeros (so each ID has exactly one text form), and returns an error
// wrapping [ErrSyntax] for anything else, or [ErrRange] for a value above
// math.MaxInt64. Parse does not allocate unless it fails.
func Parse(s string) (ID, error) { return parseDecimal(s) }

func parseDecimal[T string | []byte](s T) (ID, error) {
	if len(s) == 0 {
		return 0, fmt.Errorf("%w: empty", ErrSyntax)
	}
	if s[0] == '0' && len(s) > 1 {
		return 0, fmt.Errorf("%w: leading zero in %s", ErrSyntax, quote(s))
	}
	// Validate every byte first, so junk is a syntax error even in a long
	// input; then accumulate at most maxDigits digits, which cannot overflow a
	// uint64 (10^19 < 2^64).
	for i := 0; i < len(s); i++ {
		if s[i]-'0' > 9 {
			return 0, fmt.Errorf("%w: %s is not a decimal ID", ErrSyntax, quote(s))
		}
	}
	if len(s) > maxDigits {
		return 0, fmt.Errorf("%w: %s exceeds the largest ID", ErrRange, quote(s))
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v*10 + uint64(s[i]-'0')
	}
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %s exceeds the largest ID", ErrRange, quote(s))
	}
	return ID(v), nil
}

// quote returns s quoted for an error message, shortened if long.
func quote[T string | []byte](s T) string {
	const limit = 40
	if len(s) > limit {
		return strconv.Quote(string(s[:limit])) + "..."
	}
	return strconv.Quote(string(s))
}

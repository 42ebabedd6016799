package snowflake_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/blueprint-go/blueprint/snowflake"
)

// checkDecimal is the oracle for the decimal parsers: s is accepted exactly
// when strconv accepts it as a non-negative int64 written without sign or
// leading zero, and then its value agrees; errors are ErrSyntax or ErrRange.
func checkDecimal(t *testing.T, s string, got snowflake.ID, err error) {
	t.Helper()
	v, serr := strconv.ParseInt(s, 10, 64)
	canonical := serr == nil && v >= 0 && strconv.FormatInt(v, 10) == s
	switch {
	case canonical && (err != nil || int64(got) != v):
		t.Fatalf("%q: got %d, %v; want %d", s, got, err, v)
	case !canonical && err == nil:
		t.Fatalf("%q: accepted as %d, want an error", s, got)
	case err != nil && !errors.Is(err, snowflake.ErrSyntax) && !errors.Is(err, snowflake.ErrRange):
		t.Fatalf("%q: error %v is neither ErrSyntax nor ErrRange", s, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "123", "9223372036854775807", "9223372036854775808", "", "-1", "+1", "01", "1a", " 1", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := snowflake.Parse(s)
		checkDecimal(t, s, id, err)
		if err == nil && id.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, id.String())
		}
	})
}

func FuzzUnmarshalText(f *testing.F) {
	for _, s := range []string{"0", "42", "9223372036854775807", "9223372036854775808", "", "-0", "00", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const before snowflake.ID = 77
		id := before
		err := id.UnmarshalText(data)
		if err != nil && id != before {
			t.Fatalf("UnmarshalText(%q) failed but changed the ID to %d", data, id)
		}
		if err != nil {
			id = 0
		}
		checkDecimal(t, string(data), id, err)
		if err == nil {
			if text, _ := id.MarshalText(); string(text) != string(data) {
				t.Fatalf("UnmarshalText(%q) then MarshalText = %q", data, text)
			}
		}
	})
}

func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`"0"`, `"123"`, `123`, `null`, `""`, `"-1"`, `-1`, `1e3`, `"\u0031"`, `"9223372036854775808"`, `"`, `true`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const before snowflake.ID = 77
		id := before
		err := id.UnmarshalJSON(data)
		if err != nil && id != before {
			t.Fatalf("UnmarshalJSON(%q) failed but changed the ID to %d", data, id)
		}
		if string(data) == "null" {
			if err != nil || id != before {
				t.Fatalf("UnmarshalJSON(null) = %v, ID %d; want a no-op", err, id)
			}
			return
		}
		// The digits are the whole input or, quoted, the part inside.
		digits := string(data)
		if len(digits) >= 2 && digits[0] == '"' && digits[len(digits)-1] == '"' {
			digits = digits[1 : len(digits)-1]
		}
		if err != nil {
			id = 0
		}
		checkDecimal(t, digits, id, err)
		if err == nil {
			out, _ := id.MarshalJSON()
			var back snowflake.ID
			if err := back.UnmarshalJSON(out); err != nil || back != id || string(out) != `"`+digits+`"` {
				t.Fatalf("UnmarshalJSON(%q) = %d, MarshalJSON = %s, back %d, %v", data, id, out, back, err)
			}
		}
	})
}

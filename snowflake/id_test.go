package snowflake_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/blueprint-go/blueprint/snowflake"
)

// seed returns the seed of a property test: $SEED if set, else a fresh one,
// logged so a failure can be replayed with SEED=n go test ...
func seed(t *testing.T) uint64 {
	t.Helper()
	s := rand.Uint64()
	if env := os.Getenv("SEED"); env != "" {
		v, err := strconv.ParseUint(env, 10, 64)
		if err != nil {
			t.Fatalf("SEED=%q: %v", env, err)
		}
		s = v
	}
	t.Logf("SEED=%d", s)
	return s
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want snowflake.ID
		err  error
	}{
		{"0", 0, nil},
		{"7", 7, nil},
		{"1234567890123456789", 1234567890123456789, nil},
		{"9223372036854775807", math.MaxInt64, nil},
		{"", 0, snowflake.ErrSyntax},
		{"-1", 0, snowflake.ErrSyntax},
		{"+1", 0, snowflake.ErrSyntax},
		{"-0", 0, snowflake.ErrSyntax},
		{"00", 0, snowflake.ErrSyntax},
		{"012", 0, snowflake.ErrSyntax},
		{" 12", 0, snowflake.ErrSyntax},
		{"12 ", 0, snowflake.ErrSyntax},
		{"12a", 0, snowflake.ErrSyntax},
		{"1.0", 0, snowflake.ErrSyntax},
		{"1e3", 0, snowflake.ErrSyntax},
		{"0x1F", 0, snowflake.ErrSyntax},
		{"1_000", 0, snowflake.ErrSyntax},
		{"١٢", 0, snowflake.ErrSyntax}, // Arabic-Indic digits
		{"99999999999999999999x", 0, snowflake.ErrSyntax},
		{"9223372036854775808", 0, snowflake.ErrRange},
		{"18446744073709551616", 0, snowflake.ErrRange},
		{"99999999999999999999999999", 0, snowflake.ErrRange},
	} {
		got, err := snowflake.Parse(c.in)
		if err != nil && len(err.Error()) > 100 {
			t.Errorf("Parse(%q) error %q is too long", c.in, err)
		}
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Parse(%q) = %v, %v; want error %v", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestUnmarshalJSON(t *testing.T) {
	const before snowflake.ID = 42
	for _, c := range []struct {
		in   string
		want snowflake.ID
		err  error
	}{
		{`"123"`, 123, nil},
		{`123`, 123, nil},
		{`"0"`, 0, nil},
		{`0`, 0, nil},
		{`"9223372036854775807"`, math.MaxInt64, nil},
		{`null`, before, nil}, // no-op, as encoding/json does
		{`""`, 0, snowflake.ErrSyntax},
		{``, 0, snowflake.ErrSyntax},
		{`"`, 0, snowflake.ErrSyntax},
		{`"12`, 0, snowflake.ErrSyntax},
		{`12"`, 0, snowflake.ErrSyntax},
		{`"-1"`, 0, snowflake.ErrSyntax},
		{`-1`, 0, snowflake.ErrSyntax},
		{`1e3`, 0, snowflake.ErrSyntax},
		{`1.0`, 0, snowflake.ErrSyntax},
		{`"\u0031"`, 0, snowflake.ErrSyntax},
		{`" 1"`, 0, snowflake.ErrSyntax},
		{` 1`, 0, snowflake.ErrSyntax},
		{`true`, 0, snowflake.ErrSyntax},
		{`"null"`, 0, snowflake.ErrSyntax},
		{`["1"]`, 0, snowflake.ErrSyntax},
		{`"9223372036854775808"`, 0, snowflake.ErrRange},
		{`9223372036854775808`, 0, snowflake.ErrRange},
	} {
		id := before
		err := id.UnmarshalJSON([]byte(c.in))
		if c.err != nil {
			if !errors.Is(err, c.err) || id != before {
				t.Errorf("UnmarshalJSON(%s) = %v, id %v; want error %v, id unchanged", c.in, err, id, c.err)
			}
			continue
		}
		if err != nil || id != c.want {
			t.Errorf("UnmarshalJSON(%s) = %v, id %v; want %v", c.in, err, id, c.want)
		}
	}
}

// TestTextForms checks every text form against strconv and encoding/json on
// random IDs of every length.
func TestTextForms(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 0))
	for i := range 10000 {
		// Spread over all magnitudes: shift a random value right by 0-63.
		id := snowflake.ID(r.Int64() >> (i % 64))
		want := strconv.FormatInt(int64(id), 10)

		if id.Int64() != int64(id) {
			t.Fatalf("ID(%d).Int64() = %d", int64(id), id.Int64())
		}
		if got := id.String(); got != want {
			t.Fatalf("ID(%d).String() = %q", int64(id), got)
		}
		if got, _ := id.AppendText([]byte("x")); string(got) != "x"+want {
			t.Fatalf("ID(%d).AppendText = %q", int64(id), got)
		}
		if got, err := snowflake.Parse(want); err != nil || got != id {
			t.Fatalf("Parse(%q) = %v, %v", want, got, err)
		}
		text, _ := id.MarshalText()
		var fromText snowflake.ID
		if err := fromText.UnmarshalText(text); string(text) != want || err != nil || fromText != id {
			t.Fatalf("MarshalText = %q, UnmarshalText = %v, %v; want %q", text, fromText, err, want)
		}

		// In a struct through encoding/json: a string, readable from a
		// string or a number.
		type doc struct {
			ID snowflake.ID `json:"id"`
		}
		data, err := json.Marshal(doc{id})
		if err != nil || string(data) != `{"id":"`+want+`"}` {
			t.Fatalf("json.Marshal = %s, %v", data, err)
		}
		for _, in := range []string{string(data), `{"id":` + want + `}`} {
			var d doc
			if err := json.Unmarshal([]byte(in), &d); err != nil || d.ID != id {
				t.Fatalf("json.Unmarshal(%s) = %v, %v", in, d.ID, err)
			}
		}
		if got := id.AppendJSON(nil); string(got) != `"`+want+`"` {
			t.Fatalf("AppendJSON = %s", got)
		}
	}
}

func TestTextFormsDoNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 32)
	const id snowflake.ID = math.MaxInt64
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = id.AppendText(buf[:0])
		buf = id.AppendJSON(buf[:0])
		if _, err := snowflake.Parse("9223372036854775807"); err != nil {
			t.Fatal(err)
		}
		var v snowflake.ID
		if err := v.UnmarshalJSON([]byte(`"9223372036854775807"`)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendText, AppendJSON, Parse, UnmarshalJSON allocate %v times, want 0", allocs)
	}
}

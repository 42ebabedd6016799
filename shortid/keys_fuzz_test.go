package shortid_test

import (
	"errors"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// FuzzReverse checks that Reverse never panics on outside input, accepts
// exactly the well-formed codes of a two-key ring (7 base-62 characters)
// and that an accepted code is the one its counter value encodes.
func FuzzReverse(f *testing.F) {
	for _, s := range []string{"", "0000000", "ZZZZZZZ", "lnoPw2f", "abc-efg", "abcdefgh", "é123456", "\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add(s)
	}
	seq, err := shortid.NewSequence(new(shortid.MemCounter), shortid.SequenceOptions{
		Keys: []shortid.Key{testKey(1, 0, "fuzz one"), testKey(2, 1<<40, "fuzz two")},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, code string) {
		counter, version, err := seq.Reverse(code)
		wellFormed := len(code) == 7
		for i := 0; i < len(code); i++ {
			if _, derr := shortid.Decode(code[i : i+1]); derr != nil {
				wellFormed = false
			}
		}
		switch {
		case err == nil:
			if !wellFormed {
				t.Fatalf("Reverse(%q) accepted a malformed code", code)
			}
			again, aerr := seq.AppendCode(nil, counter)
			if aerr != nil || string(again) != code {
				t.Fatalf("Reverse(%q) = %d (key %d), whose code is %q, %v", code, counter, version, again, aerr)
			}
		case errors.Is(err, shortid.ErrForeignCode):
			if !wellFormed {
				t.Fatalf("Reverse(%q) = %v for a malformed code", code, err)
			}
		case errors.Is(err, shortid.ErrInvalidCode):
			if wellFormed {
				t.Fatalf("Reverse(%q) = %v for a well-formed code", code, err)
			}
		default:
			t.Fatalf("Reverse(%q) = unexpected error %v", code, err)
		}
	})
}

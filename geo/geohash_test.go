package geo

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestGeohashVectors(t *testing.T) {
	// Published examples: geohash.org's "ezs42" (Wikipedia) and
	// "u4pruydqqvj" for 57.64911,10.40744 (Jutland).
	cases := []struct {
		p    LatLng
		hash string
	}{
		{LatLng{42.6, -5.6}, "ezs42"},
		{LatLng{57.64911, 10.40744}, "u4pruydqqvj"},
		{LatLng{-90, -180}, "000000000000"},
		{LatLng{90, 179.9999999}, "zzzzzzzzzzzz"},
		// 180 is -180's meridian and gets its cell, in the westmost column.
		{LatLng{90, 180}, "bpbpbpbpbpbp"},
		{LatLng{90, -180}, "bpbpbpbpbpbp"},
	}
	for _, c := range cases {
		got, err := EncodeGeohash(c.p, len(c.hash))
		if err != nil || got != c.hash {
			t.Errorf("EncodeGeohash(%v, %d) = %q, %v; want %q", c.p, len(c.hash), got, err, c.hash)
		}
		b, err := DecodeGeohash(c.hash)
		if err != nil || !b.Contains(c.p) {
			t.Errorf("DecodeGeohash(%q) = %+v, %v; want a box containing %v", c.hash, b, err, c.p)
		}
	}
	b, _ := DecodeGeohash("ezs42")
	if c := b.Center(); !near(c.Lat, 42.605, 0.001) || !near(c.Lng, -5.603, 0.001) {
		t.Errorf("center of ezs42 = %v", c)
	}
}

func TestGeohashRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 4))
	for range 5000 {
		p := LatLng{r.Float64()*180 - 90, r.Float64()*360 - 180}
		n := 1 + r.IntN(MaxGeohashPrecision)
		h, err := EncodeGeohash(p, n)
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeGeohash(h)
		if err != nil || !b.Contains(p) {
			t.Fatalf("Decode(Encode(%v, %d) = %q) = %+v, %v", p, n, h, b, err)
		}
		// Re-encoding the cell's center gives the same hash.
		if h2, _ := EncodeGeohash(b.Center(), n); h2 != h {
			t.Fatalf("center of %q encodes to %q", h, h2)
		}
		nb, err := GeohashNeighbors(h)
		if err != nil {
			t.Fatal(err)
		}
		if want := wantNeighbors(b, n); nb != want {
			t.Fatalf("GeohashNeighbors(%q) = %q, want %q", h, nb, want)
		}
	}
}

func TestGeohashErrors(t *testing.T) {
	// Upper case is accepted, but not the letters the alphabet omits
	// (a, i, l, o) in either case, nor a Unicode letter that lower-cases
	// to one in it (U+212A KELVIN SIGN to "k").
	bad := []string{"", "a", "ezs4i", "0123456789bcd", "ez s", "A", "EZS4I", "ezs4L", "O", "\u212a", "ezs4\u212a", "ezs4\xcb"}
	for _, h := range bad {
		if _, err := DecodeGeohash(h); !errors.Is(err, ErrInvalidGeohash) {
			t.Errorf("DecodeGeohash(%q) = %v", h, err)
		}
		if _, err := GeohashNeighbors(h); !errors.Is(err, ErrInvalidGeohash) {
			t.Errorf("GeohashNeighbors(%q) = %v", h, err)
		}
	}
	for _, n := range []int{0, -1, 13} {
		if _, err := EncodeGeohash(LatLng{}, n); !errors.Is(err, ErrInvalidPrecision) {
			t.Errorf("EncodeGeohash(precision %d) = %v", n, err)
		}
	}
	if _, err := EncodeGeohash(LatLng{100, 0}, 5); !errors.Is(err, ErrInvalidLatLng) {
		t.Errorf("EncodeGeohash(bad) = %v", err)
	}
}

// FuzzDecodeGeohash checks DecodeGeohash and GeohashNeighbors on any
// string: they never panic, they accept exactly the strings of 1 to 12
// characters from the alphabet in either ASCII case and refuse the rest
// with ErrInvalidGeohash, case never changes the cell, re-encoding the
// cell's center gives the hash back in lower case, and the neighbours are
// the cells one step away, wrapping at ±180 and none beyond a pole.
func FuzzDecodeGeohash(f *testing.F) {
	for _, s := range []string{"ezs42", "u4pruydqqvj", "zzzzzzzzzzzz", "bpbpbpbpbpbp", "", "a", "0", "EZS42", "eZs4I", "\u212a", "ezs4\xcb", "0123456789bcd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		lower := []byte(h)
		valid := len(h) >= 1 && len(h) <= MaxGeohashPrecision
		for i, c := range lower {
			if 'A' <= c && c <= 'Z' {
				lower[i] = c + 'a' - 'A'
			}
			valid = valid && strings.IndexByte(geohashAlphabet, lower[i]) >= 0
		}
		b, err := DecodeGeohash(h)
		nb, nbErr := GeohashNeighbors(h)
		if !valid {
			if !errors.Is(err, ErrInvalidGeohash) || !errors.Is(nbErr, ErrInvalidGeohash) {
				t.Fatalf("DecodeGeohash(%q) = %v, GeohashNeighbors = %v; want ErrInvalidGeohash", h, err, nbErr)
			}
			return
		}
		if err != nil || nbErr != nil {
			t.Fatalf("DecodeGeohash(%q) = %v, GeohashNeighbors = %v; want no error", h, err, nbErr)
		}
		if b.MinLat < -90 || b.MaxLat > 90 || b.MinLng < -180 || b.MaxLng > 180 || b.MinLat >= b.MaxLat || b.MinLng >= b.MaxLng {
			t.Fatalf("DecodeGeohash(%q) = bad box %+v", h, b)
		}
		if lb, _ := DecodeGeohash(string(lower)); lb != b {
			t.Fatalf("DecodeGeohash(%q) = %+v, but %q gives %+v", h, b, lower, lb)
		}
		if again, err := EncodeGeohash(b.Center(), len(h)); err != nil || again != string(lower) {
			t.Fatalf("EncodeGeohash(center of %q) = %q, %v; want %q", h, again, err, lower)
		}
		if want := wantNeighbors(b, len(h)); nb != want {
			t.Fatalf("GeohashNeighbors(%q) = %q, want %q", h, nb, want)
		}
	})
}

// wantNeighbors returns the cells of precision n one step from geohash
// cell b in each [Direction], by encoding the centers of the cells beside
// it: "" beyond a pole, wrapping at ±180.
func wantNeighbors(b Box, n int) [8]string {
	var out [8]string
	w, ht := b.MaxLng-b.MinLng, b.MaxLat-b.MinLat
	c := b.Center()
	steps := [8][2]float64{{0, 1}, {1, 1}, {1, 0}, {1, -1}, {0, -1}, {-1, -1}, {-1, 0}, {-1, 1}}
	for d, s := range steps {
		p := LatLng{c.Lat + s[1]*ht, normLng(c.Lng + s[0]*w)}
		if p.Lat > 90 || p.Lat < -90 {
			continue
		}
		out[d], _ = EncodeGeohash(p, n)
	}
	return out
}

// TestGeohashAntimeridian checks that longitude 180 gets the geohash of
// -180, the same meridian (the package's promise): the cell of (lat, 180)
// equals the cell of (lat, -180) at every precision, the decoded cell
// holds the point, and the neighbours of the cell match those of -180's.
// The plain bisection put 180 in the eastmost column ("zzz..." at the
// north pole) and -180 in the westmost.
func TestGeohashAntimeridian(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 5))
	lats := []float64{-90, -45, 0, 42.6, 89.999999, 90}
	for range 2000 {
		lats = append(lats, r.Float64()*180-90)
	}
	for _, lat := range lats {
		n := 1 + r.IntN(MaxGeohashPrecision)
		east, err1 := EncodeGeohash(LatLng{lat, 180}, n)
		west, err2 := EncodeGeohash(LatLng{lat, -180}, n)
		if err1 != nil || err2 != nil || east != west {
			t.Fatalf("EncodeGeohash(%v, %d): lng 180 gives %q, %v; lng -180 gives %q, %v", lat, n, east, err1, west, err2)
		}
		b, err := DecodeGeohash(east)
		if err != nil || !b.Contains(LatLng{lat, 180}) || b.MinLng != -180 {
			t.Fatalf("DecodeGeohash(%q) = %+v, %v; want the westmost cell holding (%v, 180)", east, b, err, lat)
		}
		nb, err := GeohashNeighbors(east)
		if err != nil {
			t.Fatal(err)
		}
		// West of the westmost column is the eastmost one: the cell
		// just east of 180 - w/2, which names the same meridian's far side.
		w := b.MaxLng - b.MinLng
		if want, _ := EncodeGeohash(LatLng{b.Center().Lat, 180 - w/2}, n); nb[West] != want {
			t.Fatalf("west of %q = %q, want %q", east, nb[West], want)
		}
		if want, _ := EncodeGeohash(LatLng{b.Center().Lat, -180 + 1.5*w}, n); nb[East] != want {
			t.Fatalf("east of %q = %q, want %q", east, nb[East], want)
		}
	}
}

// TestGeohashUpperCase checks that DecodeGeohash and GeohashNeighbors
// take upper and mixed case as the same cell as lower case, as
// geohash.org and most libraries do, and that neighbours come back in
// lower case, as EncodeGeohash writes them.
func TestGeohashUpperCase(t *testing.T) {
	for _, h := range []string{"ezs42", "u4pruydqqvj", "zzzzzzzzzzzz", "bpbpbpbpbpbp", "0", "dr5regw3pg6"} {
		want, err := DecodeGeohash(h)
		if err != nil {
			t.Fatal(err)
		}
		wantNb, err := GeohashNeighbors(h)
		if err != nil {
			t.Fatal(err)
		}
		mixed := []byte(h)
		for i := range mixed {
			if i%2 == 0 {
				mixed[i] = strings.ToUpper(h[i : i+1])[0]
			}
		}
		for _, u := range []string{strings.ToUpper(h), string(mixed)} {
			if got, err := DecodeGeohash(u); err != nil || got != want {
				t.Errorf("DecodeGeohash(%q) = %+v, %v; want %+v as for %q", u, got, err, want, h)
			}
			if got, err := GeohashNeighbors(u); err != nil || got != wantNb {
				t.Errorf("GeohashNeighbors(%q) = %q, %v; want %q as for %q", u, got, err, wantNb, h)
			}
		}
	}
}

// TestGeohashErrorNamesTheCharacter: a non-ASCII character is named whole
// in the error, not by its first byte.
func TestGeohashErrorNamesTheCharacter(t *testing.T) {
	for hash, want := range map[string]string{"ÉZS": `'É' at byte 0`, "ez\uFFFDs": `'�' at byte 2`, "eza": `'a' at byte 2`, "e\xffz": `'�' at byte 1`} {
		_, err := DecodeGeohash(hash)
		if !errors.Is(err, ErrInvalidGeohash) || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeGeohash(%q) = %v, want ErrInvalidGeohash naming %s", hash, err, want)
		}
	}
}

package geo

import (
	"errors"
	"math/rand/v2"
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
		w, ht := b.MaxLng-b.MinLng, b.MaxLat-b.MinLat
		steps := [8][2]float64{{0, 1}, {1, 1}, {1, 0}, {1, -1}, {0, -1}, {-1, -1}, {-1, 0}, {-1, 1}}
		for d, s := range steps {
			c := b.Center()
			want := LatLng{c.Lat + s[1]*ht, normLng(c.Lng + s[0]*w)}
			if want.Lat > 90 || want.Lat < -90 {
				if nb[d] != "" {
					t.Fatalf("neighbour %d of polar cell %q = %q, want none", d, h, nb[d])
				}
				continue
			}
			wh, _ := EncodeGeohash(want, n)
			if nb[d] != wh {
				t.Fatalf("neighbour %d of %q = %q, want %q", d, h, nb[d], wh)
			}
		}
	}
}

func TestGeohashErrors(t *testing.T) {
	for _, h := range []string{"", "a", "ezs4i", "EZS42", "0123456789bcd", "ez s"} {
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

func FuzzDecodeGeohash(f *testing.F) {
	for _, s := range []string{"ezs42", "u4pruydqqvj", "zzzzzzzzzzzz", "", "a", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		b, err := DecodeGeohash(h)
		if err != nil {
			if !errors.Is(err, ErrInvalidGeohash) {
				t.Fatalf("DecodeGeohash(%q) = %v", h, err)
			}
			return
		}
		if b.MinLat < -90 || b.MaxLat > 90 || b.MinLng < -180 || b.MaxLng > 180 || b.MinLat >= b.MaxLat || b.MinLng >= b.MaxLng {
			t.Fatalf("DecodeGeohash(%q) = bad box %+v", h, b)
		}
		if again, err := EncodeGeohash(b.Center(), len(h)); err != nil || again != h {
			t.Fatalf("EncodeGeohash(center of %q) = %q, %v", h, again, err)
		}
		if _, err := GeohashNeighbors(h); err != nil {
			t.Fatal(err)
		}
	})
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

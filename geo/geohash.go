package geo

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxGeohashPrecision is the longest geohash this package encodes or
// decodes: 12 characters, 60 bits, cells of about 3.7 cm x 1.9 cm.
const MaxGeohashPrecision = 12

const geohashAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz"

// EncodeGeohash returns the geohash of p with precision characters, in
// lower case (Gustavo Niemeyer's geohash.org scheme: longitude and
// latitude bisected alternately, longitude first, five bits per base-32
// character). Longitude 180 is the meridian of -180 and gets its cell, in
// the westmost column, where the plain bisection (and libraries that use
// it) would put it in the eastmost. It returns an error for an invalid p
// or a precision outside 1..12.
func EncodeGeohash(p LatLng, precision int) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if precision < 1 || precision > MaxGeohashPrecision {
		return "", fmt.Errorf("%w: %d", ErrInvalidPrecision, precision)
	}
	if p.Lng == 180 {
		p.Lng = -180
	}
	lat, lng := [2]float64{-90, 90}, [2]float64{-180, 180}
	var out [MaxGeohashPrecision]byte
	even := true
	for i := range precision {
		var c byte
		for range 5 {
			c <<= 1
			if even {
				if mid := (lng[0] + lng[1]) / 2; p.Lng >= mid {
					c |= 1
					lng[0] = mid
				} else {
					lng[1] = mid
				}
			} else {
				if mid := (lat[0] + lat[1]) / 2; p.Lat >= mid {
					c |= 1
					lat[0] = mid
				} else {
					lat[1] = mid
				}
			}
			even = !even
		}
		out[i] = geohashAlphabet[c]
	}
	return string(out[:precision]), nil
}

// geohashBits parses a geohash, in any mix of ASCII upper and lower case,
// into its longitude and latitude bit strings.
func geohashBits(hash string) (lngBits, latBits uint64, nLng, nLat uint, err error) {
	if len(hash) == 0 || len(hash) > MaxGeohashPrecision {
		return 0, 0, 0, 0, fmt.Errorf("%w: length %d", ErrInvalidGeohash, len(hash))
	}
	even := true
	for i := range len(hash) {
		c := hash[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		v := byte(strings.IndexByte(geohashAlphabet, c))
		if v >= 32 {
			// Quoted as a string from i: a byte of a multi-byte
			// character alone would print as another character.
			r, _ := utf8.DecodeRuneInString(hash[i:])
			return 0, 0, 0, 0, fmt.Errorf("%w: %q at byte %d", ErrInvalidGeohash, r, i)
		}
		for b := 4; b >= 0; b-- {
			bit := uint64(v>>b) & 1
			if even {
				lngBits = lngBits<<1 | bit
				nLng++
			} else {
				latBits = latBits<<1 | bit
				nLat++
			}
			even = !even
		}
	}
	return lngBits, latBits, nLng, nLat, nil
}

func geohashFromBits(lngBits, latBits uint64, nLng, nLat uint) string {
	var out [MaxGeohashPrecision]byte
	n := (nLng + nLat) / 5
	even := true
	il, ia := nLng, nLat
	for i := range n {
		var c byte
		for range 5 {
			c <<= 1
			if even {
				il--
				c |= byte(lngBits>>il) & 1
			} else {
				ia--
				c |= byte(latBits>>ia) & 1
			}
			even = !even
		}
		out[i] = geohashAlphabet[c]
	}
	return string(out[:n])
}

// DecodeGeohash returns the cell a geohash names. Case does not matter
// ("EZS42" is "ezs42", as on geohash.org). It returns an error wrapping
// [ErrInvalidGeohash] for an empty hash, one longer than
// [MaxGeohashPrecision], or one with a character outside the base-32
// alphabet: "a", "i", "l" and "o" (in either case), which it omits, and
// any other byte.
func DecodeGeohash(hash string) (Box, error) {
	lngBits, latBits, nLng, nLat, err := geohashBits(hash)
	if err != nil {
		return Box{}, err
	}
	w, h := 360/float64(uint64(1)<<nLng), 180/float64(uint64(1)<<nLat)
	minLng, minLat := -180+float64(lngBits)*w, -90+float64(latBits)*h
	return Box{MinLat: minLat, MinLng: minLng, MaxLat: minLat + h, MaxLng: minLng + w}, nil
}

// Center returns the middle of b.
func (b Box) Center() LatLng {
	return LatLng{Lat: (b.MinLat + b.MaxLat) / 2, Lng: (b.MinLng + b.MaxLng) / 2}
}

// Direction names a neighbour of a geohash cell.
type Direction int

// The eight neighbours, clockwise from north.
const (
	North Direction = iota
	NorthEast
	East
	SouthEast
	South
	SouthWest
	West
	NorthWest
)

// GeohashNeighbors returns the eight cells of the same precision around
// hash, indexed by [Direction], in lower case whatever the case of hash.
// Neighbours east and west wrap around the antimeridian; a cell in the top
// (bottom) row has no neighbours to the north (south), and those entries
// are "". It returns the errors of [DecodeGeohash].
func GeohashNeighbors(hash string) ([8]string, error) {
	var out [8]string
	lngBits, latBits, nLng, nLat, err := geohashBits(hash)
	if err != nil {
		return out, err
	}
	lngMask := uint64(1)<<nLng - 1
	latMax := uint64(1)<<nLat - 1
	steps := [8][2]int{{0, 1}, {1, 1}, {1, 0}, {1, -1}, {0, -1}, {-1, -1}, {-1, 0}, {-1, 1}}
	for d, s := range steps {
		if (s[1] > 0 && latBits == latMax) || (s[1] < 0 && latBits == 0) {
			continue
		}
		lb := (lngBits + uint64(int64(s[0]))) & lngMask
		ab := latBits + uint64(int64(s[1]))
		out[d] = geohashFromBits(lb, ab, nLng, nLat)
	}
	return out, nil
}

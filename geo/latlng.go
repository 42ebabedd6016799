package geo

import (
	"errors"
	"fmt"
	"math"
)

// Errors returned by the package. Test for them with [errors.Is].
var (
	// ErrInvalidLatLng means a latitude or longitude is NaN, infinite or out
	// of range.
	ErrInvalidLatLng = errors.New("geo: invalid lat/lng")
	// ErrInvalidRadius means a radius or distance is negative, NaN or infinite.
	ErrInvalidRadius = errors.New("geo: invalid radius")
	// ErrInvalidGeohash means a geohash is empty, too long or has a
	// character outside the geohash alphabet.
	ErrInvalidGeohash = errors.New("geo: invalid geohash")
	// ErrInvalidPrecision means a geohash precision outside 1..12.
	ErrInvalidPrecision = errors.New("geo: invalid geohash precision")
	// ErrNotFound means the driver is not in the index, or, for
	// [Index.CompareAndSwapStatus], is stale.
	ErrNotFound = errors.New("geo: driver not found")
	// ErrInvalidSeen means a driver's last-seen time is before 1970 or
	// after the year 10889, outside what the index can store.
	ErrInvalidSeen = errors.New("geo: invalid last-seen time")
)

// EarthRadius is the radius, in metres, of the sphere this package measures
// on: the IUGG mean Earth radius R1 = 6,371,008.8 m.
//
// Redis GEO uses 6,372,797.56 m, which makes its distances 0.028% longer
// than ours (28 m per 100 km); the WGS-84 equatorial radius 6,378,137 m
// would make them 0.11% longer. No sphere is exact: the ellipsoid's true
// distances differ from any spherical formula by up to about 0.5%, which is
// far below what matters for matching a rider with a driver.
const EarthRadius = 6_371_008.8

const (
	rad = math.Pi / 180
	deg = 180 / math.Pi
)

// LatLng is a position in degrees: Lat in [-90, 90], Lng in [-180, 180].
// Longitudes are not normalised: -180 and 180 are both accepted and name the
// same meridian, and every distance and search treats them as equal.
type LatLng struct {
	Lat, Lng float64
}

// Validate returns an error wrapping [ErrInvalidLatLng] if p is not a valid
// position.
func (p LatLng) Validate() error {
	if !(p.Lat >= -90 && p.Lat <= 90) || !(p.Lng >= -180 && p.Lng <= 180) {
		return fmt.Errorf("%w: (%v, %v)", ErrInvalidLatLng, p.Lat, p.Lng)
	}
	return nil
}

// String formats p as "lat,lng" with six decimals (about 0.1 m).
func (p LatLng) String() string { return fmt.Sprintf("%.6f,%.6f", p.Lat, p.Lng) }

// hav returns the haversine of the central angle between a and b: a value
// in [0, 1] that grows with distance. aCos is cos(a.Lat). Distance and the
// index's search both go through this one function so that their distances
// agree to the last bit.
func hav(aLat, aLng, aCos, bLat, bLng float64) float64 {
	sLat := sin((bLat - aLat) * (rad / 2))
	sLng := sin(lngGap(aLng, bLng) * (rad / 2))
	return sLat*sLat + aCos*cosDeg(bLat)*sLng*sLng
}

// lngGap returns b - a in degrees taken the short way round, in
// [-180, 180], for longitudes in [-180, 180]. Across the antimeridian it
// subtracts after moving each side by 180, so the gap keeps its digits:
// the raw b - a would be near ±360, and the sine of its half, near π,
// loses about 1e-8 of a 0.1 m distance. A move is exact for a side within
// 90° of the antimeridian (Sterbenz's lemma), as the nearer side always
// is; the other's rounds by at most 3e-14°.
func lngGap(a, b float64) float64 {
	d := b - a
	if d > 180 {
		d = (b - 180) - (a + 180)
	} else if d < -180 {
		d = (b + 180) - (a - 180)
	}
	return d
}

// cosDeg is the cosine of lat degrees, accurate to a unit or two in the
// last place at every latitude. Near a pole math.Cos(lat*rad) would lose
// up to a relative 1e-7 to the rounding of lat*rad; there the sine of the
// colatitude, an exact subtraction, keeps the digits.
func cosDeg(lat float64) float64 {
	if a := math.Abs(lat); a > 45 {
		return math.Sin((90 - a) * rad)
	}
	return math.Cos(lat * rad)
}

// metres turns a haversine into a great-circle distance.
func metres(h float64) float64 {
	return 2 * EarthRadius * asin(math.Sqrt(min(max(h, 0), 1)))
}

// smallAngle and sinSmall bound the arguments that asin and sin
// evaluate by their Taylor series. Below them the first omitted term is
// under 1e-19 of the result (0.022·x¹⁰ for asin, x¹⁰/11! for sin, whose
// terms shrink faster, hence its wider range), far below a float64's
// 1.1e-16 rounding step, so the series are as accurate as math.Asin and
// math.Sin (TestSmallAngle checks them within one unit in the last place)
// and three to five times faster. Half the angle of every distance below
// about 199 km falls below smallAngle, which covers the city-scale
// searches the index runs all day; sinSmall takes in the latitude and
// longitude half-gaps of a haversine up to 3.6° (7.2° of longitude, what
// a few hundred kilometres span near the poles), which covers the nearest
// neighbours of sparse drivers over the whole sphere.
const (
	smallAngle = 1.0 / 64
	sinSmall   = 1.0 / 16
)

// sin is math.Sin, by its Taylor series for small arguments.
func sin(x float64) float64 {
	if math.Abs(x) >= sinSmall {
		return math.Sin(x)
	}
	z := x * x
	return x - x*z*(1.0/6-z*(1.0/120-z*(1.0/5040-z*(1.0/362880))))
}

// asin is math.Asin, by its Taylor series for small arguments.
func asin(x float64) float64 {
	if math.Abs(x) >= smallAngle {
		return math.Asin(x)
	}
	z := x * x
	return x + x*z*(1.0/6+z*(3.0/40+z*(5.0/112+z*(35.0/1152))))
}

// Distance returns the great-circle distance in metres from a to b on a
// sphere of [EarthRadius], by the haversine formula: accurate to well under
// a millimetre at short distances, where the spherical law of cosines is
// not, and at every other, except within about 40 m of b being a's
// antipode, where the float64 rounding of the haversine near 1 leaves up
// to 0.3 m (0.27 m at the antipode itself). Invalid positions give a
// meaningless result; validate first.
func Distance(a, b LatLng) float64 {
	return metres(hav(a.Lat, a.Lng, cosDeg(a.Lat), b.Lat, b.Lng))
}

// Bearing returns the initial bearing in degrees clockwise from north, in
// [0, 360), of the great circle from a to b. It is 0 when a and b coincide
// or a is a pole.
func Bearing(a, b LatLng) float64 {
	if math.Abs(a.Lat) == 90 {
		// Every way from a pole is south (or north): no bearing from
		// north is defined, and cos φ1, which would be 0, rounds to 6e-17.
		return 0
	}
	φ1, φ2 := a.Lat*rad, b.Lat*rad
	// The gap the short way round: the raw difference of -180 and 180 is
	// 360, whose sine rounds to -2.4e-16, not 0.
	Δλ := lngGap(a.Lng, b.Lng) * rad
	y := math.Sin(Δλ) * math.Cos(φ2)
	// The conversions round each product on its own, as the Go spec
	// lets a compiler fuse a product into the subtraction otherwise (one
	// instruction on arm64): then for a = b, x was a rounding error, not
	// 0, and the bearing 180 half the time.
	x := float64(math.Cos(φ1)*math.Sin(φ2)) - float64(math.Sin(φ1)*math.Cos(φ2)*math.Cos(Δλ))
	θ := math.Atan2(y, x) * deg
	θ = math.Mod(θ+360, 360)
	if θ == 360 { // a tiny negative angle rounds up
		θ = 0
	}
	return θ
}

// Destination returns the point reached by travelling dist metres from p
// along the great circle with initial bearing bearing (degrees clockwise
// from north). The longitude is normalised to [-180, 180).
func Destination(p LatLng, bearing, dist float64) LatLng {
	δ := dist / EarthRadius
	θ := bearing * rad
	φ1, λ1 := p.Lat*rad, p.Lng*rad
	sinφ2 := math.Sin(φ1)*math.Cos(δ) + math.Cos(φ1)*math.Sin(δ)*math.Cos(θ)
	sinφ2 = min(max(sinφ2, -1), 1)
	φ2 := math.Asin(sinφ2)
	λ2 := λ1 + math.Atan2(math.Sin(θ)*math.Sin(δ)*math.Cos(φ1), math.Cos(δ)-math.Sin(φ1)*sinφ2)
	return LatLng{Lat: φ2 * deg, Lng: normLng(λ2 * deg)}
}

// normLng maps any longitude into [-180, 180).
func normLng(lng float64) float64 {
	lng = math.Mod(lng+180, 360)
	if lng < 0 {
		lng += 360
		if lng == 360 { // a tiny negative remainder rounds up
			lng = 0
		}
	}
	return lng - 180
}

// Box is a closed latitude/longitude rectangle in degrees with MinLng <=
// MaxLng: it never crosses the antimeridian (see [Cover]).
type Box struct {
	MinLat, MinLng, MaxLat, MaxLng float64
}

// Contains reports whether p lies in b, edges included. A box reaching
// -180 or 180 holds the points of that meridian spelled either way, since
// the two name the same meridian: the geohash cell of (lat, 180) is in the
// westmost column, and a [Cover] split at the antimeridian may put (lat,
// -180) in its eastern box.
func (b Box) Contains(p LatLng) bool {
	if !(p.Lat >= b.MinLat && p.Lat <= b.MaxLat) {
		return false
	}
	lng := p.Lng
	switch {
	case lng == 180 && b.MinLng == -180:
		lng = -180
	case lng == -180 && b.MaxLng == 180:
		lng = 180
	}
	return lng >= b.MinLng && lng <= b.MaxLng
}

// coverSlack widens covering boxes by about 1 mm (in longitude, 1 mm
// times the cosine of the latitude) so rounding in the trigonometry never
// leaves a point of the circle outside them.
const coverSlack = 1e-8

// antipodeHole is the angle, in radians (about 640 m), below which the
// part of the sphere a circle leaves out around the center's antipode is
// treated as empty and the circle covered by the whole sphere. Near the
// antipode the haversine rounds a distance by up to 0.3 m (see
// [Distance]), far more than coverSlack, so a point a little outside the
// circle's exact bounding box may be within radius by Distance; with a
// hole of 1e-4 the rounding is under 1e-12 radians.
const antipodeHole = 1e-4

// Cover returns the boxes that together contain every point within radius
// metres of center: one box in general; two when the circle crosses the
// ±180° meridian, split there; one full band of longitude [-180, 180] when
// the circle contains a pole; the whole sphere for radius >= πR less
// about 640 m (what the circle leaves out is then too small to tell). The boxes
// are the exact bounding boxes of the circle (J. P. Matuschek, "Finding
// points within a distance of a latitude/longitude using bounding
// coordinates", 2010) widened by about a millimetre. It returns an error
// for an invalid center or radius.
func Cover(center LatLng, radius float64) ([]Box, error) {
	var buf [2]Box
	boxes, err := cover(&buf, center, radius)
	if err != nil {
		return nil, err
	}
	return append([]Box(nil), boxes...), nil
}

func checkRadius(radius float64) error {
	if !(radius >= 0) || math.IsInf(radius, 1) {
		return fmt.Errorf("%w: %v", ErrInvalidRadius, radius)
	}
	return nil
}

func cover(buf *[2]Box, c LatLng, radius float64) ([]Box, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkRadius(radius); err != nil {
		return nil, err
	}
	δ := radius / EarthRadius
	if δ >= math.Pi-antipodeHole {
		buf[0] = Box{-90, -180, 90, 180}
		return buf[:1], nil
	}
	φ := c.Lat * rad
	minLat, maxLat := (φ-δ)*deg-coverSlack, (φ+δ)*deg+coverSlack
	if maxLat >= 90 || minLat <= -90 {
		// The circle reaches a pole, so it meets every meridian.
		buf[0] = Box{max(minLat, -90), -180, min(maxLat, 90), 180}
		return buf[:1], nil
	}
	Δλ := math.Asin(min(math.Sin(δ)/math.Cos(φ), 1))*deg + coverSlack
	lo, hi := c.Lng-Δλ, c.Lng+Δλ
	switch {
	case hi-lo >= 360:
		buf[0] = Box{minLat, -180, maxLat, 180}
		return buf[:1], nil
	case lo <= -180:
		buf[0] = Box{minLat, lo + 360, maxLat, 180}
		buf[1] = Box{minLat, -180, maxLat, hi}
		return buf[:2], nil
	case hi >= 180:
		buf[0] = Box{minLat, lo, maxLat, 180}
		buf[1] = Box{minLat, -180, maxLat, hi - 360}
		return buf[:2], nil
	}
	buf[0] = Box{minLat, lo, maxLat, hi}
	return buf[:1], nil
}

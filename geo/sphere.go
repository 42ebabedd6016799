package geo

import "math"

// rect is a latitude/longitude rectangle in degrees: X is longitude, Y
// latitude, edges included.
type rect struct{ MinX, MinY, MaxX, MaxY float64 }

func (r rect) intersects(s rect) bool {
	return r.MinX <= s.MaxX && s.MinX <= r.MaxX && r.MinY <= s.MaxY && s.MinY <= r.MaxY
}

func (r rect) contains(lat, lng float64) bool {
	return lng >= r.MinX && lng <= r.MaxX && lat >= r.MinY && lat <= r.MaxY
}

// keyLimit returns a haversine a little above that of radius metres, so
// that every point within radius passes a key test; callers then check the
// exact distance.
func keyLimit(radius float64) float64 {
	if radius >= math.Pi*EarthRadius {
		return math.Inf(1)
	}
	s := math.Sin(radius / (2 * EarthRadius))
	return s*s*(1+1e-9) + 1e-300
}

// sphereQuery ranks tree points (X = lng, Y = lat) by the haversine of
// their central angle from a center:
//
//	key = sin²(Δφ/2) + cos φq·cos φ·sin²(Δλ/2)
//
// Pruning uses lower bounds of the key built without trigonometry, from
// two facts: sin x >= x - x³/6 for x >= 0, and, for a point at most b
// radians of latitude farther from the equator than the center,
// cos φ >= cos φq·(1 - b²/2) - |sin φq|·b (the angle-sum formula with
// cos b >= 1 - b²/2 and sin b <= b).
type sphereQuery struct {
	lat, lng, cosLat float64
	sinAbs           float64
	sinLat           float64
	fLat, fLng       int64 // the center rounded to units of 1e-7 degree
}

func newSphereQuery(c LatLng) sphereQuery {
	φ := c.Lat * rad
	sinφ := math.Sin(φ)
	return sphereQuery{lat: c.Lat, lng: c.Lng, cosLat: cosDeg(c.Lat), sinAbs: math.Abs(sinφ), sinLat: sinφ,
		fLat: int64(fix(c.Lat)), fLng: int64(fix(c.Lng))}
}

// cosNear is cos(lat) to within a relative 1e-15, cheaply for latitudes
// within 1/16 radian (3.6°, the leaves near a center in a sparse region
// reach that far) of a center below 60°: cos(φq + δ) by the angle-sum
// formula with cos δ and sin δ by their Taylor series (the first omitted
// terms are below 1e-18 of the result). Nearer the poles the subtraction
// would cancel most digits, so it calls cosDeg there. It serves tests
// with a relative margin, never an exact distance.
func (q *sphereQuery) cosNear(lat float64) float64 {
	δ := (lat - q.lat) * rad
	if math.Abs(δ) >= 1.0/16 || q.cosLat < 0.5 {
		return cosDeg(lat)
	}
	z := δ * δ
	cosδ := 1 - z*(0.5-z*(1.0/24-z*(1.0/720-z*(1.0/40320))))
	sinδ := δ - δ*z*(1.0/6-z*(1.0/120-z*(1.0/5040-z*(1.0/362880))))
	return q.cosLat*cosδ - q.sinLat*sinδ
}

// sinLo is a lower bound of sin x for x in [0, π/2].
func sinLo(x float64) float64 { return max(x-x*x*x/6, 0) }

// cosLo is a lower bound of cos φ for any |φ| <= |φq| + b, b >= 0.
func (q *sphereQuery) cosLo(b float64) float64 {
	return max(q.cosLat*(1-b*b/2)-q.sinAbs*b, 0)
}

// lowerKey bounds the key from below given the latitude gap dLat and the
// short-way longitude gap dLng (degrees) to the nearest possible point, and
// b, how much farther from the equator (radians) that point may be.
func (q *sphereQuery) lowerKey(dLat, dLng, b float64) float64 {
	s := sinLo(dLat * (rad / 2))
	h := s * s
	if dLng > 0 {
		t := sinLo(dLng * (rad / 2))
		h += q.cosLat * q.cosLo(b) * t * t
	}
	// Shrink by a relative 1e-9 so rounding never lifts it above a true key.
	return h * (1 - 1e-9)
}

// leafBound bounds the key of the points of one cell from both sides at
// a cost of a few multiplications per point. With x the half-angle gap,
// x·(1 - X²/6) <= sin x <= x for every x <= X, the largest gap over the
// cell, and cos φ over the cell lies between its values at the latitude
// edges farther from and nearer to the equator. So for a point dLat and
// dLng (short way round) from the center, in units of 1e-7 degree,
//
//	lo·dLat² + loLng·dLng² <= key <= hi·dLat² + hiLng·dLng²
//
// with the four factors fixed for the cell. The gaps are widened or
// narrowed by one unit to absorb the rounding of the center to that grid,
// and the bounds by a relative 1e-9 to absorb that of the products.
//
// In a cell near a pole cos φ falls steeply from one latitude edge to the
// other (to 0 at the pole), so the constant factors above throw away most
// of the longitude gap, and x·(1 - X²/6) most of a gap of tens of
// degrees. For such a cell (steep) the entries that pass the first test
// are bounded again with their own latitude and gaps: cos φ lies above
// its chord and below its tangent at the edge nearer the equator (cos is
// concave over [0°, 90°] of |φ|), both linear in |φ|, and sin x above
// x - x³/6 for the entry's own half-gap x.
type leafBound struct {
	lo, loLng  float64
	hi, hiLng  float64
	qLat, qLng int64 // the center rounded to units of 1e-7 degree
	steep      bool
	aNear      int64   // |φ| in units at the cell's edge nearer the equator
	cN, cSlope float64 // cos φ >= cN + cSlope·(|φ| - aNear), the chord
	tN, tSlope float64 // cos φ <= tN - tSlope·(|φ| - aNear), the tangent
	lo0, hi0   float64 // the relative margins of lo and hi: 1 ∓ 1e-9
}

// leafBound returns the bounds for the points of box b.
func (q *sphereQuery) leafBound(b ibox) leafBound {
	r := b.degrees()
	const h = rad / 2 / fixScale // half-angle in radians per unit
	xLat := max(math.Abs(q.lat-r.MinY), math.Abs(q.lat-r.MaxY)) * (rad / 2)
	xLng := min(max(math.Abs(q.lng-r.MinX), math.Abs(q.lng-r.MaxX)), 180) * (rad / 2)
	fLat := max(1-xLat*xLat/6, 0)
	fLng := max(1-xLng*xLng/6, 0)
	// cos φ at the latitude edges farther from and nearer to the equator,
	// by cosNear: within a relative 1e-15, and without trigonometry for
	// the cells near a center below 60°.
	far, near := r.MinY, r.MaxY
	if math.Abs(far) < math.Abs(near) {
		far, near = near, far
	}
	cosMin := max(q.cosNear(far)*(1-1e-12), 0)
	cosMax := 1.0
	if r.MinY > 0 || r.MaxY < 0 {
		cosMax = q.cosNear(near) * (1 + 1e-12)
	}
	lo, hi := (1-1e-9)*h*h, (1+1e-9)*h*h
	lb := leafBound{
		lo:    lo * fLat * fLat,
		loLng: lo * q.cosLat * cosMin * fLng * fLng,
		hi:    hi,
		hiLng: hi * q.cosLat * cosMax,
		qLat:  q.fLat,
		qLng:  q.fLng,
	}
	if cosMin < 0.8*cosMax {
		// The stored latitudes of the cell's points, as absolute
		// values in units, lie in [aNear, aFar].
		y0, y1 := int64(b.y0), int64(b.y1)-1
		aFar := max(y0, -y0, y1, -y1)
		var aNear int64
		if y0 > 0 {
			aNear = y0
		} else if y1 < 0 {
			aNear = -y1
		}
		if aFar > aNear {
			nearDeg := float64(aNear) / fixScale
			cN := cosDeg(nearDeg)
			cF := cosDeg(float64(aFar) / fixScale)
			sN := math.Sin(nearDeg * rad)
			lb.steep = true
			lb.aNear = aNear
			// Rounding: the cosines and sine within a relative 1e-15,
			// and the linear forms' own few roundings, absorbed by a
			// relative 1e-12 and an absolute 1e-14.
			lb.cN = cN*(1-1e-12) - 1e-14
			lb.cSlope = (cF*(1-1e-12) - cN*(1+1e-12)) / float64(aFar-aNear) * (1 + 1e-12)
			lb.tN = cN*(1+1e-12) + 1e-14
			lb.tSlope = max(sN*(1-1e-12)-1e-14, 0) * (rad / fixScale)
			lb.lo0 = (1 - 1e-9)
			lb.hi0 = (1 + 1e-9)
		}
	}
	return lb
}

// steepLower returns a lower bound of the key of an entry at stored
// latitude lat, for gaps from [leafBound.gaps], in a steep cell: with the
// chord of cos φ and x - x³/6 for each half-gap x, narrowed by one unit.
func (l *leafBound) steepLower(q *sphereQuery, lat int32, dLat, dLng int64) float64 {
	const h = rad / 2 / fixScale
	a := int64(lat)
	if a < 0 {
		a = -a
	}
	c := max(l.cN+l.cSlope*float64(a-l.aNear), 0)
	x := float64(max(dLat-1, 0)) * h
	y := float64(max(dLng-1, 0)) * h
	sx, sy := sinLo(x), sinLo(y)
	return l.lo0 * (sx*sx + q.cosLat*c*sy*sy)
}

// steepUpper returns an upper bound of the key of an entry at stored
// latitude lat in a steep cell: [leafBound.upper] with the tangent of
// cos φ for the cell's constant.
func (l *leafBound) steepUpper(q *sphereQuery, lat int32, dLat, dLng int64) float64 {
	const h = rad / 2 / fixScale
	a := int64(lat)
	if a < 0 {
		a = -a
	}
	c := max(l.tN-l.tSlope*float64(a-l.aNear), 0) + 1e-14
	x := float64(dLat+1) * h
	y := float64(dLng+1) * h
	return l.hi0 * (x*x + q.cosLat*c*y*y)
}

// gaps returns the latitude gap and the short-way longitude gap from the
// rounded center to the stored position p, in units of 1e-7 degree. The
// exact gaps from the center differ from them by at most half a unit, and
// their squares fit an int64 with room to spare.
func (l *leafBound) gaps(p uint64) (dLat, dLng int64) {
	dLat = int64(posLat(p)) - l.qLat
	dLng = int64(posLng(p)) - l.qLng
	if dLat < 0 {
		dLat = -dLat
	}
	if dLng < 0 {
		dLng = -dLng
	}
	if dLng > 180*fixScale {
		dLng = 360*fixScale - dLng
	}
	return dLat, dLng
}

// lower returns the lower bound for gaps from [leafBound.gaps], narrowed
// by one unit.
func (l *leafBound) lower(dLat, dLng int64) float64 {
	nLat, nLng := max(dLat-1, 0), max(dLng-1, 0)
	return l.lo*float64(nLat*nLat) + l.loLng*float64(nLng*nLng)
}

// upper returns the upper bound for gaps from [leafBound.gaps], widened by
// one unit.
func (l *leafBound) upper(dLat, dLng int64) float64 {
	dLat, dLng = dLat+1, dLng+1
	return l.hi*float64(dLat*dLat) + l.hiLng*float64(dLng*dLng)
}

// keys returns the lower and upper bounds for the stored position p.
func (l *leafBound) keys(p uint64) (lo, hi float64) {
	dLat, dLng := l.gaps(p)
	return l.lower(dLat, dLng), l.upper(dLat, dLng)
}

// cellBound is a lower bound of the key over the stored points of cell
// b: the latitude gap to the cell, the longitude gap measured the short
// way round the sphere (so cells across the antimeridian count as near),
// and cos φ at the cell's latitude edge farther from the equator, each
// bounded on its own and combined by gapBound. It is computed from the
// integer edges without a division: the gaps from the rounded center,
// narrowed by one unit for its rounding, and the latitudes farthest from
// and nearest to the equator, widened by one unit each way for the
// rounding of the products by 1e-7 (a relative 1e-16, which lowerKey's
// margin absorbs like the rest).
func (q *sphereQuery) cellBound(b ibox) float64 {
	var gLat, gLng int64
	y0, y1 := int64(b.y0), int64(b.y1)-1
	if q.fLat < y0 {
		gLat = y0 - q.fLat - 1
	} else if q.fLat > y1 {
		gLat = q.fLat - y1 - 1
	}
	if x0, x1 := int64(b.x0), int64(b.x1)-1; q.fLng < x0 || q.fLng > x1 {
		gLng = min(shortGap(x0-q.fLng), shortGap(x1-q.fLng)) - 1
	}
	if gLat <= 0 && gLng <= 0 {
		return 0
	}
	a0, a1 := y0, y1
	if a0 < 0 {
		a0 = -a0
	}
	if a1 < 0 {
		a1 = -a1
	}
	var near float64
	if y0 > 0 || y1 < 0 {
		near = float64(max(min(a0, a1)-1, 0)) * (1 / fixScale)
	}
	const u = 1 / fixScale
	return q.gapBound(float64(max(gLat, 0))*u, float64(max(gLng, 0))*u, float64(max(a0, a1)+1)*u, near)
}

// shortGap returns the longitude gap d, in units of 1e-7 degree, taken
// the short way round.
func shortGap(d int64) int64 {
	if d < 0 {
		d = -d
	}
	if d > 180*fixScale {
		d = 360*fixScale - d
	}
	return d
}

// gapBound is the lower bound of a cell's key given the latitude
// gap dLat and the short-way longitude gap dLng (degrees, not both zero)
// from the center to the cell, and the absolute latitudes of the cell's
// points farthest from (farLat) and nearest to (nearLat, 0 if the cell
// spans the equator) the equator.
func (q *sphereQuery) gapBound(dLat, dLng, farLat, nearLat float64) float64 {
	// Latitudes are subtracted in degrees, where it is exact for nearby
	// values: in radians, near a pole, the difference of two rounded
	// products would lose a relative 1e-10 of a metre-sized gap.
	far := (farLat - math.Abs(q.lat)) * rad
	lo := q.lowerKey(dLat, dLng, max(far, 0))
	// tan φq·far bounds the relative loss of cos φ in lo; below 1% the
	// joint bound below cannot raise lo by more than that, and most
	// cells of a search away from the poles stop here.
	if dLng == 0 || far <= 0 || q.sinAbs*far <= 0.01*q.cosLat {
		return lo
	}
	// The bound above takes the latitude gap and cos φ at their separate
	// minima. For a cell reaching farther from the equator than the
	// center, the second can be zero (near a pole, cells often reach it),
	// leaving only the latitude gap: the longitude gap is ignored and
	// polar searches visit a whole band of cells. Bound them jointly
	// instead. With δ = |φ| - |φq| the extra distance from the equator of
	// a point of the cell (δ in [δlo, δhi]), |Δφ| >= δ, so
	//
	//	key >= sin²(δ/2) + C·cos(|φq|+δ),  C = cos φq·sin²(Δλmin/2)
	//	    >= δ²/4·(1 - δhi²/12) + C·(cos φq·(1 - δ²/2) - |sin φq|·δ)
	//
	// (sin x >= x - x³/6 and the angle-sum bound of cosLo), a quadratic in
	// δ whose minimum over [δlo, δhi] is a lower bound of the key. Points
	// nearer the equator than the center (δ < 0) have cos φ >= cos φq, so
	// their key is at least C·cos φq, the quadratic's value at δ = 0, which
	// lies in the interval when the cell holds such points.
	t := sinLo(dLng * (rad / 2))
	c := q.cosLat * t * t
	dLo, dHi := max((nearLat-math.Abs(q.lat))*rad, 0), far
	qa := (1-dHi*dHi/12)/4 - c*q.cosLat/2
	qb := c * q.sinAbs
	qc := c * q.cosLat
	quad := func(d float64) float64 { return qa*d*d - qb*d + qc }
	var v float64
	if qa > 0 {
		v = quad(min(max(qb/(2*qa), dLo), dHi))
	} else {
		v = min(quad(dLo), quad(dHi))
	}
	// Margin for rounding in the few operations above.
	v -= 1e-12 * (math.Abs(qa)*dHi*dHi + qb*dHi + qc)
	return max(lo, v)
}

// insideKey returns a haversine a little below that of radius metres, so
// that every point whose computed key is at most it lies within radius by
// [Distance] too, rounding included. It is 0, which no cell passes, for
// radii of 1,000 km and more, where [sphereQuery.inside] does not apply.
func insideKey(radius float64) float64 {
	if radius >= 1e6 || radius < 1e-3 {
		return 0 // below a millimetre, spare the reasoning about subnormals
	}
	s := math.Sin(radius / (2 * EarthRadius))
	return s * s * (1 - 1e-9)
}

// inside reports whether every point of r has a key below inKey. Along a
// parallel the distance from the center grows with the longitude gap up
// to 180°, and along a meridian less than 90° of longitude from the center
// it has no maximum inside a latitude interval (cos d = A·sin φ + B·cos φ
// with B >= 0 is unimodal in φ), so over a cell spanning less than 90° of
// longitude each side of the center the distance peaks at a corner. The
// corners' keys, computed within a relative 1e-14 of [Distance]'s, must
// then fall below inKey by a relative 1e-12 to absorb rounding.
func (q *sphereQuery) inside(r rect, inKey float64) bool {
	if inKey == 0 || r.MinX-q.lng <= -90 || r.MaxX-q.lng >= 90 {
		return false
	}
	// A cell taller than the circle's diameter cannot lie inside it; most
	// cells a search visits fail here, before any trigonometry.
	if s := (r.MaxY - r.MinY) * (rad / 2); s*s > inKey {
		return false
	}
	lim := inKey * (1 - 1e-12)
	c := q.cosNear(r.MinY)
	if q.cornerKey(r.MinY, c, r.MinX) >= lim || q.cornerKey(r.MinY, c, r.MaxX) >= lim {
		return false
	}
	c = q.cosNear(r.MaxY)
	return q.cornerKey(r.MaxY, c, r.MinX) < lim && q.cornerKey(r.MaxY, c, r.MaxX) < lim
}

// cornerKey is hav from the center to (lat, lng) given cos(lat).
func (q *sphereQuery) cornerKey(lat, cosLat, lng float64) float64 {
	sLat := sin((lat - q.lat) * (rad / 2))
	sLng := sin(lngGap(q.lng, lng) * (rad / 2))
	return sLat*sLat + q.cosLat*cosLat*sLng*sLng
}

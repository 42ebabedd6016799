package geo_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blueprint-go/blueprint/geo"
)

func Example() {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	idx := geo.NewIndex(geo.Options{StaleAfter: time.Minute, Now: func() time.Time { return now }})

	// Three drivers in Fiji, on both sides of the 180° meridian.
	for _, d := range []geo.Driver{
		{ID: 1, Pos: geo.LatLng{Lat: -16.80, Lng: 179.98}, Status: geo.Available},
		{ID: 2, Pos: geo.LatLng{Lat: -16.80, Lng: -179.99}, Status: geo.Available},
		{ID: 3, Pos: geo.LatLng{Lat: -16.81, Lng: 179.99}, Status: geo.Unavailable},
	} {
		if err := idx.Upsert(d); err != nil {
			panic(err)
		}
	}

	// The two nearest available drivers within 10 km of a rider at 180°
	// (Nearby with a filter on Status finds the same, more slowly).
	matches, err := idx.NearbyAvailable(context.Background(), geo.LatLng{Lat: -16.80, Lng: 180}, 10_000, 2, nil)
	if err != nil {
		panic(err)
	}
	for _, m := range matches {
		fmt.Printf("driver %d at %.0f m\n", m.ID, m.Distance)
	}
	// Output:
	// driver 2 at 1064 m
	// driver 1 at 2129 m
}

func ExampleCover() {
	// A 50 km circle at the antimeridian needs two boxes.
	boxes, err := geo.Cover(geo.LatLng{Lat: 0, Lng: 179.9}, 50_000)
	if err != nil {
		panic(err)
	}
	for _, b := range boxes {
		fmt.Printf("lat %.2f..%.2f lng %.2f..%.2f\n", b.MinLat, b.MaxLat, b.MinLng, b.MaxLng)
	}
	// Output:
	// lat -0.45..0.45 lng 179.45..180.00
	// lat -0.45..0.45 lng -180.00..-179.65
}

func ExampleEncodeGeohash() {
	h, err := geo.EncodeGeohash(geo.LatLng{Lat: 40.7580, Lng: -73.9855}, 6)
	if err != nil {
		panic(err)
	}
	nb, err := geo.GeohashNeighbors(h)
	if err != nil {
		panic(err)
	}
	fmt.Println(h, nb[geo.North], nb[geo.East])
	fmt.Printf("%.0f m\n", geo.Distance(geo.LatLng{Lat: 40.7580, Lng: -73.9855}, geo.LatLng{Lat: 40.6413, Lng: -73.7781}))
	// Output:
	// dr5ru7 dr5ruk dr5rue
	// 21773 m
}

// A gateway reports positions with Move, which leaves the status alone,
// and a dispatcher claims the nearest available driver with
// CompareAndSwapStatus, so that two dispatchers never get the same one.
func ExampleIndex_CompareAndSwapStatus() {
	const onTrip geo.Status = 2 // a status of the caller's own
	idx := geo.NewIndex(geo.Options{})
	for id, pos := range []geo.LatLng{{Lat: 40.7580, Lng: -73.9855}, {Lat: 40.7614, Lng: -73.9776}} {
		if err := idx.Upsert(geo.Driver{ID: geo.DriverID(id), Pos: pos, Status: geo.Available}); err != nil {
			panic(err)
		}
	}
	rider := geo.LatLng{Lat: 40.7590, Lng: -73.9845}
	for range 3 {
		matches, err := idx.NearbyAvailable(context.Background(), rider, 5_000, 3, nil)
		if err != nil {
			panic(err)
		}
		got := false
		for _, m := range matches {
			// Another dispatcher may have claimed m since the search.
			if ok, err := idx.CompareAndSwapStatus(m.ID, geo.Available, onTrip); err == nil && ok {
				fmt.Printf("rider gets driver %d, %.0f m away\n", m.ID, m.Distance)
				got = true
				break
			}
		}
		if !got {
			fmt.Println("no driver free")
		}
	}
	// The claimed drivers keep reporting; they stay on their trips.
	if err := idx.Move(0, geo.LatLng{Lat: 40.7600, Lng: -73.9840}, time.Time{}); err != nil {
		panic(err)
	}
	d, _ := idx.Get(0)
	fmt.Println("driver 0 on trip:", d.Status == onTrip)
	// Output:
	// rider gets driver 0, 139 m away
	// rider gets driver 1, 639 m away
	// no driver free
	// driver 0 on trip: true
}

// A Matcher gives a rider the available driver with the smallest ETA
// among the nearest few. Here the nearer driver is across the Hudson,
// and the other one gets there first; a routing engine would know, and
// riverETA stands in for one.
func ExampleMatcher() {
	const onTrip geo.Status = 2
	idx := geo.NewIndex(geo.Options{})
	for _, d := range []geo.Driver{
		{ID: 1, Pos: geo.LatLng{Lat: 40.7650, Lng: -73.9950}, Status: geo.Available}, // Midtown
		{ID: 2, Pos: geo.LatLng{Lat: 40.7480, Lng: -74.0280}, Status: geo.Available}, // Hoboken, across the river
	} {
		if err := idx.Upsert(d); err != nil {
			panic(err)
		}
	}
	m := &geo.Matcher{Index: idx, Radius: 5_000, Claimed: onTrip, ETA: riverETA{}}
	rider := geo.LatLng{Lat: 40.7480, Lng: -74.0090} // Chelsea, by the Hudson
	for range 3 {
		a, err := m.Match(context.Background(), rider)
		if errors.Is(err, geo.ErrNoDriver) {
			fmt.Println("no driver available")
			break
		} else if err != nil {
			panic(err)
		}
		fmt.Printf("driver %d, %.0f m away, ETA %v\n", a.ID, a.Distance, a.ETA)
	}
	// Output:
	// driver 1, 2228 m away, ETA 5m18s
	// driver 2, 1601 m away, ETA 15m0s
	// no driver available
}

// riverETA stands in for a routing engine: drivers west of the Hudson
// (longitude -74.02) take the tunnel, a quarter of an hour.
type riverETA struct{}

func (riverETA) ETAs(ctx context.Context, to geo.LatLng, ds []geo.Match, etas []time.Duration) error {
	for i, d := range ds {
		if d.Pos.Lng < -74.02 {
			etas[i] = 15 * time.Minute
			continue
		}
		etas[i] = time.Duration(d.Distance/7) * time.Second
	}
	return nil
}

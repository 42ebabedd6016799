package geo_test

import (
	"fmt"
	"time"

	"github.com/blueprint-go/blueprint/geo"
)

func ExampleIndex_UpsertBatch() {
	idx := geo.NewIndex(geo.Options{})
	seen := time.Now()
	// A fleet loaded at start-up, in one call; driver 7 reported twice,
	// and its last report wins.
	err := idx.UpsertBatch([]geo.Driver{
		{ID: 7, Pos: geo.LatLng{Lat: 40.7484, Lng: -73.9857}, Status: geo.Available, Seen: seen},
		{ID: 8, Pos: geo.LatLng{Lat: 40.7527, Lng: -73.9772}, Seen: seen},
		{ID: 7, Pos: geo.LatLng{Lat: 40.7505, Lng: -73.9934}, Status: geo.Available, Seen: seen},
	})
	d, _ := idx.Get(7)
	fmt.Println(err, idx.Len(), d.Pos)
	// Output:
	// <nil> 2 40.750500,-73.993400
}

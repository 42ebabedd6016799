package main

import (
	"context"
	"fmt"
	"time"

	"github.com/blueprint-go/blueprint/geo"
)

// tourGeo indexes a few drivers around Fiji, where the 180° meridian runs
// through the islands, and asks for the nearest available ones.
func tourGeo(out *tourWriter) error {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	idx := geo.NewIndex(geo.Options{StaleAfter: time.Minute, Now: func() time.Time { return now }})
	drivers := []geo.Driver{
		{ID: 1, Pos: geo.LatLng{Lat: -16.78, Lng: 179.97}, Status: geo.Available},
		{ID: 2, Pos: geo.LatLng{Lat: -16.80, Lng: -179.98}, Status: geo.Available},
		{ID: 3, Pos: geo.LatLng{Lat: -16.79, Lng: 179.995}, Status: geo.Unavailable},
		{ID: 4, Pos: geo.LatLng{Lat: -17.20, Lng: 179.40}, Status: geo.Available},
	}
	for _, d := range drivers {
		if err := idx.Upsert(d); err != nil {
			return err
		}
		out.Step("driver %d at %v (%s)", d.ID, d.Pos, statusName(d.Status))
	}
	rider := geo.LatLng{Lat: -16.79, Lng: 180}
	ctx := context.Background()
	all, err := idx.Nearby(ctx, rider, 10_000, 3, nil)
	if err != nil {
		return err
	}
	out.Step("rider at %v: 3 nearest within 10 km, across the antimeridian:", rider)
	for _, m := range all {
		out.Step("  driver %d, %.0f m, bearing %.0f°", m.ID, m.Distance, geo.Bearing(rider, m.Pos))
	}
	free, err := idx.Nearby(ctx, rider, 100_000, 2, func(d geo.Driver) bool { return d.Status == geo.Available })
	if err != nil {
		return err
	}
	out.Step("2 nearest available within 100 km:")
	for _, m := range free {
		out.Step("  driver %d, %.0f m", m.ID, m.Distance)
	}
	h, err := geo.EncodeGeohash(rider, 6)
	if err != nil {
		return err
	}
	out.Step("rider's geohash zone: %s", h)
	if err := idx.Upsert(geo.Driver{ID: 5, Pos: geo.LatLng{Lat: 91, Lng: 0}}); err != nil {
		out.Step("bad position rejected: %v", err)
	} else {
		return fmt.Errorf("latitude 91 was accepted")
	}
	return nil
}

func statusName(s geo.Status) string {
	if s == geo.Available {
		return "available"
	}
	return "busy"
}

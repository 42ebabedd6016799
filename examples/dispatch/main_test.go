package main

import (
	"testing"
	"time"
)

// TestSimulate runs a small fleet for a short while, with drivers going
// stale during the run, and expects riders matched and every check held.
func TestSimulate(t *testing.T) {
	c := config{
		drivers: 3000, riders: 4000, dispatchers: 3, run: 600 * time.Millisecond,
		report: 50 * time.Millisecond, trip: 100 * time.Millisecond, offline: 0.05,
		stale: 200 * time.Millisecond, radius: 3000, hotspot: 0.5, seed: 7,
	}
	res, err := simulate(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.check(); err != nil {
		t.Fatal(err)
	}
	if res.matched == 0 || res.released == 0 || res.reports == 0 {
		t.Fatalf("nothing happened: %+v", *res)
	}
	if res.removed < res.offline || res.offline == 0 {
		t.Fatalf("RemoveStale deleted %d, %d drivers stopped reporting", res.removed, res.offline)
	}
	if res.matched+res.unserved+res.dropped != res.requested {
		t.Fatalf("riders: %d matched + %d unserved + %d dropped != %d asked",
			res.matched, res.unserved, res.dropped, res.requested)
	}
}

// TestSimulateGatewayBehind reports each driver less often than
// StaleAfter, as a gateway that has fallen behind does: drivers are
// deleted while they still report, during trips too, and the checks must
// still hold (a gateway that put them back with Upsert could free a
// driver on a trip or give it a second rider).
func TestSimulateGatewayBehind(t *testing.T) {
	c := config{
		drivers: 2000, riders: 3000, dispatchers: 2, run: 500 * time.Millisecond,
		report: 300 * time.Millisecond, trip: 150 * time.Millisecond, offline: 0.02,
		stale: 100 * time.Millisecond, radius: 5000, hotspot: 0.3, seed: 9,
	}
	res, err := simulate(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.check(); err != nil {
		t.Fatal(err)
	}
	if res.lapsed == 0 || res.matched == 0 {
		t.Fatalf("want drivers deleted while reporting and riders matched: %+v", *res)
	}
}

func TestSimulateRefusesBadFlags(t *testing.T) {
	good := config{drivers: 10, riders: 1, dispatchers: 1, run: time.Millisecond, report: time.Second,
		trip: time.Second, offline: 0, stale: time.Second, radius: 1}
	for name, bad := range map[string]func(*config){
		"drivers": func(c *config) { c.drivers = 0 },
		"offline": func(c *config) { c.offline = 1.5 },
		"hotspot": func(c *config) { c.hotspot = -0.1 },
		"radius":  func(c *config) { c.radius = -1 },
		"stale":   func(c *config) { c.stale = 0 },
	} {
		c := good
		bad(&c)
		if _, err := simulate(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
}

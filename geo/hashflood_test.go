package geo

import (
	"testing"
	"time"
)

// floodIDs returns n IDs that the unkeyed multiplicative hash this package
// used to have, id * 0x9e3779b97f4a7c15, maps to 1, 2, ..., n: one home
// slot and one tag for all of them.
func floodIDs(n int) []DriverID {
	const c = 0x9e3779b97f4a7c15
	inv := uint64(c) // Newton's iteration for the inverse mod 2^64
	for range 6 {
		inv *= 2 - c*inv
	}
	ids := make([]DriverID, n)
	for k := range ids {
		ids[k] = DriverID(uint64(k+1) * inv)
	}
	return ids
}

// homesAndTags returns how many different home slots and tags the IDs have in
// x's ID table.
func homesAndTags(x *Index, ids []DriverID) (homes, tags int) {
	tab := &x.st.table
	h, g := map[uint64]bool{}, map[uint32]bool{}
	for _, id := range ids {
		h[tab.home(id)] = true
		g[tab.tag(id)] = true
	}
	return len(h), len(g)
}

// TestIDTableResistsChosenIDs: IDs chosen to collide under a fixed hash,
// all reported at one point (a pile), spread over the keyed table like any
// others, through Upsert and UpsertBatch alike. With the old hash every
// one of them probed from the same slot: 3,000 took seconds.
func TestIDTableResistsChosenIDs(t *testing.T) {
	ids := floodIDs(3000)
	seen := time.UnixMilli(1_700_000_000_000)
	p := LatLng{Lat: 40.7, Lng: -74}
	one := NewIndex(Options{StaleAfter: -1})
	ds := make([]Driver, len(ids))
	for i, id := range ids {
		ds[i] = Driver{ID: id, Pos: p, Seen: seen, Status: Status(i % 2)}
		if err := one.Upsert(ds[i]); err != nil {
			t.Fatal(err)
		}
	}
	batch := NewIndex(Options{StaleAfter: -1})
	if err := batch.UpsertBatch(ds); err != nil {
		t.Fatal(err)
	}
	for name, x := range map[string]*Index{"Upsert": one, "UpsertBatch": batch} {
		checkTree(t, x)
		if x.Len() != len(ids) {
			t.Fatalf("%s: Len %d, want %d", name, x.Len(), len(ids))
		}
		// Keyed, 3,000 IDs fall on about half of a 4,096-slot table's
		// homes and on most of the tags a slot has room for (9 bits);
		// unkeyed, all had one home and one tag.
		tags := 1 << (32 - x.st.table.nbits - hintBits)
		if h, g := homesAndTags(x, ids); h < len(ids)/3 || g < min(len(ids), tags)/3 {
			t.Errorf("%s: the IDs have %d home slots and %d tags", name, h, g)
		}
	}
	// Different indexes key their tables differently.
	if one.st.table.seed == batch.st.table.seed {
		t.Errorf("two indexes share the seed %#x", one.st.table.seed)
	}
}

package snowflake

// SetBeforeAdd makes g call f on Next's fast path, after the check that the
// sequence has room and before the atomic add, so tests can line goroutines
// up there and force adds to carry into later ticks.
func SetBeforeAdd(g *Generator, f func()) { g.beforeAdd = f }

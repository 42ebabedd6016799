package shortid

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// keysSeed returns the seed of a property test: $SEED if set, else the
// clock. It is logged so that a failure can be replayed with SEED=...
func keysSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("SEED=%d", seed)
	return seed
}

// KeysSeed lets the external tests (package shortid_test) share keysSeed.
var KeysSeed = keysSeed
